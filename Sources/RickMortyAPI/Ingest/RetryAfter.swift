/// Parses an HTTP `Retry-After` value (RFC 9110 section 10.2.3): delta-seconds or an HTTP-date.
enum RetryAfter {
    /// The wait the value asks for, measured from `now` (Unix seconds); nil when it is garbage.
    /// A date in the past means no wait. Huge values saturate rather than overflow.
    static func parse(_ value: String, now: Double) -> Duration? {
        let text = value.trimmingASCIISpaces()
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            let seconds = text.utf8.count > 12 ? 999_999_999_999 : (Int64(text) ?? 0)
            return .seconds(seconds)
        }
        guard let date = HTTPDate.parse(text) else { return nil }
        let delta = max(0, date - now)
        return .milliseconds(Int64(min(delta, 999_999_999) * 1000))
    }
}

/// HTTP-date parsing: IMF-fixdate, plus the obsolete RFC 850 and asctime forms recipients must accept.
enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Unix seconds for `text`, or nil when it is not an HTTP-date.
    static func parse(_ text: String) -> Double? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        if words.count == 6, words[0].hasSuffix(","), words[5] == "GMT",
            let day = Int(words[1]), let month = self.month(words[2]), let year = Int(words[3]),
            let time = self.time(words[4])
        {
            return self.unix(year: year, month: month, day: day, time: time)
        }
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        if words.count == 4, words[0].hasSuffix(","), words[3] == "GMT" {
            let parts = words[1].split(separator: "-")
            if parts.count == 3, let day = Int(parts[0]), let month = self.month(parts[1]), let short = Int(parts[2]),
                let time = self.time(words[2])
            {
                // Two-digit years more than 50 years ahead belong to the previous century.
                let year = short < 70 ? 2000 + short : 1900 + short
                return self.unix(year: year, month: month, day: day, time: time)
            }
        }
        // asctime: "Sun Nov  6 08:49:37 1994"
        if words.count == 5, let month = self.month(words[1]), let day = Int(words[2]), let time = self.time(words[3]),
            let year = Int(words[4])
        {
            return self.unix(year: year, month: month, day: day, time: time)
        }
        return nil
    }

    private static func month(_ word: Substring) -> Int? {
        self.months.firstIndex(of: String(word)).map { $0 + 1 }
    }

    private static func time(_ word: Substring) -> Int? {
        let parts = word.split(separator: ":")
        guard parts.count == 3, let h = Int(parts[0]), let m = Int(parts[1]), let s = Int(parts[2]),
            (0...23).contains(h), (0...59).contains(m), (0...60).contains(s)
        else { return nil }
        return h * 3600 + m * 60 + s
    }

    private static func unix(year: Int, month: Int, day: Int, time: Int) -> Double? {
        guard (1...31).contains(day), (1...9999).contains(year) else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Double(days * 86_400 + time)
    }
}

extension String {
    /// The string without leading and trailing ASCII spaces and tabs.
    func trimmingASCIISpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
