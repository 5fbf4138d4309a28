import JSONWriting

/// One toxic attribute: a number (Toxiproxy's toxics only have these), a string (matchers,
/// SQLSTATEs, bodies) or a table of strings (extra response headers).
public enum AttributeValue: Codable, Sendable, Equatable {
    case number(Double)
    case string(String)
    case table([String: String])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else {
            self = .table(try container.decode([String: String].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let number): try container.encode(number)
        case .string(let string): try container.encode(string)
        case .table(let table): try container.encode(table)
        }
    }

    var number: Double? {
        if case .number(let number) = self { return number }
        return nil
    }

    var string: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    /// A string as it is, a number as text (whole numbers without a decimal point); nil for a table.
    var text: String? {
        switch self {
        case .string(let string): return string
        case .number(let number): return number.plainText
        case .table: return nil
        }
    }

    var table: [String: String]? {
        if case .table(let table) = self { return table }
        return nil
    }

    /// Writes the value; whole numbers as integers, as Toxiproxy's Go clients (int fields) expect.
    func write(_ key: String, into json: inout JSONWriter) {
        switch self {
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 {
                json.field(key, Int(value))
            } else {
                json.field(key, value)
            }
        case .string(let value):
            json.field(key, value)
        case .table(let table):
            json.key(key)
            json.beginObject()
            for name in table.keys.sorted() { json.field(name, table[name] ?? "") }
            json.endObject()
        }
    }
}
