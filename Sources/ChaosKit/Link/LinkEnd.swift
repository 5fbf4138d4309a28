import NIOCore

/// The one handler in each of a link's two channels (the client's and the upstream's). What its
/// channel reads goes to the link, which runs the toxics and hands the bytes to the other end;
/// what the link hands this end is written into its channel in order, each piece no earlier than
/// the time it was given. Closes that reach an end (the other side went away, or the link drops)
/// wait until its delayed bytes are out, plus any `slow_close`.
///
/// Back-pressure: an end stops reading while the other end cannot take more, because its socket
/// is not writable or its scheduled writes passed `highWater`. So a slow consumer holds at most
/// a channel's high-water mark of buffered bytes, plus `highWater` in scheduled writes.
final class LinkEnd: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The direction of the bytes written into this end's channel.
    let stream: Toxic.Stream
    /// Strong, so the link lives as long as either of its channels; released when this handler
    /// leaves the pipeline (the channel closed), which breaks the link → end → link cycle.
    private var link: Link?
    /// The other end; strong both ways, and cleared when this handler leaves the pipeline.
    private var other: LinkEnd?
    private var context: ChannelHandlerContext?
    /// A read the channel asked for while the other end had no room; made once it has.
    private var pendingRead = false
    /// When the last delayed write is due, so later writes never overtake it.
    private var lastDue: NIODeadline = .uptimeNanoseconds(0)
    private var pending = 0
    private var closeWhenDrained: (() -> Void)?
    /// Bytes waiting in scheduled writes. Above `highWater` the other end stops reading (as it
    /// does when this socket is not writable), so a slow toxic cannot buffer without bound.
    private var pendingBytes = 0
    static let highWater = 256 * 1024
    static let lowWater = 64 * 1024

    init(stream: Toxic.Stream, link: Link) {
        self.stream = stream
        self.link = link
    }

    /// Makes `first` and `second` each other's other end.
    static func join(_ first: LinkEnd, _ second: LinkEnd) {
        first.other = second
        second.other = first
    }

    /// Whether this end can take more bytes: its socket is writable and its scheduled writes
    /// are under `highWater`.
    private var hasRoom: Bool {
        (self.context?.channel.isWritable ?? false) && self.pendingBytes < Self.highWater
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.link = nil
        self.other = nil
    }

    // MARK: - Events on this end's channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let other = self.other else { return }
        self.link?.process(self.unwrapInboundIn(data), stream: other.stream)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Flushes what went out at once; delayed writes flush themselves when they go out.
        self.other?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.other?.close(mode: .all, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // Half-close: pass the FIN on.
            self.other?.close(mode: .output, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.close(mode: .all, promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.other?.resumeReading() }
    }

    func read(context: ChannelHandlerContext) {
        if self.other?.hasRoom ?? false {
            context.read()
        } else {
            self.pendingRead = true
        }
    }

    /// A close of this channel, whoever asked (the link, the other end, the proxy).
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.close(mode: mode, promise: promise)
    }

    /// The other end has room again: the read held back, if any, is made.
    private func resumeReading() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    /// Closes once the bytes handed over so far are out, plus this direction's `slow_close`.
    private func close(mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard let context = self.context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let delay = self.link?.slowCloseDelay(for: self.stream) ?? .zero
        self.whenDrained(after: delay) { context.close(mode: mode, promise: promise) }
    }

    // MARK: - From the link

    /// Writes `buffer` no earlier than `due` (nil: now) and after everything handed over before.
    func emit(_ buffer: ByteBuffer, due: NIODeadline?, flush: Bool = false) {
        guard let context = self.context, buffer.readableBytes > 0 else { return }
        // Nothing scheduled ahead of it and due already (the clock is read only for a due time).
        if self.pending == 0, due.map({ $0 <= .now() }) ?? true {
            context.write(self.wrapOutboundOut(buffer), promise: nil)
            if flush { context.flush() }
            return
        }
        let at = max(due ?? .now(), self.lastDue + .nanoseconds(1))
        self.lastDue = at
        self.pending += 1
        self.pendingBytes += buffer.readableBytes
        let bound = NIOLoopBound((self, context, buffer), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: at) {
            let (end, context, buffer) = bound.value
            end.pending -= 1
            end.pendingBytes -= buffer.readableBytes
            context.writeAndFlush(end.wrapOutboundOut(buffer), promise: nil)
            // Under the low mark, a read held back for room is made (a no-op when none was). Not
            // only on the write that crosses from full: that write is rarely the one that
            // crosses the low mark, and reading then never started again.
            if end.pendingBytes < Self.lowWater { end.other?.resumeReading() }
            if end.pending == 0, let close = end.closeWhenDrained {
                end.closeWhenDrained = nil
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
