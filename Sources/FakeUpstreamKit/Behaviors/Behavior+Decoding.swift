import Foundation
import JSONWriting

extension Behavior {
    /// Decodes one behaviour from JSON, refusing keys it does not know: a misspelt
    /// `"path_prefx"` must not turn into "match everything". Errors say where.
    public static func decode(json data: Data) throws(BehaviorError) -> Behavior {
        try Self.decodeChecked(json: data) { try JSONDecoder().decode(Behavior.self, from: data) }
    }

    /// Decodes a `--config` file, `{"behaviors": [...]}`, with the same checks.
    public static func decodeConfig(json data: Data) throws(BehaviorError) -> [Behavior] {
        struct ConfigFile: Decodable { var behaviors: [Behavior]? }
        let file = try Self.decodeChecked(json: data, fileKeys: ["behaviors"]) {
            try JSONDecoder().decode(ConfigFile.self, from: data)
        }
        return file.behaviors ?? []
    }

    private static func decodeChecked<T>(
        json data: Data,
        fileKeys: [String]? = nil,
        _ decode: () throws -> T
    ) throws(BehaviorError) -> T {
        if let tree = try? JSONSerialization.jsonObject(with: data) {
            let unknown =
                fileKeys.map { BehaviorKeys.unknownKey(inFile: tree, fileKeys: $0) }
                ?? BehaviorKeys.unknownKey(in: tree, at: "")
            if let unknown {
                throw BehaviorError(
                    message: "unknown key \(unknown.path) (accepted here: \(unknown.accepted.joined(separator: ", ")))"
                )
            }
        }
        do {
            return try decode()
        } catch let error as DecodingError {
            throw BehaviorError(message: "not a valid behaviour: \(DecodingFailure.describe(error))")
        } catch {
            throw BehaviorError(message: "not a valid behaviour: \(error)")
        }
    }
}

/// The keys a behaviour's JSON may have at each place, taken from the types' own coding keys.
/// Objects with no entry (`match.query`, `match.headers`, `action.headers`) take any key.
enum BehaviorKeys {
    static let objects: [String: [String]] = [
        "": Behavior.CodingKeys.allCases.map(\.stringValue),
        "match": RequestMatcher.CodingKeys.allCases.map(\.stringValue),
        "action": FaultAction.CodingKeys.allCases.map(\.stringValue),
        "action.latency": FaultAction.Latency.CodingKeys.allCases.map(\.stringValue),
        "action.dribble": FaultAction.Dribble.CodingKeys.allCases.map(\.stringValue),
        "action.pagination": FaultAction.PaginationLie.CodingKeys.allCases.map(\.stringValue),
    ]

    /// The first key (in sorted order) that a behaviour at `place` does not accept, with its
    /// full path and the keys accepted there.
    static func unknownKey(
        in value: Any,
        at place: String,
        shownAs prefix: String = ""
    ) -> (path: String, accepted: [String])? {
        guard let object = value as? [String: Any], let accepted = Self.objects[place] else { return nil }
        for key in object.keys.sorted() {
            let shown = prefix.isEmpty ? key : "\(prefix).\(key)"
            guard accepted.contains(key) else { return (shown, accepted) }
            let child = place.isEmpty ? key : "\(place).\(key)"
            if let found = Self.unknownKey(in: object[key] as Any, at: child, shownAs: shown) { return found }
        }
        return nil
    }

    /// The same for a config file: its own keys, then each behaviour in `behaviors`.
    static func unknownKey(inFile value: Any, fileKeys: [String]) -> (path: String, accepted: [String])? {
        guard let object = value as? [String: Any] else { return nil }
        for key in object.keys.sorted() where !fileKeys.contains(key) { return (key, fileKeys) }
        for (index, behavior) in (object["behaviors"] as? [Any] ?? []).enumerated() {
            if let found = Self.unknownKey(in: behavior, at: "", shownAs: "behaviors[\(index)]") { return found }
        }
        return nil
    }
}
