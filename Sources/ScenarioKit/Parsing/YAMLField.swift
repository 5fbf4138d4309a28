import Foundation
import Yams

/// Why a scenario file was refused: the file, the line, and what is wrong there.
public struct ScenarioFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(self.file):\(self.line): \(self.message)" }
}

/// One node of a scenario file with where it is (file, line) and how it was reached (`load.mix[2]`),
/// so every refusal can say both.
struct YAMLField {
    let node: Node
    let path: String
    let file: String

    /// Whether YAML resolved the node to this type (a quoted "1" is text, a bare 1 a number).
    private func isA(_ name: Tag.Name) -> Bool { self.node.tag.description == name.rawValue }

    var line: Int { self.node.mark?.line ?? 1 }

    func fail(_ message: String) -> ScenarioFileError {
        ScenarioFileError(file: self.file, line: self.line, message: message)
    }

    /// The mapping's fields by key; a key outside `allowed` is refused with its own line, and
    /// every key in `required` must be there.
    func mapping(allowed: [String], required: [String] = []) throws -> [String: YAMLField] {
        guard let mapping = self.node.mapping else { throw self.fail("`\(self.path)` must be a mapping") }
        var fields: [String: YAMLField] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw self.fail("`\(self.path)` has a key that is not a string") }
            guard allowed.contains(name) else {
                let known = allowed.map { "`\($0)`" }.joined(separator: ", ")
                throw ScenarioFileError(
                    file: self.file,
                    line: key.mark?.line ?? self.line,
                    message: "unknown key `\(name)` in `\(self.path)` (known: \(known))"
                )
            }
            fields[name] = YAMLField(
                node: value,
                path: self.path.isEmpty ? name : "\(self.path).\(name)",
                file: self.file
            )
        }
        for name in required where fields[name] == nil {
            throw self.fail("`\(self.path)` needs `\(name)`")
        }
        return fields
    }

    /// The mapping's keys, for free-form mappings (a probe's `json`, latency percentiles).
    var keys: [String] { self.node.mapping?.keys.compactMap(\.string) ?? [] }

    func sequence() throws -> [YAMLField] {
        guard let sequence = self.node.sequence else { throw self.fail("`\(self.path)` must be a list") }
        return sequence.enumerated().map { YAMLField(node: $1, path: "\(self.path)[\($0)]", file: self.file) }
    }

    /// A single item or a list of them, as a list.
    func list() throws -> [YAMLField] {
        self.node.sequence == nil ? [self] : try self.sequence()
    }

    func string() throws -> String {
        guard let scalar = self.node.scalar, !self.isA(.null) else {
            throw self.fail("`\(self.path)` must be text")
        }
        return scalar.string
    }

    func int(in range: ClosedRange<Int>) throws -> Int {
        guard let value = self.node.int, self.isA(.int) else {
            throw self.fail("`\(self.path)` must be a whole number")
        }
        guard range.contains(value) else {
            throw self.fail("`\(self.path)` must be from \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        return value
    }

    func number() throws -> Double {
        guard let value = self.node.float, self.isA(.int) || self.isA(.float), value.isFinite else {
            throw self.fail("`\(self.path)` must be a number")
        }
        return value
    }

    func bool() throws -> Bool {
        guard let value = self.node.bool, self.isA(.bool) else {
            throw self.fail("`\(self.path)` must be true or false")
        }
        return value
    }

    /// `250ms`, `20s`, `2m` or a bare number of seconds, as seconds.
    func duration() throws -> Double {
        if self.isA(.int) || self.isA(.float), let seconds = self.node.float, seconds.isFinite, seconds >= 0 {
            return seconds
        }
        let text = try self.string().trimmingCharacters(in: .whitespaces)
        guard let seconds = Self.seconds(text) else {
            throw self.fail("`\(self.path)` must be a duration such as 500ms, 20s or 2m, got \"\(text)\"")
        }
        return seconds
    }

    static func seconds(_ text: String) -> Double? {
        for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return value * scale
        }
        return nil
    }

    /// A share: `99.5%` or a number from 0 to 1.
    func share() throws -> Double {
        if let text = self.node.scalar?.string, text.hasSuffix("%"), let percent = Double(text.dropLast()),
            (0...100).contains(percent)
        {
            return percent / 100
        }
        guard let value = try? self.number(), (0...1).contains(value) else {
            throw self.fail("`\(self.path)` must be a share such as 99.5% or 0.995")
        }
        return value
    }

    /// The node as JSON text: what Chaos and FakeUpstream take.
    func json() throws -> String {
        let data = try JSONSerialization.data(withJSONObject: try self.jsonValue(), options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    private func jsonValue() throws -> Any {
        switch self.node {
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw self.fail("`\(self.path)` has a key that is not a string") }
                object[name] = try YAMLField(node: value, path: "\(self.path).\(name)", file: self.file).jsonValue()
            }
            return object
        case .sequence:
            return try self.sequence().map { try $0.jsonValue() }
        case .scalar:
            return try self.scalar().json
        case .alias:
            throw self.fail("`\(self.path)`: YAML aliases are not supported here")
        }
    }

    /// A scalar as a JSON scalar, typed the way YAML resolved it.
    func scalar() throws -> JSONScalar {
        if self.isA(.null) { return .null }
        if self.isA(.bool) { return .bool(try self.bool()) }
        if self.isA(.int) || self.isA(.float) { return .number(try self.number()) }
        return .string(try self.string())
    }
}

extension JSONScalar {
    var json: Any {
        switch self {
        case .string(let text): text
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? Int(value) as Any : value
        case .bool(let value): value
        case .null: NSNull()
        }
    }
}
