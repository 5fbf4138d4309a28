import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM while scenarios run. The first one ends the current run early and cleanly:
/// the load stops, every step is undone, the rollbacks run, Prometheus stops, the run is reported
/// as aborted, no further scenario starts and a lab of the runner's own is stopped. A second one
/// ends the process at once (the signal's default action).
public enum Interruption {
    private static let received = Atomic<Int32>(0)

    /// The signal received, if one was.
    public static var signal: Int32? {
        let signal = Self.received.load(ordering: .relaxed)
        return signal == 0 ? nil : signal
    }

    /// `interrupted by SIGTERM`, for the report.
    public static var reason: String? {
        Self.signal.map { "interrupted by \($0 == SIGINT ? "SIGINT" : $0 == SIGTERM ? "SIGTERM" : "signal \($0)")" }
    }

    /// Catches SIGINT and SIGTERM from now on.
    public static func install() {
        for signal in [SIGINT, SIGTERM] {
            Glibc.signal(signal) { caught in
                // Only async-signal-safe work here: note the signal, let the next one kill.
                Interruption.received.store(caught, ordering: .relaxed)
                Glibc.signal(caught, SIG_DFL)
            }
        }
    }
}
