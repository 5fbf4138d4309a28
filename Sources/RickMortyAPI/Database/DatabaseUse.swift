import Synchronization

/// The database connections that served the request being handled, named by their client
/// address (``Native/DatabaseConnection/localAddress``) for the request's log lines.
///
/// Chaos journals each proxied connection under the same address, so a failed or slow request
/// can be put down to the fault decision made on its own connection (docs/api.md, "Logs").
/// The responder binds one only while the access line is on; unbound, noting it is one
/// task-local read.
final class DatabaseUse: Sendable {
    @TaskLocal static var current: DatabaseUse?

    private let addresses = Mutex<[String]>([])

    /// Records that the request used the connection at `address` (nil: an embedded database).
    static func note(_ address: String?) {
        guard let address, let use = Self.current else { return }
        use.addresses.withLock { if !$0.contains(address) { $0.append(address) } }
    }

    /// The addresses in the order first used, separated by spaces; nil when there are none.
    var summary: String? {
        let addresses = self.addresses.withLock { $0 }
        return addresses.isEmpty ? nil : addresses.joined(separator: " ")
    }
}
