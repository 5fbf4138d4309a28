import HTTPTypes
import Hummingbird
import NIOCore

/// Reads a `ResponseBody` into a string, as a client would receive it.
enum ResponseCollector {
    private final class Sink: @unchecked Sendable {
        var buffer = ByteBuffer()
    }

    private struct Writer: ResponseBodyWriter {
        let sink: Sink
        mutating func write(_ buffer: ByteBuffer) async throws {
            var buffer = buffer
            self.sink.buffer.writeBuffer(&buffer)
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    static func text(_ body: ResponseBody) async throws -> String {
        let sink = Sink()
        try await body.write(Writer(sink: sink))
        return String(buffer: sink.buffer)
    }
}
