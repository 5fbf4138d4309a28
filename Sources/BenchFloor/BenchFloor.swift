import Foundation
import Hummingbird
import NIOCore

/// `bench-floor PORT FILE`: answers every request with FILE's bytes as `application/json`, on
/// Hummingbird's HTTP/1 server with nothing else. scripts/bench-app.sh serves the App's cache-hit
/// page with it, so the report can tell the framework's cost per request from the App's own.
@main
struct BenchFloor {
    struct Responder: HTTPResponder {
        let body: ByteBuffer

        func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: self.body))
        }
    }

    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 3, let port = Int(arguments[1]),
            let bytes = FileManager.default.contents(atPath: arguments[2])
        else {
            FileHandle.standardError.write(Data("usage: bench-floor PORT FILE\n".utf8))
            exit(2)
        }
        let app = Application(
            responder: Responder(body: ByteBuffer(bytes: bytes)),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil)
        )
        try await app.runService()
    }
}
