import Foundation
import JSONWriting
import Logging
import Synchronization

/// Writes one line per log event to standard output: JSON (the default, for log shippers) or
/// `key=value` text for people. Metadata keys keep their dotted names (`db.backend`).
struct StdoutLogHandler: LogHandler {
    enum Format: Sendable { case json, text }

    private static let output = Mutex(())

    let label: String
    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: Format, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line: [UInt8]
        switch self.format {
        case .json: line = Self.json(event: event, label: self.label, metadata: merged)
        case .text: line = Array(Self.text(event: event, metadata: merged).utf8)
        }
        line.append(UInt8(ascii: "\n"))
        Self.output.withLock { _ in
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(1, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    static func json(event: LogEvent, label: String, metadata: Logger.Metadata) -> [UInt8] {
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.field("ts", Self.timestamp())
        json.field("level", event.level.rawValue)
        json.field("logger", label)
        json.field("msg", event.message.description)
        for key in metadata.keys.sorted() {
            json.key(key)
            Self.append(metadata[key] ?? .string(""), into: &json)
        }
        json.endObject()
        return json.bytes
    }

    static func text(event: LogEvent, metadata: Logger.Metadata) -> String {
        var line = "\(Self.timestamp()) \(event.level.rawValue.uppercased()) \(event.message)"
        for key in metadata.keys.sorted() { line += " \(key)=\(metadata[key].map { "\($0)" } ?? "")" }
        return line
    }

    private static func append(_ value: Logger.Metadata.Value, into json: inout JSONWriter) {
        switch value {
        case .string(let text): json.string(text)
        case .stringConvertible(let convertible):
            if let int = convertible as? Int {
                json.int(int)
            } else if let double = convertible as? Double {
                json.double(double)
            } else if let bool = convertible as? Bool {
                json.bool(bool)
            } else {
                json.string(convertible.description)
            }
        case .array(let values):
            json.beginArray()
            for item in values { Self.append(item, into: &json) }
            json.endArray()
        case .dictionary(let dictionary):
            json.beginObject()
            for key in dictionary.keys.sorted() {
                json.key(key)
                Self.append(dictionary[key] ?? .string(""), into: &json)
            }
            json.endObject()
        }
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-22T00:16:45.123Z`.
    static func timestamp() -> String {
        Self.timestamp(unixMilliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// The same for a given time. Plain arithmetic on the proleptic Gregorian calendar (no C time
    /// types, whose declarations several imported modules claim).
    static func timestamp(unixMilliseconds: Int64) -> String {
        let (seconds, millisecond) = (unixMilliseconds.floorDivided(by: 1000), unixMilliseconds.floorModulo(1000))
        let (day, secondOfDay) = (seconds.floorDivided(by: 86_400), seconds.floorModulo(86_400))
        // Days since 1970-01-01 to year, month, day, counting in 400-year eras from 0000-03-01.
        let shifted = day + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let dayOfMonth = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(dayOfMonth, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millisecond, 3))Z"
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
