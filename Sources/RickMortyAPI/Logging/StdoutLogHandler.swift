import Foundation
import JSONWriting
import Logging
import Synchronization
import SystemSupport

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

    /// The same for a given time.
    static func timestamp(unixMilliseconds: Int64) -> String {
        let time = CivilTime(unixMilliseconds: unixMilliseconds)
        let pad = CivilTime.pad
        return "\(pad(time.year, 4))-\(pad(time.month, 2))-\(pad(time.day, 2))T\(pad(time.hour, 2)):"
            + "\(pad(time.minute, 2)):\(pad(time.second, 2)).\(pad(time.millisecond, 3))Z"
    }
}
