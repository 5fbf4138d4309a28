import Foundation
import JSONWriting
import Logging
import Synchronization
import SystemSupport

/// Writes one line per log event to standard output: JSON (the default, for log shippers) or
/// `key=value` text for people. Metadata keys keep their dotted names (`db.backend`).
struct StdoutLogHandler: LogHandler {
    enum Format: Sendable { case json, text }

    /// A line's metadata, in the order it is written.
    typealias Fields = [(key: String, value: Logger.Metadata.Value)]

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
        let fields = Self.fields(self.metadata, self.metadataProvider?.get(), event.metadata)
        let unixMilliseconds = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        var line: [UInt8]
        switch self.format {
        case .json:
            line = Self.json(event: event, label: self.label, fields: fields, unixMilliseconds: unixMilliseconds)
        case .text: line = Array(Self.text(event: event, fields: fields, unixMilliseconds: unixMilliseconds).utf8)
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

    /// One event's metadata from all its sources, sorted by key; where sources share a key, the
    /// later one wins (the event's own over the provider's over the logger's). A line has a
    /// handful of keys: sorting their positions costs less than merging dictionaries, and less
    /// than moving the values themselves.
    static func fields(_ sources: Logger.Metadata?...) -> Fields {
        var entries: Fields = []
        entries.reserveCapacity(sources.reduce(0) { $0 + ($1?.count ?? 0) })
        for source in sources {
            for entry in source ?? [:] { entries.append(entry) }
        }
        var order = Array(entries.indices)
        order.sort { left, right in
            let (leftKey, rightKey) = (entries[left].key, entries[right].key)
            return leftKey == rightKey ? left < right : leftKey < rightKey
        }
        var fields: Fields = []
        fields.reserveCapacity(entries.count)
        for (position, index) in order.enumerated()
        where position == order.count - 1 || entries[order[position + 1]].key != entries[index].key {
            fields.append(entries[index])
        }
        return fields
    }

    static func json(
        event: LogEvent,
        label: String,
        fields: Fields,
        unixMilliseconds: Int64
    ) -> [UInt8] {
        var json = JSONWriter(capacity: 320)
        json.beginObject()
        json.field("ts") { CivilTime(unixMilliseconds: unixMilliseconds).appendRFC3339(to: &$0) }
        json.field("level", event.level.rawValue)
        json.field("logger", label)
        json.field("msg", event.message.description)
        for field in fields {
            json.key(field.key)
            Self.append(field.value, into: &json)
        }
        json.endObject()
        return json.bytes
    }

    static func text(
        event: LogEvent,
        fields: Fields,
        unixMilliseconds: Int64
    ) -> String {
        var line =
            "\(Self.timestamp(unixMilliseconds: unixMilliseconds)) \(event.level.rawValue.uppercased()) \(event.message)"
        for field in fields { line += " \(field.key)=\(field.value)" }
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
    static func timestamp(unixMilliseconds: Int64) -> String {
        var bytes: [UInt8] = []
        CivilTime(unixMilliseconds: unixMilliseconds).appendRFC3339(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
