/// A Unix time as a UTC calendar date and time of day, by plain arithmetic on the proleptic
/// Gregorian calendar (no C time types, whose declarations several imported modules claim).
/// The App's log timestamps and `Date` header, and FakeUpstream's HTTP-date templates, are
/// written from it.
public struct CivilTime: Equatable, Sendable {
    public let year: Int64
    public let month: Int64
    public let day: Int64
    public let hour: Int64
    public let minute: Int64
    public let second: Int64
    /// 0 is Sunday.
    public let weekday: Int64
    public let millisecond: Int64

    /// The time `unixMilliseconds` after 1970-01-01T00:00:00Z (negative: before).
    public init(unixMilliseconds: Int64) {
        self.init(unixSeconds: unixMilliseconds.floorDivided(by: 1000), millisecond: unixMilliseconds.floorModulo(1000))
    }

    public init(unixSeconds: Int64) {
        self.init(unixSeconds: unixSeconds, millisecond: 0)
    }

    private init(unixSeconds: Int64, millisecond: Int64) {
        self.millisecond = millisecond
        let (days, secondOfDay) = (unixSeconds.floorDivided(by: 86_400), unixSeconds.floorModulo(86_400))
        // Days since 1970-01-01 to year, month, day, counting in 400-year eras from 0000-03-01.
        let shifted = days + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        self.day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        self.month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        self.year = yearOfEra + era * 400 + (self.month <= 2 ? 1 : 0)
        self.hour = secondOfDay / 3600
        self.minute = secondOfDay / 60 % 60
        self.second = secondOfDay % 60
        // 1970-01-01 was a Thursday.
        self.weekday = (days + 4).floorModulo(7)
    }

    /// RFC 3339 UTC with milliseconds, `2026-11-22T00:16:45.123Z`, appended to `bytes` as ASCII
    /// digits, without building strings (every log line carries one).
    public func appendRFC3339(to bytes: inout [UInt8]) {
        Self.append(
            [
                (self.year, 4, "-"), (self.month, 2, "-"), (self.day, 2, "T"), (self.hour, 2, ":"),
                (self.minute, 2, ":"), (self.second, 2, "."), (self.millisecond, 3, "Z"),
            ],
            to: &bytes
        )
    }

    /// RFC 9110's IMF-fixdate, as the `Date` header carries it: `Sat, 05 Dec 2026 08:37:40 GMT`.
    public var httpDate: String {
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var bytes = Array("\(weekdays[Int(self.weekday)]), ".utf8)
        Self.append([(self.day, 2, " ")], to: &bytes)
        bytes += Array("\(months[Int(self.month - 1)]) ".utf8)
        Self.append(
            [(self.year, 4, " "), (self.hour, 2, ":"), (self.minute, 2, ":"), (self.second, 2, " ")],
            to: &bytes
        )
        return String(decoding: bytes + Array("GMT".utf8), as: UTF8.self)
    }

    /// Each value zero-padded to its width, followed by its separator.
    private static func append(_ fields: [(value: Int64, width: Int, then: Unicode.Scalar)], to bytes: inout [UInt8]) {
        for field in fields {
            Self.appendDigits(field.value, width: field.width, to: &bytes)
            bytes.append(UInt8(ascii: field.then))
        }
    }

    /// `value` in decimal, left-padded with zeros to at least `width` digits (a year before 0
    /// gets its minus sign in front).
    private static func appendDigits(_ value: Int64, width: Int, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        var digits = 1
        while digits < width || magnitude / divisor >= 10 {
            divisor *= 10
            digits += 1
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        }
    }
}

extension Int64 {
    /// Division rounding towards minus infinity (times before 1970 stay on the right day).
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    fileprivate func floorModulo(_ divisor: Int64) -> Int64 {
        self - self.floorDivided(by: divisor) * divisor
    }
}
