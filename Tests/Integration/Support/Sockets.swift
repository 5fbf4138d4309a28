import Foundation
import NIOCore
import NIOPosix
import Synchronization
import SystemSupport
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client for measuring what a client of the proxy sees: bytes, timing, and how
/// the connection ended (FIN, RST or still open).
final class TCPProbe: Sendable {
    private let fd: Int32

    enum End: Equatable {
        /// The peer closed cleanly (read returned 0).
        case eof
        /// The connection was reset (ECONNRESET).
        case reset
        /// Nothing more arrived within the wait; the connection is still open.
        case open
    }

    init(port: Int) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.fd >= 0 else { throw HarnessError("socket() failed") }
        let connected = LocalPorts.withAddress(LocalPorts.address(port)) { connect(self.fd, $0, $1) }
        guard connected == 0 else {
            close(self.fd)
            throw HarnessError("connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
    }

    deinit { close(self.fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw HarnessError("send failed: errno \(errno)") }
            offset += sent
        }
    }

    func send(_ text: String) throws { try self.send(Array(text.utf8)) }

    /// No more bytes from us (FIN), the connection stays open for reading.
    func shutdownWrite() { shutdown(self.fd, Int32(SHUT_WR)) }

    /// Reads until `count` bytes arrived, the peer closed or reset, or `wait` passed without a
    /// byte. Returns the bytes, how it ended, and when each read returned (since the call).
    func receive(
        upTo count: Int = .max,
        wait: Duration = .seconds(5)
    ) -> (bytes: [UInt8], end: End, reads: [Duration]) {
        let started = ContinuousClock.now
        var bytes: [UInt8] = []
        var reads: [Duration] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < count {
            var poller = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000
            )
            guard poll(&poller, 1, milliseconds) > 0 else { return (bytes, .open, reads) }
            let read = buffer.withUnsafeMutableBytes {
                recv(self.fd, $0.baseAddress, min($0.count, count - bytes.count), 0)
            }
            if read == 0 { return (bytes, .eof, reads) }
            if read < 0 { return (bytes, errno == ECONNRESET ? .reset : .eof, reads) }
            bytes.append(contentsOf: buffer[0..<read])
            reads.append(ContinuousClock.now - started)
        }
        return (bytes, .open, reads)
    }
}

/// A TCP server on a free loopback port that echoes what it reads and closes when the client
/// half-closes; stopped with `stop()`.
final class EchoServer: Sendable {
    let port: Int
    private let channel: any Channel

    init() async throws {
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.port = self.channel.localAddress?.port ?? 0
    }

    func stop() async {
        try? await self.channel.close()
    }

    private final class Echo: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(data, promise: nil)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .some(.inputClosed) = event as? ChannelEvent { context.close(promise: nil) }
        }
    }
}

/// Threads that connect to 127.0.0.1:`port` in a loop, each keeping its last `keep` connections
/// open (older ones close), until `stop()`; refused connections are counted and skipped.
final class Connectors: Sendable {
    private let held = Mutex<[TCPProbe]>([])
    private let count = Atomic<Int>(0)
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Int>(0)
    private let threads: Int

    init(threads: Int, keep: Int, port: Int) {
        self.threads = threads
        for _ in 0..<threads {
            Thread {
                var mine: [TCPProbe] = []
                while self.running.load(ordering: .relaxed) {
                    guard let probe = try? TCPProbe(port: port) else { continue }
                    self.count.add(1, ordering: .relaxed)
                    mine.append(probe)
                    if mine.count > keep { mine.removeFirst() }
                }
                self.held.withLock { $0 += mine }
                self.finished.add(1, ordering: .releasing)
            }.start()
        }
    }

    /// Connections made so far.
    var opened: Int { self.count.load(ordering: .relaxed) }

    /// Stops the threads and returns the connections they still hold.
    func stop() async -> [TCPProbe] {
        self.running.store(false, ordering: .relaxed)
        _ = await eventually { self.finished.load(ordering: .acquiring) == self.threads }
        return self.held.withLock { $0 }
    }
}

/// A TCP server on a free loopback port that sends each client `total` bytes of a known
/// pattern (``pattern(_:)``) as fast as the client, or a proxy in between, takes them, and counts
/// the bytes its socket has accepted: what a proxy pulls from its upstream.
final class SourceServer: Sendable {
    let port: Int
    let total: Int
    private let channel: any Channel
    private let counter: Counter

    init(total: Int) async throws {
        let counter = Counter()
        self.total = total
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Pump(total: total, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.port = self.channel.localAddress?.port ?? 0
        self.counter = counter
    }

    /// Bytes the socket has taken so far, over all clients.
    var sent: Int { self.counter.value.load(ordering: .relaxed) }

    /// The first `count` bytes every client gets: 0, 1, … 250, 0, 1, … (251 is prime, so no
    /// power-of-two chunking lines up with it).
    static func pattern(_ count: Int) -> [UInt8] {
        let cycle = (0..<251).map { UInt8($0) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 251)
        while bytes.count < count { bytes.append(contentsOf: cycle) }
        return Array(bytes.prefix(count))
    }

    func stop() async {
        try? await self.channel.close()
    }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Writes while the channel is writable, 64 KiB at a time, and goes on when it is again.
    private final class Pump: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        /// Any 64 KiB of the pattern is a slice of this, starting at the offset modulo 251.
        private static let chunks = SourceServer.pattern(65536 + 251)
        private let total: Int
        private let counter: Counter
        private var offset = 0

        init(total: Int, counter: Counter) {
            self.total = total
            self.counter = counter
        }

        func channelActive(context: ChannelHandlerContext) {
            self.pump(context: context)
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            self.pump(context: context)
        }

        private func pump(context: ChannelHandlerContext) {
            let counter = self.counter
            while context.channel.isWritable && self.offset < self.total {
                let size = min(65536, self.total - self.offset)
                let start = self.offset % 251
                let buffer = context.channel.allocator.buffer(bytes: Self.chunks[start..<start + size])
                self.offset += size
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenSuccess { counter.value.add(size, ordering: .relaxed) }
                context.writeAndFlush(self.wrapOutboundOut(buffer), promise: written)
            }
        }
    }
}
