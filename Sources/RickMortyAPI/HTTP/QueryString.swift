import Foundation

/// Splits a raw query string into decoded name/value pairs, in order (`+` is a space, `%XX` is
/// a byte; an undecodable escape is kept as written).
enum QueryString {
    static func items(_ query: String?) -> [(name: Substring, value: Substring)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            return (name, value)
        }
    }

    private static func decode(_ text: Substring) -> Substring {
        // Byte scan: most values need no decoding, and Foundation's string search is slow here.
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return text }
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return Substring(spaced.removingPercentEncoding ?? spaced)
    }
}
