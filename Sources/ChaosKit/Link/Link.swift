import Foundation
import NIOCore
import Prometheus
import Seeded

/// One proxied connection: the client's channel, the upstream's, and the toxics acting on them.
/// Everything here runs on the client channel's event loop (the upstream channel shares it).
final class Link {
    let id: Int
    let proxy: Proxy
    let client: any Channel
    private(set) var toClient: ToxicStage!
    private(set) var toServer: ToxicStage!
    private var server: (any Channel)?
    private(set) var toxics: [LinkToxic] = []
    /// The toxics that apply, by stream, kept in step with `toxics` (read on every chunk).
    private var activeUpstream: [LinkToxic] = []
    private var activeDownstream: [LinkToxic] = []
    /// The HTTP toxics that apply (read on every request).
    private(set) var httpToxics: [LinkToxic] = []
    private var http: HTTPTracker?
    private var postgres: PostgresTracker?
    private var sniffed = false
    private(set) var dropped = false

    init(id: Int, proxy: Proxy, client: any Channel) {
        self.id = id
        self.proxy = proxy
        self.client = client
        self.toClient = ToxicStage(stream: .downstream, link: self)
        self.toServer = ToxicStage(stream: .upstream, link: self)
    }

    /// Called once the upstream connection is glued in.
    func connected(to server: any Channel) {
        self.server = server
        self.refresh()
    }

    // MARK: - Toxics

    /// Brings the link's toxics in line with the proxy's list: new toxics are decided (toxicity)
    /// and their timers started, removed ones stop, changed ones keep their per-connection state.
    func refresh() {
        guard !self.dropped else { return }
        let latest = self.proxy.toxics
        var next: [LinkToxic] = []
        for toxic in latest {
            if let existing = self.toxics.first(where: { $0.toxic.name == toxic.name }) {
                if existing.toxic != toxic {
                    let timing = existing.effect.timer != ToxicEffect(toxic).timer
                    existing.update(toxic)
                    if timing {
                        existing.timer?.cancel()
                        self.startTimer(existing)
                    }
                }
                next.append(existing)
            } else {
                let added = LinkToxic(toxic, seed: self.proxy.environment.seed, proxy: self.proxy.name, link: self.id)
                self.record(added, outcome: added.applies ? "applied" : "skipped")
                next.append(added)
                self.startTimer(added)
            }
        }
        for old in self.toxics where !next.contains(where: { $0 === old }) { old.timer?.cancel() }
        self.toxics = next
        self.activeUpstream = next.filter { $0.applies && $0.toxic.stream == .upstream }
        self.activeDownstream = next.filter { $0.applies && $0.toxic.stream == .downstream }
        self.httpToxics = next.filter { $0.applies && $0.effect.isHTTP }
    }

