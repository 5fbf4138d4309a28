import Foundation
import Native

/// Checks a scenario's steady-state probes, each retried every half second until it holds or
/// the steady state's `within` has passed (Chaos Toolkit's tolerance, with time to settle).
struct SteadyStateProbe {
    let target: Target

    func check(_ steadyState: SteadyState) -> [RunReport.ProbeResult] {
        let deadline = Date().addingTimeInterval(steadyState.within)
        return steadyState.probes.map { probe in
            while true {
                let (passed, observed) = self.once(probe)
                if passed || Date() >= deadline { return .init(name: probe.name, passed: passed, observed: observed) }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// One try: whether the probe holds, and what was seen.
    func once(_ probe: Probe) -> (Bool, String) {
        do {
            switch probe.check {
            case .http(let path, let status, let fields):
                let exchange = try self.target.get(path)
                guard exchange.status == status else { return (false, "status \(exchange.status), want \(status)") }
                let body = (try? JSONDecoder().decode([String: TopLevelValue].self, from: Data(exchange.body))) ?? [:]
                for (key, want) in fields.sorted(by: { $0.key < $1.key }) {
                    let got = body[key]?.scalar
                    guard got == want else {
                        return (false, "\(key) is \(got.map(\.description) ?? "absent"), want \(want)")
                    }
                }
                return (
                    true,
                    "status \(status)"
                        + (fields.isEmpty ? "" : ", " + fields.keys.sorted().joined(separator: ", ") + " as expected")
                )
            case .metric(let sample, let min, let max):
                guard let value = try self.target.metric(sample) else { return (false, "\(sample) is not exposed") }
                let holds = (min.map { value >= $0 } ?? true) && (max.map { value <= $0 } ?? true)
                return (holds, "\(sample) = \(Format.number(value))")
            case .knownAnswer:
                let stored = try self.target.storedIDs()
                let expected = try self.target.knownAnswer()
                return (stored == expected, "\(stored.count) stored, \(expected.count) in the known answer")
            }
        } catch {
            return (false, "\(error)")
        }
    }

}

/// A top-level field of a JSON object: a scalar, or something else (an object or a list). Decoded
/// with JSONDecoder, which tells `true` from `1` on every platform.
private struct TopLevelValue: Decodable {
    let scalar: JSONScalar?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self.scalar = .null
        } else if let flag = try? container.decode(Bool.self) {
            self.scalar = .bool(flag)
        } else if let number = try? container.decode(Double.self) {
            self.scalar = .number(number)
        } else if let text = try? container.decode(String.self) {
            self.scalar = .string(text)
        } else {
            self.scalar = nil
        }
    }
}
