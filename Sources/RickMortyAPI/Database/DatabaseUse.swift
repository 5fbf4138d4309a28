import Synchronization

/// The database connections that served the request being handled, named by their client
/// address (``Native/DatabaseConnection/localAddress``) for the request's log lines.
///
/// Chaos journals each proxied connection under the same address, so a failed or slow request
/// can be put down to the fault decision made on its own connection (docs/api.md, "Logs").
/// A request makes one only while the access line is on, and hands it to the pool with its calls.
final class DatabaseUse: Sendable {
    private let addresses = Mutex<[String]>([])

    /// Records that the request used the connection at `address` (nil: an embedded database).
    func note(_ address: String?) {
        guard let address else { return }
        self.addresses.withLock { if !$0.contains(address) { $0.append(address) } }
    }

    /// The addresses in the order first used, separated by spaces; nil when there are none.
    var summary: String? {
        let addresses = self.addresses.withLock { $0 }
        return addresses.isEmpty ? nil : addresses.joined(separator: " ")
    }
}