    /// `timeout` closes and `reset_peer` resets the connection after their time.
    private func startTimer(_ toxic: LinkToxic) {
        guard toxic.applies, let timer = toxic.effect.timer else { return }
        if !timer.reset && timer.milliseconds == 0 { return }  // timeout 0: hold the data, never close
        let delay = TimeAmount.nanoseconds(Int64(timer.milliseconds * 1_000_000))
        toxic.timer = self.client.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.fault(toxic, outcome: timer.reset ? "reset" : "closed")
            self.drop(reset: timer.reset)
        }
    }

    /// The active toxics of one kind on one stream, in the order they were added.
    private func active(_ stream: Toxic.Stream) -> [LinkToxic] {
        stream == .upstream ? self.activeUpstream : self.activeDownstream
    }

    func slowCloseDelay(for stream: Toxic.Stream) -> TimeAmount {
        var milliseconds = 0.0
        for toxic in self.active(stream) {
            if case .slowClose(let delay) = toxic.effect { milliseconds += delay }
        }
        return .nanoseconds(Int64(milliseconds * 1_000_000))
    }

    // MARK: - Bytes

    /// Bytes read on one side, to be written to the other: protocol-aware toxics first (they
    /// may hold, drop or answer them), then the byte toxics of `stream`.
    func process(_ buffer: ByteBuffer, stream: Toxic.Stream) {
        guard !self.dropped else { return }
        if stream == .upstream {
            self.proxy.series.upstreamBytes.increment(by: Int64(buffer.readableBytes))
            if !self.sniffed { self.sniff(buffer) }
            if let http { return http.fromClient(buffer) }
            if let postgres { return postgres.fromClient(buffer) }
        } else {
            self.proxy.series.downstreamBytes.increment(by: Int64(buffer.readableBytes))
            if let http { return http.fromServer(buffer) }
            if let postgres { return postgres.fromServer(buffer) }
        }
        self.deliver(buffer, stream: stream)
    }

    /// The first bytes a client sends say what it speaks: an HTTP request line or a PostgreSQL
    /// startup packet. Anything else is relayed as plain bytes.
    private func sniff(_ buffer: ByteBuffer) {
        self.sniffed = true
        if HTTPTracker.looksLikeRequest(buffer) {
            self.http = HTTPTracker(link: self)
        } else if PostgresTracker.looksLikeStartup(buffer) {
            self.postgres = PostgresTracker(link: self)
        }
    }

    /// Applies `stream`'s byte toxics (timeout, limit_data, slicer, bandwidth, latency, in that
    /// order) and hands the result to the stage that writes it; `delay` comes on top (HTTP).
    func deliver(_ buffer: ByteBuffer, stream: Toxic.Stream, delay: TimeAmount = .zero) {
        guard !self.dropped, buffer.readableBytes > 0 else { return }
        let stage: ToxicStage = stream == .upstream ? self.toServer : self.toClient
        let toxics = self.active(stream)
        if toxics.isEmpty && delay == .zero { return stage.emit(buffer, due: nil) }

        var buffer = buffer
        var closeAfter: LinkToxic?
        for toxic in toxics {
            switch toxic.effect {
            case .timeout:
                return  // data is held (dropped) until the toxic goes or its timer closes the link
            case .limitData(let limit):
                let allowed = max(0, limit - toxic.count)
                if buffer.readableBytes >= allowed {
                    buffer = buffer.getSlice(at: buffer.readerIndex, length: allowed) ?? ByteBuffer()
                    closeAfter = toxic
                }
                toxic.count += buffer.readableBytes
            default:
                break
            }
        }

        let now = NIODeadline.now()
        var pieces: [(ByteBuffer, NIODeadline)] = [(buffer, now + delay)]
        for toxic in toxics {
            switch toxic.effect {
            case .slicer(let average, let variation, let delayMicroseconds) where average > 0:
                pieces = pieces.flatMap { piece in
                    toxic.slice(piece.0, average: average, variation: variation).enumerated().map { index, slice in
                        (slice, piece.1 + .nanoseconds(Int64(Double(index) * delayMicroseconds * 1000)))
                    }
                }
            case .bandwidth(let rate) where rate > 0:
                // Paced in pieces of 100 ms worth of bytes (rate is KB/s = bytes per millisecond).
                let step = max(1, Int(rate * 100))
                pieces = pieces.flatMap { piece in
                    Self.split(piece.0, every: step).map { slice in
                        let start = max(piece.1, toxic.pacedUntil)
                        toxic.pacedUntil = start + .nanoseconds(Int64(Double(slice.readableBytes) / rate * 1_000_000))
                        return (slice, toxic.pacedUntil)
                    }
                }
            case .latency(let milliseconds, let jitter):
                let extra = milliseconds + (jitter > 0 ? (toxic.random.unit() * 2 - 1) * jitter : 0)
                let shift = TimeAmount.nanoseconds(Int64(max(0, extra) * 1_000_000))
                pieces = pieces.map { ($0.0, $0.1 + shift) }
            default:
                break
            }
        }
        for (piece, due) in pieces { stage.emit(piece, due: due) }
        if let closeAfter {
            self.fault(closeAfter, outcome: "closed after \(closeAfter.count) bytes")
            stage.whenDrained { self.drop(reset: false) }
        }
    }

    private static func split(_ buffer: ByteBuffer, every size: Int) -> [ByteBuffer] {
        var buffer = buffer
        var pieces: [ByteBuffer] = []
        while buffer.readableBytes > size, let piece = buffer.readSlice(length: size) { pieces.append(piece) }
        pieces.append(buffer)
        return pieces
    }

    /// Writes bytes of the proxy's own making to the client (an HTTP answer, an ErrorResponse).
    func inject(_ buffer: ByteBuffer) {
        guard !self.dropped else { return }
        self.toClient.emit(buffer, due: nil, flush: true)
    }

    // MARK: - Ending

    /// Closes both sides once the bytes already handed to the client are out; with `reset`, the
    /// client gets a TCP RST (SO_LINGER 0) instead of a FIN.
    func drop(reset: Bool, immediately: Bool = false) {
        guard !self.dropped else { return }
        self.dropped = true
        for toxic in self.toxics { toxic.timer?.cancel() }
        let end = {
            if reset, let socket = self.client as? any SocketOptionProvider {
                _ = socket.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            }
            self.client.close(promise: nil)
            self.server?.close(promise: nil)
        }
        if immediately { end() } else { self.toClient.whenDrained(end) }
    }

    // MARK: - Journal and metrics

    func record(_ toxic: LinkToxic, request: Int = 0, outcome: String) {
        self.proxy.environment.journal.record(
            proxy: self.proxy.name,
            toxic: toxic.toxic,
            connection: self.id,
            request: request,
            outcome: outcome
        )
        if outcome == "applied" {
            self.proxy.environment.metrics.fault(
                proxy: self.proxy.name,
                toxic: toxic.toxic.name,
                kind: toxic.toxic.type
            )
        }
    }

    /// Records a fault injected (journal and `chaos_faults_injected_total`).
    func fault(_ toxic: LinkToxic, request: Int = 0, outcome: String) {
        self.record(toxic, request: request, outcome: outcome)
        self.proxy.environment.metrics.fault(proxy: self.proxy.name, toxic: toxic.toxic.name, kind: toxic.toxic.type)
    }

    /// A per-request decision: does `toxic` pick request number `request` of this connection?
    func picks(_ toxic: LinkToxic, request: Int, probability: Double) -> Bool {
        guard probability < 1 else { return true }
        var random = SplitMix64(
            seed: self.proxy.environment.seed,
            path: [self.proxy.name, toxic.toxic.name, String(self.id), String(request)]
        )
        return random.unit() < probability
    }
}

