import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Native
import Synchronization
import Testing

@testable import RickMortyAPI

/// A ``CharacterStore`` whose page reads wait until the test answers them.
final class HeldCharacterStore: CharacterStore {
    private let reads = Mutex<[EventLoopPromise<PageSnapshot>]>([])

    var waiting: Int { self.reads.withLock { $0.count } }

    /// Answers the oldest waiting read.
    func answer(with result: Result<PageSnapshot, any Error>) {
        let read = self.reads.withLock { $0.removeFirst() }
        read.completeWith(result)
    }

    func page(
        _ query: CharacterQuery,
        on eventLoop: any EventLoop,
        noting use: DatabaseUse?
    ) -> EventLoopFuture<PageSnapshot> {
        let promise = eventLoop.makePromise(of: PageSnapshot.self)
        self.reads.withLock { $0.append(promise) }
        return promise.futureResult
    }
    func migrate() async throws {}
    func state() async throws -> DataState { DataState(count: 0, generation: 0, lastRefresh: nil) }
    func refresh(
        isDue: @escaping @Sendable (DataState) -> Bool,
        fetch: @escaping @Sendable () async throws -> [StoredCharacter],
        now: @escaping @Sendable () -> Double
    ) async throws -> RefreshOutcome { .skippedLocked }
    func close() async {}
}

/// Records what reaches the handler behind ``CharactersHandler`` (Hummingbird's side).
final class PassedOnRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    private let heads = Mutex<[String]>([])
    var uris: [String] { self.heads.withLock { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = Self.unwrapInboundIn(data) { self.heads.withLock { $0.append(head.uri) } }
    }
}

@Suite("/characters on the event loop (CharactersHandler)")
struct CharactersHandlerTests {
    static let snapshot = PageSnapshot(totalCount: 1, generation: 3, rows: [.rick])

    struct Fixture {
        let channel = EmbeddedChannel()
        let store = HeldCharacterStore()
        let recorder = PassedOnRecorder()
        let metrics = AppMetrics()

        init(migrated: Bool = true) throws {
            let monitor = HealthMonitor()
            if migrated { monitor.markMigrated() }
            let cache = PageCache(capacity: 8, ttl: .seconds(30), clock: ContinuousClock())
            let lane = CharactersHandler.Lane(
                endpoint: CharactersEndpoint(store: self.store, cache: cache, metrics: self.metrics, monitor: monitor),
                metrics: self.metrics,
                problems: ProblemRenderer(retryAfterSeconds: 5),
                rateLimiter: nil,
                logger: quietLogger
            )
            // As AppHTTPChannel builds it, without the byte-level codec: parts in, parts out.
            try self.channel.pipeline.syncOperations.addHandler(HTTPServerPipelineHandler())
            try self.channel.pipeline.syncOperations.addHandler(CharactersHandler(lane: lane))
            try self.channel.pipeline.syncOperations.addHandler(self.recorder)
        }

        func send(_ uri: String, headers: HTTPHeaders = [:]) throws {
            try self.send(.GET, uri, headers: headers)
        }

        func send(_ method: HTTPMethod, _ uri: String, headers: HTTPHeaders = [:]) throws {
            try self.channel.writeInbound(
                HTTPServerRequestPart.head(
                    HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
                )
            )
            try self.channel.writeInbound(HTTPServerRequestPart.end(nil))
        }

        /// The next response written, with its body (nil when it had none); nil if none is complete.
        func response() throws -> (head: HTTPResponseHead, body: String?)? {
            guard case .head(let head) = try self.channel.readOutbound(as: HTTPServerResponsePart.self) else {
                return nil
            }
            var body: String?
            while let part = try self.channel.readOutbound(as: HTTPServerResponsePart.self) {
                switch part {
                case .body(.byteBuffer(let buffer)): body = (body ?? "") + String(buffer: buffer)
                case .end: return (head, body)
                default: Issue.record("unexpected part \(part)")
                }
            }
            Issue.record("the response did not end")
            return nil
        }

        func sample(_ prefix: String) -> String? {
            String(decoding: self.metrics.exposition(), as: UTF8.self).split(separator: "\n")
                .first { $0.hasPrefix(prefix) }.map(String.init)
        }
    }

