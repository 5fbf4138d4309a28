import NIOCore

/// Joins two channels into one byte pipe: whatever one side reads, the other writes. A pair is
/// made with ``makePair()``; each half sits at the end of one channel's pipeline. Back-pressure
/// follows writability: a half stops reading while its partner cannot write, so a slow consumer
/// holds at most a channel's high-water mark of buffered bytes, plus what its toxic stage may
/// hold in scheduled writes (``ToxicStage/highWater``).
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// The toxic stage of this half's channel: its scheduled bytes count against writability.
    /// Its callback holds this half unowned (and is cleared when the half leaves the pipeline): a
    /// weak reference would move the handler's reference count to a side table, and every
    /// retain and release on the relay path would take the slow road.
    var stage: ToxicStage? {
        didSet { self.stage?.onRoom = { [unowned self] in self.partner?.partnerBecameWritable() } }
    }

    private init() {}

    /// Two halves that know each other.
    static func makePair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
        self.stage?.onRoom = nil
    }

    // MARK: - Calls from the partner

    private func partnerWrite(_ data: NIOAny) {
        self.context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private func partnerWriteEOF() {
        self.context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        self.context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private var partnerWritable: Bool {
        (self.context?.channel.isWritable ?? false) && (self.stage?.hasRoom ?? true)
    }

    // MARK: - Events on our own channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // Half-close: pass the FIN on.
            self.partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }
}
