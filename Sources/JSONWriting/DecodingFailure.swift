import Foundation

/// Says where a JSON body went wrong, for a 400 an API client can act on: "wrong type at
/// action.status", "missing action", "not JSON".
public enum DecodingFailure {
    public static func describe(_ error: DecodingError) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let path = Self.path(context.codingPath)
            return path.isEmpty ? "" : " at \(path)"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = Self.path(context.codingPath)
            return "missing \(parent.isEmpty ? key.stringValue : "\(parent).\(key.stringValue)")"
        case .typeMismatch(_, let context): return "wrong type\(at(context))"
        case .valueNotFound(_, let context): return "missing value\(at(context))"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not JSON" : "invalid value\(at(context))"
        @unknown default: return "undecodable"
        }
    }

    /// A coding path as `behaviors[0].action.status`.
    public static func path(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }
}
