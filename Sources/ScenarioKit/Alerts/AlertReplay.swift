import Foundation
import SystemSupport

/// Replays a recording through `promtool test rules` against the unmodified alert rules, with
/// time compressed 60×: second N of the run becomes minute N of rule time, so a `for: 2m` takes two
/// seconds. Counters (and histogram buckets) are multiplied by 60 so per-second rates stay what they
/// really were. The answer is which alerts were firing at each second.
public enum AlertReplay {
    /// The alerts firing at each second of the recording (element i: second i).
    public struct Timeline: Sendable, Equatable {
        public var firing: [Set<String>]

        /// The seconds at which `alert` was firing.
        public func seconds(of alert: String) -> [Int] {
            self.firing.indices.filter { self.firing[$0].contains(alert) }
        }

        /// Every alert that fired at some point.
        public var alerts: Set<String> { self.firing.reduce(into: []) { $0.formUnion($1) } }
    }

    /// The promtool test file for `scrapes`: every recorded series as input, and one expression
    /// test per minute that expects no firing alert, so promtool names every alert that fires
    /// and when.
    public static func testFile(_ scrapes: [[String: Double]], rules: String) -> String {
        let series = Set(scrapes.flatMap(\.keys)).sorted()
        var file = "rule_files:\n  - \(rules)\nevaluation_interval: 1m\ntests:\n"
        file += "  - interval: 1m\n    input_series:\n"
        for key in series {
            let name = String(key.prefix { $0 != "{" })
            let scale = name.hasSuffix("_total") || name.hasSuffix("_bucket") ? 60.0 : 1.0
            let values = scrapes.map { scrape in scrape[key].map { Self.format($0 * scale) } ?? "_" }
            file += "      - series: '\(Self.withLabels(key))'\n        values: '\(values.joined(separator: " "))'\n"
        }
        file += "    promql_expr_test:\n"
        for minute in scrapes.indices {
            file +=
                "      - expr: 'ALERTS{alertstate=\"firing\"}'\n        eval_time: \(minute)m\n        exp_samples: []\n"
        }
        return file
    }

    /// Runs the replay; throws when promtool is missing or could not evaluate the rules.
    public static func run(_ scrapes: [[String: Double]], rules: String, directory: String) throws -> Timeline {
        guard scrapes.count >= 3 else { throw RunFailure("only \(scrapes.count) scrapes recorded: nothing to replay") }
        let path = "\(directory)/alert-replay.yaml"
        try self.testFile(scrapes, rules: rules).write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output): (Int32, String)
        do {
            (status, output) = try Spawn.run(["promtool", "test", "rules", path])
        } catch {
            throw RunFailure("promtool is needed for alert expectations (apt-get install prometheus): \(error)")
        }
        let timeline = Self.parse(output, seconds: scrapes.count)
        if status != 0 && timeline.alerts.isEmpty {
            throw RunFailure("promtool test rules \(path) failed:\n\(output.prefix(2000))")
        }
        return timeline
    }

    /// Reads promtool's failures: each `expr: …, time: Nm,` block names the alerts `got` at minute N.
    public static func parse(_ output: String, seconds: Int) -> Timeline {
        var firing = [Set<String>](repeating: [], count: seconds)
        var minute: Int?
        for line in output.split(separator: "\n") {
            if let range = line.range(of: "time: ") {
                minute = Self.minutes(line[range.upperBound...].prefix { $0 != "," })
            } else if line.contains("got:"), let minute, firing.indices.contains(minute) {
                var rest = line[...]
                while let start = rest.range(of: "alertname=\"") {
                    let name = rest[start.upperBound...].prefix { $0 != "\"" }
                    firing[minute].insert(String(name))
                    rest = rest[start.upperBound...]
                }
            }
        }
        return Timeline(firing: firing)
    }

    /// A Prometheus duration as promtool prints it (`0s`, `5m`, `1h5m`) in whole minutes.
    static func minutes(_ text: Substring) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var seconds = 0
        var number = 0
        var sawDigit = false
        for character in text {
            if let digit = character.wholeNumberValue {
                number = number * 10 + digit
                sawDigit = true
            } else if let unit = units[character], sawDigit {
                seconds += number * unit
                number = 0
                sawDigit = false
            } else {
                return nil
            }
        }
        return sawDigit ? nil : seconds / 60
    }

    /// `name{labels}` with the labels a scrape config would add.
    private static func withLabels(_ key: String) -> String {
        let extra = #"job="rickmorty-api",instance="lab""#
        guard let brace = key.firstIndex(of: "{") else { return "\(key){\(extra)}" }
        return "\(key[..<brace]){\(extra),\(key[key.index(after: brace)...])"
    }

    private static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return String(value)
    }
}