    @Test("a miss is read once and answered when the store answers; the same page is then answered at once")
    func missThenHit() throws {
        let fixture = try Fixture()
        try fixture.send("/characters?page=1", headers: ["X-Request-ID": "req-1"])
        #expect(try fixture.response() == nil, "nothing before the database answers")
        #expect(fixture.store.waiting == 1)
        fixture.store.answer(with: .success(Self.snapshot))
        let miss = try #require(try fixture.response())
        #expect(miss.head.status == .ok)
        #expect(miss.head.headers["X-Request-ID"] == ["req-1"])
        #expect(miss.head.headers["Cache-Control"] == ["public, max-age=30"])
        #expect(miss.head.headers["Content-Type"] == ["application/json"])
        #expect(miss.head.headers["Content-Length"] == [String(miss.body?.utf8.count ?? -1)])
        #expect(miss.head.headers["Date"].first?.hasSuffix(" GMT") == true)
        #expect(miss.body?.contains(#""name":"Rick""#) == true)

        try fixture.send("/characters?page=1")
        let hit = try #require(try fixture.response(), "answered within the read, from the cache")
        #expect(hit.body == miss.body)
        #expect(hit.head.headers["ETag"] == miss.head.headers["ETag"])
        #expect(hit.head.headers["X-Request-ID"].first?.count == 32, "a generated id")
        #expect(fixture.store.waiting == 0)
        #expect(fixture.recorder.uris.isEmpty, "Hummingbird saw neither")
        #expect(fixture.sample(#"page_cache_hits_total{path="/characters"}"#)?.hasSuffix(" 1") == true)
        #expect(
            fixture.sample(#"http_requests_total{path="/characters",method="GET",status="200"}"#)?.hasSuffix(" 2")
                == true
        )
    }

    @Test("HEAD has the GET's headers and no body; If-None-Match with the ETag is a 304 without a body")
    func headAndNotModified() throws {
        let fixture = try Fixture()
        try fixture.send("/characters")
        fixture.store.answer(with: .success(Self.snapshot))
        let get = try #require(try fixture.response())
        let etag = try #require(get.head.headers["ETag"].first)

        try fixture.send(.HEAD, "/characters")
        let head = try #require(try fixture.response())
        #expect(head.head.status == .ok && head.body == nil)
        #expect(head.head.headers["Content-Length"] == get.head.headers["Content-Length"])

        try fixture.send("/characters", headers: ["If-None-Match": "\"other\", W/\(etag)"])
        let notModified = try #require(try fixture.response())
        #expect(notModified.head.status == .notModified && notModified.body == nil)
        #expect(notModified.head.headers["ETag"] == [etag])
        #expect(notModified.head.headers["Content-Length"].isEmpty)
    }

    @Test("bad parameters, a database that went away and one not migrated yet are problem documents")
    func problems() throws {
        let fixture = try Fixture()
        try fixture.send("/characters?page=0")
        let invalid = try #require(try fixture.response())
        #expect(invalid.head.status.code == 422)
        #expect(invalid.head.headers["Content-Type"] == ["application/problem+json"])
        #expect(invalid.body?.contains(#""instance":"/characters""#) == true)

        try fixture.send("/characters?page=2")
        fixture.store.answer(with: .failure(DatabaseError(kind: .connectionLost, message: "server closed")))
        let down = try #require(try fixture.response())
        #expect(down.head.status == .serviceUnavailable)
        #expect(down.head.headers["Retry-After"] == ["5"])

        let early = try Fixture(migrated: false)
        try early.send("/characters")
        let notReady = try #require(try early.response())
        #expect(notReady.head.status == .serviceUnavailable && early.store.waiting == 0)
    }

    @Test("other routes, other methods, absolute targets and Connection: close go on to Hummingbird")
    func passesOn() throws {
        let fixture = try Fixture()
        for (method, uri, headers) in [
            (HTTPMethod.GET, "/healthz", HTTPHeaders()), (.POST, "/characters", [:]), (.GET, "/characters/1", [:]),
            (.GET, "/charactersX", [:]), (.GET, "http://host/characters", [:]), (.GET, "/characters#top", [:]),
            (.GET, "/characters", ["Connection": "close"]),
        ] {
            try fixture.send(method, uri, headers: headers)
            // Stand in for Hummingbird's answer, so that the pipeline hands on the next request.
            try fixture.channel.writeOutbound(
                HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok))
            )
            try fixture.channel.writeOutbound(HTTPServerResponsePart.end(nil))
            _ = try fixture.response()
        }
        #expect(
            fixture.recorder.uris == [
                "/healthz", "/characters", "/characters/1", "/charactersX", "http://host/characters",
                "/characters#top", "/characters",
            ]
        )
        #expect(fixture.store.waiting == 0)
    }

    @Test("a request pipelined behind a pending answer waits for it: responses keep the requests' order")
    func pipelinedOrder() throws {
        let fixture = try Fixture()
        // Both requests arrive in one read.
        try fixture.send("/characters?page=1")
        try fixture.send("/healthz")
        #expect(fixture.recorder.uris.isEmpty, "/healthz is held while /characters is pending")
        fixture.store.answer(with: .success(Self.snapshot))
        let first = try #require(try fixture.response())
        #expect(first.head.status == .ok)
        #expect(fixture.recorder.uris == ["/healthz"], "handed on once the first response ended")
    }
}
