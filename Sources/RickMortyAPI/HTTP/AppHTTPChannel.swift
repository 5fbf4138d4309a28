import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// The App's HTTP/1.1 connections: Hummingbird's, with ``CharactersHandler`` in front of the
/// async responder.
///
/// The pipeline is the one `HTTP1Channel` builds, with two differences: NIO's
/// `HTTPServerPipelineHandler` is on (one request at a time reaches the handlers behind it, which
/// keeps responses in order when this handler answers some and Hummingbird others, and it closes
/// a connection after its current response on graceful shutdown), and the handler sits between
/// it and the conversion to HTTPTypes, so the requests it answers are never converted.
struct AppHTTPChannel: ServerChildChannel {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let hummingbird: HTTP1Channel
    let lane: CharactersHandler.Lane

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: true,
                withErrorHandling: false,  // Hummingbird answers parse errors itself
                withOutboundHeaderValidation: false  // HTTPTypes and this handler write valid fields
            )
            try pipeline.addHandler(CharactersHandler(lane: self.lane))
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            return try NIOAsyncChannel(
                wrappingChannelSynchronously: channel,
                configuration: .init(isOutboundHalfClosureEnabled: true)
            )
        }
    }

    func handle(value: Value, logger: Logger) async {
        await self.hummingbird.handle(value: value, logger: logger)
    }
}
