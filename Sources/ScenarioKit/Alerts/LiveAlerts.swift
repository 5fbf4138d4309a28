import Foundation
import Synchronization

/// The alerts firing now, for the progress line: the recording so far is replayed through
/// promtool every few seconds on a thread of its own (the verdicts use the final replay).
final class LiveAlerts: Sendable {
    private let firing = Mutex<Set<String>?>(nil)
    private let stopped = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)

    /// Starts replaying `recorder`'s recording every `interval` seconds into `directory`.
    init(recorder: MetricsRecorder, rules: String, directory: String, interval: Double) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.running.store(true, ordering: .relaxed)
        let thread = Thread { [self] in
            var next = Date().addingTimeInterval(interval)
            while !self.stopped.load(ordering: .relaxed) {
                guard Date() >= next else {
                    Thread.sleep(forTimeInterval: 0.1)
                    continue
                }
                next = Date().addingTimeInterval(interval)
                let scrapes = recorder.snapshot()
                if let timeline = try? AlertReplay.run(scrapes, rules: rules, directory: directory) {
                    self.firing.withLock { $0 = timeline.firing.last ?? [] }
                }
            }
            self.running.store(false, ordering: .relaxed)
        }
        thread.start()
    }

    /// `DatabaseDown, HighErrorRate`, `none`, or `-` before the first replay.
    var line: String {
        guard let firing = self.firing.withLock({ $0 }) else { return "-" }
        return firing.isEmpty ? "none" : firing.sorted().joined(separator: ", ")
    }

    /// Stops replaying and waits for a replay in progress to end.
    func stop() {
        self.stopped.store(true, ordering: .relaxed)
        let deadline = Date().addingTimeInterval(30)
        while self.running.load(ordering: .relaxed) && Date() < deadline { usleep(20_000) }
    }
}
