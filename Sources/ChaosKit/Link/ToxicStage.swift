import NIOCore

/// Sits in one channel's pipeline, under the glue, and owns what is written into that channel:
/// the link hands it bytes with a time they may go out, and it keeps them in order. Closes that
/// reach it (the other side went away) wait until delayed bytes are out, plus any `slow_close`.
final class ToxicStage: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The direction of the bytes written into this channel.
    let stream: Toxic.Stream
    /// Strong, so the link lives as long as either of its channels; released when this handler
    /// leaves the pipeline (the channel closed), which breaks the link → stage → link cycle.
    private var link: Link?
    private var context: ChannelHandlerContext?
    /// When the last delayed write is due, so later writes never overtake it.
    private var lastDue: NIODeadline = .uptimeNanoseconds(0)
    private var pending = 0
    private var closeWhenDrained: (() -> Void)?
    /// Bytes waiting in scheduled writes. Above `highWater` the glue stops reading the other side
    /// (as it does when the socket is not writable), so a slow toxic cannot buffer without bound.
    private var pendingBytes = 0
    static let highWater = 256 * 1024
    static let lowWater = 64 * 1024
    /// Called when scheduled bytes fall back under `lowWater`.
    var onRoom: (() -> Void)?

    var hasRoom: Bool { self.pendingBytes < Self.highWater }

    init(stream: Toxic.Stream, link: Link) {
        self.stream = stream
        self.link = link
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.link = nil
    }

    // MARK: - From the glue (bytes read on the other side)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.link?.process(self.unwrapOutboundIn(data), stream: self.stream)
        promise?.succeed()
    }

    func flush(context: ChannelHandlerContext) {
        // Flushes what went out at once; delayed writes flush themselves when they go out.
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        let delay = self.link?.slowCloseDelay(for: self.stream) ?? .zero
        self.whenDrained(after: delay) { context.close(mode: mode, promise: promise) }
    }

    // MARK: - From the link

    /// Writes `buffer` no earlier than `due` (nil: now) and after everything handed over before.
    func emit(_ buffer: ByteBuffer, due: NIODeadline?, flush: Bool = false) {
        guard let context = self.context, buffer.readableBytes > 0 else { return }
        if self.pending == 0 && due == nil {
            context.write(self.wrapOutboundOut(buffer), promise: nil)
            if flush { context.flush() }
            return
        }
        let now = NIODeadline.now()
        if self.pending == 0, due.map({ $0 <= now }) ?? true {
            if flush {
                context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
            } else {
                context.write(self.wrapOutboundOut(buffer), promise: nil)
            }
            return
        }
        let at = max(due ?? now, self.lastDue + .nanoseconds(1))
        self.lastDue = at
        self.pending += 1
        self.pendingBytes += buffer.readableBytes
        let bound = NIOLoopBound((self, context, buffer), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: at) {
            let (stage, context, buffer) = bound.value
            stage.pending -= 1
            let wasFull = !stage.hasRoom
            stage.pendingBytes -= buffer.readableBytes
            context.writeAndFlush(stage.wrapOutboundOut(buffer), promise: nil)
            if wasFull && stage.pendingBytes < Self.lowWater { stage.onRoom?() }
            if stage.pending == 0, let close = stage.closeWhenDrained {
                stage.closeWhenDrained = nil
                close()
            }
        }
    }

    /// Runs `action` once every byte handed over so far has reached the socket, plus `delay`.
    func whenDrained(after delay: TimeAmount = .zero, _ action: @escaping () -> Void) {
        guard let context = self.context else { return action() }
        guard self.pending == 0 else {
            let previous = self.closeWhenDrained
            self.closeWhenDrained = {
                previous?()
                self.whenDrained(after: delay, action)
            }
            return
        }
        // An empty write completes after every write queued before it.
        let loop = context.eventLoop
        let bound = NIOLoopBound(action, eventLoop: loop)
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).whenComplete { _ in
            if delay > .zero {
                loop.scheduleTask(in: delay) { bound.value() }
            } else {
                bound.value()
            }
        }
    }
}
