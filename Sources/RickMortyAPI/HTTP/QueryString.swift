import Foundation

/// Splits a raw query string into decoded name/value pairs, in order (`+` is a space, `%XX` is
/// a byte; an undecodable escape is kept as written).
///
/// The pairs are a lazy sequence of slices of the query itself: reading `?page=2&page_size=20`
/// allocates nothing. Only a part that needs decoding becomes a new string.
enum QueryString {
    static func items(_ query: Substring?) -> Pairs { Pairs(query: query ?? "") }

    struct Pairs: Sequence, IteratorProtocol {
        private var rest: Substring

        fileprivate init(query: Substring) { self.rest = query }

        mutating func next() -> (name: Substring, value: Substring)? {
            while !self.rest.isEmpty {
                let end = self.rest.utf8.firstIndex(of: UInt8(ascii: "&")) ?? self.rest.endIndex
                let pair = self.rest[..<end]
                self.rest = end == self.rest.endIndex ? "" : self.rest[self.rest.utf8.index(after: end)...]
                if pair.isEmpty { continue }  // `a=1&&b=2`: empty parts are skipped
                guard let equals = pair.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                    return (QueryString.decode(pair), "")
                }
                let value = pair[pair.utf8.index(after: equals)...]
                return (QueryString.decode(pair[..<equals]), QueryString.decode(value))
            }
            return nil
        }
    }

    fileprivate static func decode(_ text: Substring) -> Substring {
        // Byte scan: most values need no decoding, and Foundation's string search is slow here.
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return text }
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return Substring(spaced.removingPercentEncoding ?? spaced)
    }
}
