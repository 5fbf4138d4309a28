import Foundation
import NIOCore

/// How many CPUs this process can actually run on.
///
/// NIO's `System.coreCount` follows cgroup quotas and cpusets, not the scheduler affinity that
/// `taskset` or a CPU manager sets. An event loop group larger than the CPUs it may use makes its
/// threads take turns on one CPU: connections on the waiting thread stall for a whole time slice
/// (milliseconds), which shows as a p99 several times the p50.
public enum UsableProcessors {
    /// The smaller of NIO's core count and the number of CPUs in this process's affinity mask,
    /// read once: the event loops, the logged count and the connection pools all size from it.
    public static let count: Int = {
        let allowed = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)).flatMap(Self.allowedCPUs)
        return max(1, min(System.coreCount, allowed ?? System.coreCount))
    }()

    /// The number of CPUs in the `Cpus_allowed_list` line of `/proc/PID/status` (`0-3,6,8-9`).
    public static func allowedCPUs(inStatus status: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else {
            return nil
        }
        var count = 0
        for range in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let bounds = range.trimmingCharacters(in: .whitespaces).split(separator: "-").compactMap { Int($0) }
            switch bounds.count {
            case 1: count += 1
            case 2 where bounds[1] >= bounds[0]: count += bounds[1] - bounds[0] + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }
}
