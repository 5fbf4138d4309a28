import Logging
import Synchronization

/// Keeps every event logged through it, with the logger's metadata merged in, for tests that
/// check what a line says.
struct CapturingLogHandler: LogHandler {
    final class Events: Sendable {
        fileprivate let captured = Mutex<[(message: String, metadata: Logger.Metadata)]>([])

        var all: [(message: String, metadata: Logger.Metadata)] { self.captured.withLock { $0 } }
    }

    let events: Events
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.events.captured.withLock { $0.append((event.message.description, merged)) }
    }
}
