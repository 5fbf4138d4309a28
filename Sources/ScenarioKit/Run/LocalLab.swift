import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `lab up` on this machine, through the lab.json in its state folder: which App process to
/// signal, and how the ones signalled ended (the lab starts a new App when one exits).
public struct LocalLab: Sendable {
    public var stateDirectory: String

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    private var record: [String: Any] {
        get throws {
            let path = "\(self.stateDirectory)/lab.json"
            guard let data = FileManager.default.contents(atPath: path),
                let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else {
                throw RunFailure(
                    "no lab is recorded in \(path): is `lab up --state-dir \(self.stateDirectory)` running?"
                )
            }
            return record
        }
    }

    /// The App the lab runs now, when it runs one.
    func appPID() throws -> pid_t? {
        let processes = try self.record["processes"] as? [[String: Any]] ?? []
        return (processes.first { $0["name"] as? String == "rickmorty-api" }?["pid"] as? Int).map { pid_t($0) }
    }

    /// The lab's App URL, to check it is the target's.
    func appURL() throws -> String? { try self.record["app"] as? String }

    /// The database connections each request used, by request id, for the requests whose id
    /// starts with `requestIDPrefix`: the `db.connection` of the App's JSON log lines in
    /// `logs/app.log` (empty when the log is missing or written as text).
    func databaseConnections(requestIDPrefix: String) -> [String: [String]] {
        guard let data = FileManager.default.contents(atPath: "\(self.stateDirectory)/logs/app.log") else { return [:] }
        var connections: [String: [String]] = [:]
        let marker = Array("\"request_id\":\"\(requestIDPrefix)".utf8)
        for line in data.split(separator: UInt8(ascii: "\n")) where line.firstRange(of: marker) != nil {
            guard let fields = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let id = fields["request_id"] as? String, let used = fields["db.connection"] as? String
            else { continue }
            for address in used.split(separator: " ").map(String.init)
            where !(connections[id]?.contains(address) ?? false) {
                connections[id, default: []].append(address)
            }
        }
        return connections
    }

    /// How App `pid` exited, once the lab saw it exit.
    func exitStatus(of pid: pid_t) throws -> Int32? {
        let exits = try self.record["appExits"] as? [[String: Any]] ?? []
        return (exits.first { $0["pid"] as? Int == Int(pid) }?["status"] as? Int).map { Int32($0) }
    }
}
