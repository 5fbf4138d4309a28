/// Reads the `expect` list: one check per item, with the window and requests it applies to.
enum ExpectationParser {
    static let checks = [
        "status_in", "retry_after_on", "min_success", "latency_at_most", "latency_at_least", "recovers_within",
        "alerts", "known_answer",
    ]

    static func parse(_ field: YAMLField, phases: [Phase]) throws -> [Expectation] {
        var expectations: [Expectation] = []
        for item in try field.sequence() {
            let fields = try item.mapping(allowed: ["name", "phase", "requests", "when"] + Self.checks)
            let given = Self.checks.filter { fields[$0] != nil }
            guard given.count == 1, let key = given.first, let value = fields[key] else {
                throw item.fail(
                    "`\(item.path)` needs exactly one of \(Self.checks.map { "`\($0)`" }.joined(separator: ", "))"
                )
            }
            let phaseNames = try fields["phase"]?.list().map { try $0.string() } ?? []
            for (index, name) in phaseNames.enumerated()
            where name != "all" && !phases.contains(where: { $0.name == name }) {
                let known = phases.map(\.name).joined(separator: ", ")
                throw (try fields["phase"]!.list()[index]).fail("no phase is named \(name) (phases: \(known))")
            }
            let when = try fields["when"]?.string() ?? "always"
            guard ["always", "faults"].contains(when) else {
                throw fields["when"]!.fail("`when` must be always or faults")
            }
            let check = try self.check(key, value)
            let window = phaseNames.contains("all") ? [] : phaseNames
            expectations.append(
                Expectation(
                    name: try fields["name"]?.string() ?? Self.describe(check, phases: window),
                    phases: window,
                    requests: try fields["requests"]?.list().map { try $0.string() } ?? [],
                    check: check,
                    faultsOnly: when == "faults"
                )
            )
        }
        return expectations
    }

    private static func check(_ key: String, _ value: YAMLField) throws -> Expectation.Check {
        switch key {
        case "status_in": return .statusIn(try value.list().map { try $0.int(in: 100...599) })
        case "retry_after_on": return .retryAfter(try value.list().map { try $0.int(in: 100...599) })
        case "min_success": return .minSuccess(try value.share())
        case "latency_at_most": return .latencyAtMost(try self.percentiles(value))
        case "latency_at_least": return .latencyAtLeast(try self.percentiles(value))
        case "recovers_within": return .recoversWithin(try value.duration())
        case "known_answer":
            guard try value.bool() else { throw value.fail("`known_answer` can only be true") }
            return .knownAnswer
        default:
            let fields = try value.mapping(allowed: ["fire", "others"])
            let others = try fields["others"]?.string() ?? "silent"
            guard ["silent", "any"].contains(others) else {
                throw fields["others"]!.fail("`others` must be silent or any")
            }
            return .alerts(
                fire: try fields["fire"]?.list().map { try $0.string() } ?? [],
                othersSilent: others == "silent"
            )
        }
    }

    /// `{p50: 20ms, p99: 500ms}` as percent → seconds.
    private static func percentiles(_ value: YAMLField) throws -> [Double: Double] {
        var bounds: [Double: Double] = [:]
        for (key, bound) in try value.mapping(allowed: value.keys) {
            guard key.hasPrefix("p"), let percent = Double(key.dropFirst()), percent > 0, percent <= 100 else {
                throw bound.fail("`\(key)` is not a percentile: write p50, p95, p99 or p99.9")
            }
            bounds[percent] = try bound.duration()
        }
        guard !bounds.isEmpty else { throw value.fail("`\(value.path)` needs a percentile such as p99") }
        return bounds
    }

    /// A name for an expectation the file did not name.
    static func describe(_ check: Expectation.Check, phases: [String]) -> String {
        let window = phases.isEmpty ? "whole run" : phases.joined(separator: ", ")
        let what: String
        switch check {
        case .statusIn(let statuses): what = "status in \(statuses.map(String.init).joined(separator: ", "))"
        case .retryAfter(let statuses): what = "Retry-After on \(statuses.map(String.init).joined(separator: ", "))"
        case .minSuccess(let share): what = "success ≥ \(Format.percent(share))"
        case .latencyAtMost(let bounds):
            what = bounds.sorted { $0.key < $1.key }.map { "p\(Format.number($0.key)) ≤ \(Format.seconds($0.value))" }
                .joined(separator: ", ")
        case .latencyAtLeast(let bounds):
            what = bounds.sorted { $0.key < $1.key }.map { "p\(Format.number($0.key)) ≥ \(Format.seconds($0.value))" }
                .joined(separator: ", ")
        case .recoversWithin(let seconds): what = "recovers within \(Format.seconds(seconds))"
        case .alerts(let fire, let silent):
            what =
                (fire.isEmpty ? "no alert fires" : "\(fire.joined(separator: ", ")) fire")
                + (silent && !fire.isEmpty ? ", others silent" : "")
        case .knownAnswer: what = "stored set is the known answer"
        }
        return "\(what) (\(window))"
    }
}
