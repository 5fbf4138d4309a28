import Foundation
import SystemSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite("Starting programs")
    struct SpawnTests {
        @Test("a child gets the three standard streams and none of its parent's sockets")
        func childInheritsNoSockets() throws {
            // A socket of ours, open and not close-on-exec, as a client connection would be.
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(socket >= 3)
            defer { close(socket) }
            let listing = NSTemporaryDirectory() + "rm-spawn-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: listing) }
            // The shell lists its own descriptors ($$: the shell, not ls).
            let pid = try Spawn.start(["sh", "-c", "ls /proc/$$/fd"], output: .replace(listing))
            #expect(Spawn.wait(pid) == 0)
            let open = try String(contentsOfFile: listing, encoding: .utf8).split(whereSeparator: \.isWhitespace)
            #expect(open.sorted() == ["0", "1", "2"], "the child's open descriptors: \(open)")
        }
    }
}
