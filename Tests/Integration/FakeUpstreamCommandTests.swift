import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    @Suite("The fake-upstream executable")
    struct FakeUpstreamCommandTests {
        static var executable: String {
            URL(fileURLWithPath: AppProcess.executable).deletingLastPathComponent().appendingPathComponent(
                "fake-upstream"
            ).path
        }

        @Test("--data serves a user's file, --config activates behaviours from the start, --known-answer prints ids")
        func dataAndConfig() async throws {
            let folder = NSTemporaryDirectory() + "rm-fu-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            // A small recorded dump: three characters in the real schema.
            let dump = (1...3).map { id in
                """
                {"id":\(id),"name":"Person \(id)","status":"Alive","species":"Human","type":"","gender":"Female",
                 "origin":{"name":"Earth (C-137)","url":""},"location":{"name":"Earth (C-137)","url":""},
                 "image":"https://x/\(id).jpeg","episode":[],"url":"https://x/\(id)","created":"2017-11-04T18:48:46.250Z"}
                """
            }
            try ("[" + dump.joined(separator: ",") + "]").write(
                toFile: "\(folder)/dump.json",
                atomically: true,
                encoding: .utf8
            )
            try #"{"behaviors":[{"id":"boot","match":{"path":"/api"},"action":{"status":503},"times":1}]}"#
                .write(toFile: "\(folder)/config.json", atomically: true, encoding: .utf8)

            let (status, output) = try runCommand([Self.executable, "--data", "\(folder)/dump.json", "--known-answer"])
            #expect(status == 0)
            #expect(output.split(separator: "\n") == ["1", "2", "3"])

            let port = try freePort()
            let pid = try spawn([
                Self.executable, "--port", String(port), "--data", "\(folder)/dump.json", "--config",
                "\(folder)/config.json",
            ])
            defer {
                kill(pid, SIGTERM)
                var code: Int32 = 0
                waitpid(pid, &code, 0)
            }
            let base = "http://127.0.0.1:\(port)"
            #expect(await eventually { (try? await fetch("\(base)/__admin/behaviors")) != nil })
            #expect(try await fetch("\(base)/api").status == 503, "the --config behaviour answers first")
            #expect(try await fetch("\(base)/api").status == 200)
            let page = try await fetch("\(base)/api/character").json
            #expect((page["info"] as? [String: Any])?["count"] as? Int == 3)
        }

        @Test("invalid flags and files stop it with a clear message")
        func invalidInput() throws {
            let (badPort, portOutput) = try runCommand([Self.executable, "--port", "70000"])
            #expect(badPort != 0)
            #expect(portOutput.contains("--port"))
            let (missing, missingOutput) = try runCommand([
                Self.executable, "--data", "/nonexistent/dump.json", "--known-answer",
            ])
            #expect(missing != 0)
            #expect(missingOutput.contains("dump.json"))
        }
    }
}
