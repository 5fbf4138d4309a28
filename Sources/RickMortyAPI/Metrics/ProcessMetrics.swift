import Foundation
import Prometheus
import Synchronization

/// The standard `process_*` metrics, read from `/proc/self` when scraped.
final class ProcessMetrics: Sendable {
    private let residentMemory: Gauge
    private let openFDs: Gauge
    private let cpuSeconds: Counter
    private let startTime: Gauge
    private let reportedCPU = Mutex<Double>(0)

    init(registry: PrometheusCollectorRegistry) {
        self.residentMemory = registry.makeGauge(
            descriptor: AppMetrics.descriptor("process_resident_memory_bytes", "Resident memory size in bytes.")
        )
        self.openFDs = registry.makeGauge(
            descriptor: AppMetrics.descriptor("process_open_fds", "Number of open file descriptors.")
        )
        self.cpuSeconds = registry.makeCounter(
            descriptor: AppMetrics.descriptor(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds."
            )
        )
        self.startTime = registry.makeGauge(
            descriptor: AppMetrics.descriptor(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds."
            )
        )
        self.update()
    }

    /// Reads `/proc/self/stat` and counts `/proc/self/fd`; does nothing where they do not exist.
    func update() {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name, which may itself contain spaces; field 3 is index 0.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
                let start = Double(fields[19]), let rss = Double(fields[21])
            {
                let cpu = (utime + stime) / ticks
                let delta = self.reportedCPU.withLock { reported -> Double in
                    let delta = max(0, cpu - reported)
                    reported = max(reported, cpu)
                    return delta
                }
                if delta > 0 { self.cpuSeconds.increment(by: delta) }
                self.residentMemory.set(to: rss * pageSize)
                self.startTime.set(to: Self.bootTime() + start / ticks)
            }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            self.openFDs.set(to: Double(fds.count))
        }
    }

    private static func bootTime() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }
}
