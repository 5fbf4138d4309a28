/// Reads typed values out of an environment dictionary, producing a ``ConfigError`` that names
/// the variable for anything it cannot use. Unset and empty variables take the default.
struct EnvironmentReader {
    let environment: [String: String]

    func raw(_ name: String) -> String? {
        guard let value = self.environment[name], !value.isEmpty else { return nil }
        return value
    }

    func string(_ name: String, default value: String) -> String {
        self.raw(name) ?? value
    }

    /// A decimal integer of ASCII digits within `range`.
    func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let text = self.raw(name) else { return value }
        guard let parsed = StrictInteger.parse(text), range.contains(parsed) else {
            throw ConfigError(
                variable: name,
                value: text,
                accepted: "an integer from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return parsed
    }

    /// A number of seconds (decimals allowed), at least `minimum`.
    func seconds(_ name: String, default value: Double, minimum: Double = 0) throws(ConfigError) -> Duration {
        guard let text = self.raw(name) else { return .seconds(value) }
        guard let parsed = Self.decimal(text), parsed >= minimum, parsed <= 31_536_000 else {
            let lower = minimum == 0 ? "0" : "\(minimum)"
            throw ConfigError(
                variable: name,
                value: text,
                accepted: "a number of seconds from \(lower) to 31536000, e.g. 5 or 0.5"
            )
        }
        return .milliseconds(Int64((parsed * 1000).rounded()))
    }

    /// A non-negative decimal number.
    func number(_ name: String, default value: Double) throws(ConfigError) -> Double {
        guard let text = self.raw(name) else { return value }
        guard let parsed = Self.decimal(text), parsed <= 1_000_000_000 else {
            throw ConfigError(variable: name, value: text, accepted: "a non-negative number, e.g. 10 or 2.5")
        }
        return parsed
    }

    /// 1/0, true/false, yes/no, in any case.
    func bool(_ name: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let text = self.raw(name) else { return value }
        switch text.lowercased() {
        case "1", "true", "yes": return true
        case "0", "false", "no": return false
        default: throw ConfigError(variable: name, value: text, accepted: "one of 1/0, true/false, yes/no")
        }
    }

    /// One of a fixed set of words (case-insensitive); returns the lowercase word.
    func choice(_ name: String, default value: String, among choices: [String]) throws(ConfigError) -> String {
        guard let text = self.raw(name) else { return value }
        let lowered = text.lowercased()
        guard choices.contains(lowered) else {
            throw ConfigError(variable: name, value: text, accepted: "one of " + choices.joined(separator: ", "))
        }
        return lowered
    }

    /// Digits with at most one decimal point: no sign, exponent, spaces, `inf` or `nan`.
    static func decimal(_ text: String) -> Double? {
        var dots = 0
        var digits = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                dots += 1
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits += 1
            } else {
                return nil
            }
        }
        guard digits > 0, dots <= 1, text.utf8.count <= 32 else { return nil }
        return Double(text)
    }
}
