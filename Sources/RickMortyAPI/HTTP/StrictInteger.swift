/// Strict decimal integers: ASCII digits only (leading zeros allowed), no sign, no separators.
enum StrictInteger {
    /// Parses `text`, or returns nil for anything but plain digits or a value beyond `Int.max`.
    static func parse<S: StringProtocol>(_ text: S) -> Int? {
        var value = 0
        var sawDigit = false
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            sawDigit = true
        }
        return sawDigit ? value : nil
    }
}
