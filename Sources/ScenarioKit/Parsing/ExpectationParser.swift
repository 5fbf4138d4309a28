/// Reads the `expect` list: one check per item, with the window and requests it applies to.
enum ExpectationParser {
    static let checks = [
        "status_in", "retry_after_on", "min_success", "latency_at_most", "latency_at_least", "recovers_within",
        "alerts", "known_answer", "stored_set", "retry_after_honoured", "metric", "app_restart",
    ]

    /// The rules a `metric` expectation takes, one per item.
    static let metricRules = ["at_most", "reaches", "ends_at", "growth_at_most", "increases_by"]

    static func parse(_ field: YAMLField, phases: [Phase]) throws -> [Expectation] {
        var expectations: [Expectation] = []
        for item in try field.sequence() {
            let fields = try item.mapping(
                allowed: ["name", "phase", "requests", "when"] + Self.checks + Self.metricRules
            )
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
            let check = try key == "metric" ? self.metric(value, fields) : self.check(key, value)
            if key != "metric", let stray = Self.metricRules.first(where: { fields[$0] != nil }) {
                throw fields[stray]!.fail("`\(stray)` belongs to a `metric` expectation")
            }
            let window = phaseNames.contains("all") ? [] : phaseNames
            expectations.append(
                Expectation(
                    name: try fields["name"]?.string() ?? Self.describe(check, phases: window),
                    phases: window,
                    requests: try fields["requests"]?.list().map { try $0.string() } ?? [],
                    check: check,
                    // Without its signal step (`--control`) there is no restart to judge.
                    faultsOnly: when == "faults" || key == "app_restart"
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
        case "retry_after_honoured":
            guard try value.bool() else { throw value.fail("`retry_after_honoured` can only be true") }
            return .retryAfterHonoured
        case "stored_set":
            guard try value.string() == "old_or_new" else { throw value.fail("`stored_set` can only be old_or_new") }
            return .oldOrNew
        case "app_restart":
            let fields = try value.mapping(allowed: ["exit", "ready_within"], required: ["ready_within"])
            return .appRestart(
                exit: try fields["exit"].map { Int32(try $0.int(in: 0...255)) },
                readyWithin: try fields["ready_within"]!.duration()
            )
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

    /// `metric: 'name{labels}'` with exactly one rule beside it.
    private static func metric(_ value: YAMLField, _ fields: [String: YAMLField]) throws -> Expectation.Check {
        let sample = try value.string()
        let rules = Self.metricRules.filter { fields[$0] != nil }
        guard rules.count == 1, let key = rules.first, let rule = fields[key] else {
            throw value.fail(
                "`metric` needs exactly one of \(Self.metricRules.map { "`\($0)`" }.joined(separator: ", "))"
            )
        }
        switch key {
        case "at_most": return .metric(sample: sample, rule: .atMost(try rule.number()))
        case "reaches": return .metric(sample: sample, rule: .reaches(try rule.number()))
        case "ends_at": return .metric(sample: sample, rule: .endsAt(try rule.number()))
        case "growth_at_most": return .metric(sample: sample, rule: .growthAtMost(try rule.share()))
        default: return .metric(sample: sample, rule: .increasesBy(try rule.number()))
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

    static func describe(_ rule: Expectation.MetricRule) -> String {
        switch rule {
        case .atMost(let bound): "≤ \(Format.number(bound))"
        case .reaches(let value): "reaches \(Format.number(value))"
        case .endsAt(let value): "ends at \(Format.number(value))"
        case .growthAtMost(let share): "grows ≤ \(Format.percent(share))"
        case .increasesBy(let amount): "grows by ≥ \(Format.number(amount))"
        }
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
        case .oldOrNew: what = "stored set is the old or the new one"
        case .retryAfterHonoured: what = "retries wait for Retry-After"
        case .metric(let sample, let rule): what = "\(sample) \(Self.describe(rule))"
        case .appRestart(let exit, let within):
            what = "App \(exit.map { "exits \($0) and " } ?? "")is ready again within \(Format.seconds(within))"
        }
        return "\(what) (\(window))"
    }
}
