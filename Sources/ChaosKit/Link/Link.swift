import Foundation
import NIOCore
import Prometheus
import Seeded

/// One proxied connection: the client's channel, the upstream's, and the toxics acting on them.
/// Everything here runs on the client channel's event loop (the upstream channel shares it).
final class Link {
    /// Identifies the link in its proxy's list of open connections; never reused.
    let key: Int
    /// The connection number in decisions and the journal; `PUT /seed` renumbers open links.
    var number: Int
    let proxy: Proxy
    let client: any Channel
    /// The client's end of the connection (`127.0.0.1:54321`), as the client itself sees it: the
    /// App logs its database connections under the same name.
    let clientAddress: String
    /// The handlers of the client's channel (bytes to the client) and the upstream's; lazy
    /// because each holds the link itself.
    private(set) lazy var toClient = LinkEnd(stream: .downstream, link: self)
    private(set) lazy var toServer = LinkEnd(stream: .upstream, link: self)
    private var server: (any Channel)?
    private(set) var toxics: [LinkToxic] = []
    /// The faults that apply, by kind (and stream), kept in step with `toxics`; read on every
    /// chunk, request or message.
    private var upstreamFaults: [(LinkToxic, any StreamFault)] = []
    private var downstreamFaults: [(LinkToxic, any StreamFault)] = []
    private(set) var httpFaults: [(LinkToxic, any HTTPFault)] = []
    private(set) var postgresFaults: [(LinkToxic, any PostgresFault)] = []
    private var http: HTTPTracker?
    private var postgres: PostgresTracker?
    private var sniffed = false
    private(set) var dropped = false

    init(key: Int, number: Int, proxy: Proxy, client: any Channel) {
        self.key = key
        self.number = number
        self.proxy = proxy
        self.client = client
        self.clientAddress = Self.describe(client.remoteAddress)
    }

    /// `address:port`, with an IPv6 address in brackets; empty when unknown.
    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "" }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    /// Called once both channels have their ends.
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
                    let timer = existing.faultTimer
                    existing.update(toxic)
                    if existing.faultTimer != timer {
                        existing.timer?.cancel()
                        self.startTimer(existing)
                    }
                }
                next.append(existing)
            } else if let added = LinkToxic(
                toxic,
                seed: self.proxy.environment.seed,
                proxy: self.proxy.name,
                link: self.number
            ) {
                // A connection that gets a toxic counts as a fault injected; one that does not is only journaled.
                if added.applies {
                    self.fault(added, outcome: "applied")
                } else {
                    self.record(added, outcome: "skipped")
                }
                next.append(added)
                self.startTimer(added)
            }
        }
        for old in self.toxics where !next.contains(where: { $0 === old }) { old.timer?.cancel() }
        self.toxics = next
        let active = next.filter(\.applies)
        func stream(_ stream: Toxic.Stream) -> [(LinkToxic, any StreamFault)] {
            active.compactMap { toxic in
                guard toxic.toxic.stream == stream, let fault = toxic.fault as? any StreamFault else { return nil }
                return (toxic, fault)
            }
        }
        self.upstreamFaults = stream(.upstream)
        self.downstreamFaults = stream(.downstream)
        self.httpFaults = active.compactMap { toxic in (toxic.fault as? any HTTPFault).map { (toxic, $0) } }
        self.postgresFaults = active.compactMap { toxic in (toxic.fault as? any PostgresFault).map { (toxic, $0) } }
    }

    /// `timeout` closes and `reset_peer` resets the connection after their time.
    private func startTimer(_ toxic: LinkToxic) {
        guard toxic.applies, let timer = toxic.faultTimer else { return }
        if !timer.reset && timer.milliseconds == 0 { return }  // timeout 0: hold the data, never close
        let delay = TimeAmount.nanoseconds(Int64(timer.milliseconds * 1_000_000))
        toxic.timer = self.client.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.fault(toxic, outcome: timer.reset ? "reset" : "closed")
            self.drop(reset: timer.reset)
        }
    }

    /// How long a close travelling `stream` waits (`slow_close`).
    func slowCloseDelay(for stream: Toxic.Stream) -> TimeAmount {
        let faults = stream == .upstream ? self.upstreamFaults : self.downstreamFaults
        return .milliseconds(fraction: faults.reduce(0) { $0 + $1.1.closeDelay })
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

    /// Runs `stream`'s faults over the bytes, in the order the toxics were added, and hands the
    /// pieces to the end that writes them; `delay` comes first (HTTP).
    func deliver(_ buffer: ByteBuffer, stream: Toxic.Stream, delay: TimeAmount = .zero) {
        guard !self.dropped, buffer.readableBytes > 0 else { return }
        let end = stream == .upstream ? self.toServer : self.toClient
        let faults = stream == .upstream ? self.upstreamFaults : self.downstreamFaults
        if faults.isEmpty && delay == .zero { return end.emit(buffer, due: nil) }

        var pieces = [StreamPiece(bytes: buffer, due: .now() + delay)]
        var closing: LinkToxic?
        for (toxic, fault) in faults where !pieces.isEmpty {
            if fault.shape(&pieces, on: toxic) { closing = toxic }
        }
        for piece in pieces { end.emit(piece.bytes, due: piece.due) }
        if let closing {
            self.fault(closing, outcome: "closed after \(closing.count) bytes")
            end.whenDrained { self.drop(reset: false) }
        }
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

    /// Journals a decision (`GET /events`).
    func record(_ toxic: LinkToxic, request: Int = 0, outcome: String) {
        self.proxy.environment.journal.record(
            proxy: self.proxy.name,
            toxic: toxic.toxic,
            connection: self.number,
            client: self.clientAddress,
            request: request,
            outcome: outcome
        )
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
            path: [self.proxy.name, toxic.toxic.name, String(self.number), String(request)]
        )
        return random.unit() < probability
    }
}