/// One toxic as one connection sees it: whether it applies (toxicity), its random stream and
/// its per-connection counters.
final class LinkToxic {
    private(set) var toxic: Toxic
    private(set) var effect: ToxicEffect
    /// The connection's draw for toxicity; the toxic applies while it is below `toxicity`.
    private let roll: Double
    var random: SplitMix64
    var timer: Scheduled<Void>?
    /// limit_data: bytes let through; pg_drop_after_rows: rows seen.
    var count = 0
    /// bandwidth: when the bytes already paced will have gone out.
    var pacedUntil = NIODeadline.uptimeNanoseconds(0)

    init(_ toxic: Toxic, seed: UInt64, proxy: String, link: Int) {
        self.toxic = toxic
        self.effect = ToxicEffect(toxic)
        self.random = SplitMix64(seed: seed, path: [proxy, toxic.name, String(link)])
        self.roll = self.random.unit()
    }

    var applies: Bool { self.toxic.toxicity >= 1 || self.roll < self.toxic.toxicity }

    func update(_ toxic: Toxic) {
        self.toxic = toxic
        self.effect = ToxicEffect(toxic)
    }

    /// Cuts `buffer` into pieces of `average ± variation` bytes.
    func slice(_ buffer: ByteBuffer, average: Int, variation: Int) -> [ByteBuffer] {
        var buffer = buffer
        var pieces: [ByteBuffer] = []
        while buffer.readableBytes > 0 {
            let size = max(
                1,
                average + (variation > 0 ? Int(self.random.next() % UInt64(2 * variation + 1)) - variation : 0)
            )
            pieces.append(buffer.readSlice(length: min(size, buffer.readableBytes)) ?? ByteBuffer())
        }
        return pieces
    }
}

extension ToxicEffect {
    struct Timer: Equatable {
        var milliseconds: Double
        /// RST (`reset_peer`) rather than close (`timeout`).
        var reset: Bool
    }

    /// The timer a toxic starts on each connection it applies to.
    var timer: Timer? {
        switch self {
        case .timeout(let milliseconds): return Timer(milliseconds: milliseconds, reset: false)
        case .resetPeer(let milliseconds): return Timer(milliseconds: milliseconds, reset: true)
        default: return nil
        }
    }
}
