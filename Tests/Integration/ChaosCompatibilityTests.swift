import ChaosKit
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// The exact requests Toxiproxy's clients send, and the exact answers they rely on.
    @Suite("Chaos: Toxiproxy client compatibility, auth, the chaos executable")
    struct ChaosCompatibilityTests {
        @Test("toxiproxy-go's requests (empty name, no stream, float toxicity) get Toxiproxy's answers")
        func goClientShapes() async throws {
            try await Harness.withChaos { chaos in
                // client.CreateProxy("redis", "127.0.0.1:0", "127.0.0.1:6379")
                let created = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies",
                    #"{"name":"redis","listen":"127.0.0.1:0","upstream":"127.0.0.1:6379","enabled":true}"#
                )
                #expect(created.status == 201)
                let listen = try #require(created.json["listen"] as? String)
                #expect(
                    created.body
                        == #"{"name":"redis","listen":"\#(listen)","upstream":"127.0.0.1:6379","enabled":true,"toxics":[]}"#
                )
                // proxy.AddToxic("", "latency", "", 1, toxiproxy.Attributes{"latency": 1000})
                let toxic = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/redis/toxics",
                    #"{"name":"","type":"latency","toxicity":1,"attributes":{"latency":1000}}"#
                )
                #expect(toxic.status == 200)
                #expect(
                    toxic.body
                        == #"{"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1,"attributes":{"jitter":0,"latency":1000}}"#
                )
                // proxy.UpdateToxic("latency_downstream", 0.5, toxiproxy.Attributes{"jitter": 25})
                let updated = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/redis/toxics/latency_downstream",
                    #"{"toxicity":0.5,"attributes":{"jitter":25}}"#
                )
                #expect(
                    updated.body
                        == #"{"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":0.5,"attributes":{"jitter":25,"latency":1000}}"#
                )
                // proxy.Disable() posts the whole proxy with enabled=false.
                let disabled = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/redis",
                    #"{"name":"redis","listen":"\#(listen)","upstream":"127.0.0.1:6379","enabled":false}"#
                )
                #expect(disabled.status == 200 && disabled.json["enabled"] as? Bool == false)
                // Moving the listener (PATCH with a new listen address) rebinds it.
                let moved = try await Harness.send(
                    .PATCH,
                    "\(chaos)/proxies/redis",
                    #"{"listen":"127.0.0.1:0","enabled":true}"#
                )
                let newListen = try #require(moved.json["listen"] as? String)
                #expect(moved.status == 200 && newListen != listen && !newListen.hasSuffix(":0"))
                #expect(moved.json["enabled"] as? Bool == true)
                // client.Populate([...]) replaces proxies of the same name.
                let populated = try await Harness.send(
                    .POST,
                    "\(chaos)/populate",
                    #"[{"name":"redis","listen":"127.0.0.1:0","upstream":"127.0.0.1:6380","enabled":true}]"#
                )
                #expect(populated.status == 201)
                let proxies = try #require(populated.json["proxies"] as? [[String: Any]])
                #expect(proxies.count == 1 && proxies[0]["upstream"] as? String == "127.0.0.1:6380")

                let missing = try await fetch("\(chaos)/proxies/nope")
                #expect(missing.status == 404 && missing.body == #"{"error":"proxy not found","status":404}"#)
                let missingToxic = try await fetch("\(chaos)/proxies/redis/toxics/nope")
                #expect(missingToxic.body == #"{"error":"toxic not found","status":404}"#)
                let badStream = try await Harness.send(
                    .POST,
                    "\(chaos)/proxies/redis/toxics",
                    #"{"type":"latency","stream":"sideways"}"#
                )
                #expect(badStream.status == 400)
                #expect(badStream.json["error"] as? String == "stream must be upstream or downstream")
                #expect(try await fetch("\(chaos)/version").json["version"] as? String == "2.12.0-chaos")
            }
        }

        @Test("our toxics reject bad attributes with 400 and a reason, and leave the proxy unchanged")
        func badAttributes() async throws {
            try await Harness.withChaos { chaos in
                _ = try await Harness.createProxy(chaos, name: "p", upstreamPort: 9)
                let cases: [(String, String)] = [
                    (#"{"type":"http_status","attributes":{"status":99}}"#, "status must be from 100 to 599"),
                    (#"{"type":"http_status","attributes":{"probability":2}}"#, "probability must be between 0 and 1"),
                    (#"{"type":"http_delay","attributes":{"target":"tail"}}"#, "target must be one of: body, headers"),
                    (
                        #"{"type":"pg_error","attributes":{"sqlstate":"5"}}"#,
                        "sqlstate must be five letters or digits, e.g. 57P01"
                    ),
                    (
                        #"{"type":"slicer","attributes":{"average_size":1,"size_variation":5}}"#,
                        "size_variation must not exceed average_size"
                    ),
                    (#"{"type":"latency","attributes":{"latency":"slow"}}"#, "latency has the wrong type for latency"),
                    (#"{"type":"latency","ttl":-1}"#, "ttl must be a positive number of milliseconds"),
                ]
                for (body, message) in cases {
                    let answer = try await Harness.send(.POST, "\(chaos)/proxies/p/toxics", body)
                    #expect(answer.status == 400, "\(body)")
                    #expect(answer.json["error"] as? String == message, "\(body)")
                }
                #expect(try await fetch("\(chaos)/proxies/p/toxics").body == "[]")
            }
        }

        @Test("with a token, changes need Authorization: Bearer; reads do not")
        func tokenAuth() async throws {
            let chaos = ChaosServer(host: "127.0.0.1", port: 0, token: "s3cret")
            try await Harness.run(
                services: { [chaos.service(logger: Harness.quiet, onServerRunning: $0)] },
                body: { port in
                    let base = "http://127.0.0.1:\(port)"
                    let spec = #"{"name":"x","upstream":"127.0.0.1:9"}"#
                    let refused = try await Harness.send(.POST, "\(base)/proxies", spec)
                    #expect(refused.status == 401)
                    #expect(refused.json["error"] as? String == "missing or wrong bearer token")
                    let wrong = try await Harness.send(
                        .POST,
                        "\(base)/proxies",
                        spec,
                        headers: [("Authorization", "Bearer no")]
                    )
                    #expect(wrong.status == 401)
                    let accepted = try await Harness.send(
                        .POST,
                        "\(base)/proxies",
                        spec,
                        headers: [("Authorization", "Bearer s3cret")]
                    )
                    #expect(accepted.status == 201)
                    #expect(try await fetch("\(base)/proxies").status == 200)
                }
            )
            await chaos.registry.stopAll()
            #expect(ChaosServer.isLoopback("127.0.0.1") && !ChaosServer.isLoopback("0.0.0.0"))
        }

        static var executable: String {
            URL(fileURLWithPath: AppProcess.executable).deletingLastPathComponent().appendingPathComponent("chaos").path
        }

        @Test("the chaos executable: --config with toxics, --seed, the CLI, and clear startup errors")
        func executable() async throws {
            let echo = try await EchoServer()
            let folder = NSTemporaryDirectory() + "rm-chaos-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try #"""
            [{"name":"echo","listen":"127.0.0.1:0","upstream":"127.0.0.1:\#(echo.port)",
              "toxics":[{"type":"latency","attributes":{"latency":120}}]}]
            """#.write(toFile: "\(folder)/config.json", atomically: true, encoding: .utf8)
            let port = try freePort()
            let pid = try spawn([
                Self.executable, "--port", String(port), "--config", "\(folder)/config.json", "--seed", "1234",
            ])
            defer {
                kill(pid, SIGTERM)
                var code: Int32 = 0
                waitpid(pid, &code, 0)
            }
            let base = "http://127.0.0.1:\(port)"
            #expect(await eventually { (try? await fetch("\(base)/version")) != nil })
            #expect(try await fetch("\(base)/seed").json["seed"] as? Int == 1234)
            let listen = try #require((try await fetch("\(base)/proxies/echo")).json["listen"] as? String)
            let proxyPort = try #require(Int(listen.split(separator: ":").last ?? ""))
            let probe = try TCPProbe(port: proxyPort)
            let started = ContinuousClock.now
            try probe.send("hi")
            #expect(probe.receive(upTo: 2).bytes == Array("hi".utf8))
            #expect(ContinuousClock.now - started >= .milliseconds(120), "the config file's toxic is active")

            let cli = [Self.executable]
            let host = ["--host", base]
            var (status, output) = try runCommand(
                cli + ["toxic", "add", "echo", "-t", "http_status", "-a", "status=502", "-a", "retry_after=5"] + host
            )
            #expect(status == 0, "\(output)")
            let added = try await fetch("\(base)/proxies/echo/toxics/http_status_downstream").json
            #expect((added["attributes"] as? [String: Any])?["retry_after"] as? Int == 5, "a number stays a number")
            (status, output) = try runCommand(cli + ["toxic", "list", "echo"] + host)
            #expect(status == 0, "\(output)")
            #expect(output.contains("latency_downstream\tlatency\tdownstream\t1\tjitter=0 latency=120"), "\(output)")
            #expect(output.contains("http_status_downstream\thttp_status\tdownstream\t1\t"), "\(output)")
            #expect(output.contains("retry_after=5 status=502"), "\(output)")
            (status, output) = try runCommand(cli + ["proxy", "inspect", "echo"] + host)
            #expect(status == 0, "\(output)")
            #expect(output.contains("Listen:   \(listen)") && output.contains("Enabled:  true"), "\(output)")
            #expect(output.contains("  latency_downstream\tlatency\tdownstream\t1\tjitter=0 latency=120"), "\(output)")
            let badBody = try await fetch(
                "\(base)/proxies/echo/toxics",
                method: .POST,
                body: #"{"type":"latency","toxicity":"high"}"#
            )
            #expect(badBody.status == 400)
            #expect(badBody.json["error"] as? String == "bad request body: wrong type at toxicity")
            (status, output) = try runCommand(
                cli + ["toxic", "update", "echo", "-n", "latency_downstream", "-a", "latency=5"] + host
            )
            #expect(status == 0, "\(output)")
            (status, output) = try runCommand(cli + ["proxy", "list"] + host)
            #expect(
                output.contains(
                    "echo\t\(listen)\t127.0.0.1:\(echo.port)\ttrue\tlatency_downstream,http_status_downstream"
                )
            )
            (status, output) = try runCommand(cli + ["toxic", "remove", "echo", "-n", "nope"] + host)
            #expect(status != 0 && output.contains("toxic not found") && !output.contains("Usage"))
            (status, output) = try runCommand(cli + ["proxy", "toggle", "echo"] + host)
            #expect(output.contains("now disabled"))
            (status, output) = try runCommand(cli + ["proxy", "delete", "echo"] + host)
            #expect(status == 0)
            #expect(try await fetch("\(base)/proxies").body == "{}")
            (status, output) = try runCommand(
                cli + ["proxy", "create", "db", "-l", "127.0.0.1:0", "-u", "127.0.0.1:5432"] + host
            )
            #expect(status == 0 && output.contains("Created proxy db"))

            (status, output) = try runCommand(cli + ["--host", "0.0.0.0", "--port", String(try freePort())])
            #expect(status != 0 && output.contains("not loopback: set --token or CHAOS_TOKEN"))
            try "[{\"name\":\"bad\"}]".write(toFile: "\(folder)/bad.json", atomically: true, encoding: .utf8)
            (status, output) = try runCommand(
                cli + ["--port", String(try freePort()), "--config", "\(folder)/bad.json"]
            )
            #expect(status != 0 && output.contains("missing required field: upstream"))
            await echo.stop()
        }
    }
}
