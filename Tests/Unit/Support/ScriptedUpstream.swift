import Synchronization

@testable import RickMortyAPI

/// An upstream that answers from a script, one entry per request, and records the URLs asked.
/// When the script runs out, the last entry repeats.
final class ScriptedUpstream: UpstreamClient {
    enum Step: Sendable {
        case respond(status: Int, retryAfter: String? = nil, body: String = "{}")
        case fail(kind: String)
    }

    private let script: Mutex<[Step]>
    private let asked = Mutex<[String]>([])

    init(_ script: [Step]) {
        self.script = Mutex(script)
    }

    var requests: [String] { self.asked.withLock { $0 } }

    func get(_ url: String) async throws -> UpstreamResponse {
        self.asked.withLock { $0.append(url) }
        let step = self.script.withLock { script in script.count > 1 ? script.removeFirst() : script[0] }
        switch step {
        case .respond(let status, let retryAfter, let body):
            return UpstreamResponse(status: status, retryAfter: retryAfter, body: Array(body.utf8))
        case .fail(let kind):
            throw IngestError.transport(kind: kind, message: "scripted \(kind)")
        }
    }
}
