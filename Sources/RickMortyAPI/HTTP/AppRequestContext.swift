import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the channel, so the rate limiter
/// can tell clients apart by address.
struct AppRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// The client's IP address, or `unknown`.
    var clientAddress: String {
        self.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
