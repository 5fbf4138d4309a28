import NIOCore

/// Applies a proxy's toxics to the bytes written into one channel (one direction of a link).
/// It reads the proxy's toxic list on every write, so toxics added or removed on live connections
/// take effect at once; delayed bytes already scheduled are still delivered, in order.
final class ToxicStage: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let stream: Toxic.Stream
    private let toxics: @Sendable () -> [Toxic]
    private var random: SystemRandomNumberGenerator
    /// Per-connection toxicity decisions, by toxic name.
    private var applies: [String: Bool] = [:]
    /// When the last delayed write is due, so later writes never overtake it.
    private var lastDue: NIODeadline = .uptimeNanoseconds(0)
    private var pending = 0

    init(stream: Toxic.Stream, toxics: @escaping @Sendable () -> [Toxic]) {
        self.stream = stream
        self.toxics = toxics
        self.random = SystemRandomNumberGenerator()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let delay = self.latency()
        guard delay > .zero || self.pending > 0 else {
            context.write(data, promise: promise)
            return
        }
        let due = max(NIODeadline.now() + delay, self.lastDue + .nanoseconds(1))
        self.lastDue = due
        self.pending += 1
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let data = NIOLoopBound(data, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: due) {
            let (stage, context) = loopBound.value
            stage.pending -= 1
            context.writeAndFlush(data.value, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        // Delayed writes flush themselves when they go out.
        if self.pending == 0 { context.flush() }
    }

    /// The total delay the active latency toxics ask for on this write.
    private func latency() -> TimeAmount {
        var milliseconds = 0.0
        for toxic in self.toxics() where toxic.stream == self.stream && toxic.type == "latency" {
            guard self.decide(toxic) else { continue }
            let jitter = toxic.attribute("jitter")
            milliseconds +=
                toxic.attribute("latency") + (jitter > 0 ? Double.random(in: -jitter...jitter, using: &self.random) : 0)
        }
        return .nanoseconds(Int64(max(0, milliseconds) * 1_000_000))
    }

    private func decide(_ toxic: Toxic) -> Bool {
        if let known = self.applies[toxic.name] { return known }
        let applies = toxic.toxicity >= 1 || Double.random(in: 0..<1, using: &self.random) < toxic.toxicity
        self.applies[toxic.name] = applies
        return applies
    }
}
