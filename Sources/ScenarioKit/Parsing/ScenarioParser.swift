import Foundation
import Yams

/// Reads a scenario file into a ``Scenario``, refusing anything it does not know with the file,
/// the line and the key. `ops/scenarios/README.md` documents every key read here.
public enum ScenarioParser {
    public static func load(path: String) throws -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioFileError(file: path, line: 0, message: "cannot read the file")
        }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return try self.parse(String(decoding: data, as: UTF8.self), file: path, name: name)
    }

    public static func parse(_ text: String, file: String, name: String) throws -> Scenario {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ScenarioFileError(file: file, line: 1, message: "the file is empty")
            }
            root = node
        } catch let error as YamlError {
            throw ScenarioFileError(file: file, line: Self.line(of: error), message: "not valid YAML: \(error)")
        }
        let top = try YAMLField(node: root, path: "", file: file).mapping(
            allowed: ["title", "description", "seed", "duration", "load", "steady_state", "timeline", "expect"],
            required: ["title", "duration", "load", "timeline", "expect"]
        )
        let duration = try top["duration"]!.duration()
        guard duration >= 1 else { throw top["duration"]!.fail("`duration` must be at least 1s") }
        let phases = try self.phases(top["timeline"]!, duration: duration)
        return Scenario(
            name: name,
            file: file,
            title: try top["title"]!.string(),
            description: try top["description"]?.string() ?? "",
            seed: UInt64(try top["seed"]?.int(in: 0...Int.max) ?? 1),
            duration: duration,
            load: try self.load(top["load"]!),
            steadyState: try top["steady_state"].map(self.steadyState) ?? SteadyState(within: 60, probes: []),
            phases: phases,
            expectations: try ExpectationParser.parse(top["expect"]!, phases: phases)
        )
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: 1
        }
    }

    // MARK: - load

    static func load(_ field: YAMLField) throws -> Load {
        let fields = try field.mapping(
            allowed: ["rate", "ramp", "connections", "timeout", "slow", "settle", "mix"],
            required: ["rate", "mix"]
        )
        let rate = try fields["rate"]!.number()
        guard rate > 0, rate <= 5000 else { throw fields["rate"]!.fail("`load.rate` must be above 0 and at most 5000") }
        var mix: [Load.Request] = []
        for item in try fields["mix"]!.sequence() {
            let request = try item.mapping(allowed: ["name", "weight", "path"], required: ["name", "path"])
            let path = try request["path"]!.string()
            guard path.hasPrefix("/") else { throw request["path"]!.fail("`\(item.path).path` must start with /") }
            let name = try request["name"]!.string()
            guard !mix.contains(where: { $0.name == name }) else {
                throw request["name"]!.fail("two requests in `load.mix` are named \(name)")
            }
            mix.append(
                Load.Request(name: name, weight: try request["weight"]?.int(in: 1...1000) ?? 1, path: path)
            )
        }
        guard !mix.isEmpty else { throw fields["mix"]!.fail("`load.mix` needs at least one request") }
        return Load(
            rate: rate,
            ramp: try fields["ramp"]?.duration() ?? 0,
            connections: try fields["connections"]?.int(in: 1...512) ?? 32,
            timeout: try fields["timeout"]?.duration() ?? 5,
            slow: try fields["slow"]?.duration() ?? 1,
            settle: try fields["settle"]?.duration() ?? 10,
            mix: mix
        )
    }

    // MARK: - steady_state

    static func steadyState(_ field: YAMLField) throws -> SteadyState {
        let fields = try field.mapping(allowed: ["within", "probes"], required: ["probes"])
        var probes: [Probe] = []
        for item in try fields["probes"]!.sequence() {
            let probe = try item.mapping(
                allowed: ["name", "get", "status", "json", "metric", "min", "max", "known_answer"],
                required: ["name"]
            )
            let check: Probe.Check
            if let get = probe["get"] {
                var json: [String: JSONScalar] = [:]
                if let body = probe["json"] {
                    for (key, value) in try body.mapping(allowed: body.keys) { json[key] = try value.scalar() }
                }
                check = .http(
                    path: try get.string(),
                    status: try probe["status"]?.int(in: 100...599) ?? 200,
                    json: json
                )
            } else if let metric = probe["metric"] {
                let min = try probe["min"]?.number()
                let max = try probe["max"]?.number()
                guard min != nil || max != nil else { throw item.fail("`\(item.path)` needs `min` or `max`") }
                check = .metric(sample: try metric.string(), min: min, max: max)
            } else if try probe["known_answer"]?.bool() == true {
                check = .knownAnswer
            } else {
                throw item.fail("`\(item.path)` needs one of `get`, `metric` or `known_answer: true`")
            }
            probes.append(Probe(name: try probe["name"]!.string(), check: check))
        }
        return SteadyState(within: try fields["within"]?.duration() ?? 60, probes: probes)
    }

    // MARK: - timeline

    static func phases(_ field: YAMLField, duration: Double) throws -> [Phase] {
        var phases: [Phase] = []
        var start = 0.0
        let items = try field.sequence()
        guard !items.isEmpty else { throw field.fail("`timeline` needs at least one phase") }
        for (index, item) in items.enumerated() {
            let fields = try item.mapping(allowed: ["phase", "duration", "steps"], required: ["phase"])
            let name = try fields["phase"]!.string()
            guard !phases.contains(where: { $0.name == name }), name != "all" else {
                throw fields["phase"]!.fail("phase name \(name) is used twice (or is the reserved `all`)")
            }
            let length: Double
            if let given = fields["duration"] {
                length = try given.duration()
            } else if index == items.count - 1 {
                length = duration - start
            } else {
                throw item.fail("`\(item.path)` needs `duration` (only the last phase may take the rest)")
            }
            guard length > 0 else { throw item.fail("phase \(name) has no time left (the run lasts \(duration) s)") }
            let end = start + length
            guard end <= duration + 1e-9 else {
                throw item.fail("phase \(name) ends at \(end) s, after the run's \(duration) s")
            }
            var steps: [Step] = []
            for step in try fields["steps"]?.sequence() ?? [] {
                let parsed = try self.step(step)
                guard parsed.at < length else {
                    throw step.fail("the step at \(parsed.at) s is past the end of phase \(name) (\(length) s)")
                }
                steps.append(parsed)
            }
            phases.append(Phase(name: name, start: start, end: end, steps: steps))
            start = end
        }
        guard abs(start - duration) < 1e-9 else {
            throw field.fail("the phases end at \(start) s but the run lasts \(duration) s")
        }
        return phases
    }

    static func step(_ field: YAMLField) throws -> Step {
        let fields = try field.mapping(allowed: [
            "at", "toxic", "disable_proxy", "reset_connections", "upstream", "app",
        ])
        let at = try fields["at"]?.duration() ?? 0
        let kinds = ["toxic", "disable_proxy", "upstream", "app"].filter { fields[$0] != nil }
        guard kinds.count == 1 else {
            throw field.fail("`\(field.path)` needs exactly one of `toxic`, `disable_proxy`, `upstream` or `app`")
        }
        if let app = fields["app"] {
            let signal = try app.string().uppercased()
            guard ["SIGTERM", "SIGKILL"].contains(signal) else { throw app.fail("`app` must be sigterm or sigkill") }
            return Step(at: at, action: .app(signal: signal), summary: "App sent \(signal)")
        }
        if let toxic = fields["toxic"] {
            let body = try toxic.mapping(
                allowed: ["proxy", "name", "type", "stream", "toxicity", "attributes"],
                required: ["proxy", "type"]
            )
            let proxy = try body["proxy"]!.string()
            let type = try body["type"]!.string()
            let stream = try body["stream"]?.string() ?? "downstream"
            guard ["upstream", "downstream"].contains(stream) else {
                throw body["stream"]!.fail("`stream` must be upstream or downstream")
            }
            let name = try body["name"]?.string() ?? "\(type)_\(stream)"
            var object: [String: Any] = ["type": type, "stream": stream, "name": name]
            if let toxicity = body["toxicity"] { object["toxicity"] = try toxicity.share() }
            if let attributes = body["attributes"] {
                object["attributes"] = try JSONSerialization.jsonObject(with: Data(try attributes.json().utf8))
            }
            let json = String(
                decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
                as: UTF8.self
            )
            return Step(
                at: at,
                action: .toxic(proxy: proxy, json: json, name: name),
                summary: "toxic \(name) on \(proxy)"
            )
        }
        if let proxy = fields["disable_proxy"] {
            let name = try proxy.string()
            let reset = try fields["reset_connections"]?.bool() ?? true
            return Step(
                at: at,
                action: .disableProxy(proxy: name, resetConnections: reset),
                summary: "proxy \(name) disabled"
            )
        }
        let behaviour = fields["upstream"]!
        guard behaviour.node.mapping != nil else { throw behaviour.fail("`\(behaviour.path)` must be a mapping") }
        return Step(at: at, action: .upstream(json: try behaviour.json()), summary: "upstream behaviour")
    }
}
