/// Writes JSON straight into bytes with keys in the order they are written. Used for bodies whose
/// key order is part of the contract, and on the hot path where `JSONEncoder` costs too much.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 256) {
        self.bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() {
        self.separate()
        self.bytes.append(UInt8(ascii: "{"))
        self.needsComma = false
    }
    public mutating func endObject() {
        self.bytes.append(UInt8(ascii: "}"))
        self.needsComma = true
    }
    public mutating func beginArray() {
        self.separate()
        self.bytes.append(UInt8(ascii: "["))
        self.needsComma = false
    }
    public mutating func endArray() {
        self.bytes.append(UInt8(ascii: "]"))
        self.needsComma = true
    }

    public mutating func key(_ key: String) {
        self.separate()
        self.appendQuoted(key)
        self.bytes.append(UInt8(ascii: ":"))
        self.needsComma = false
    }

    public mutating func int(_ value: Int) { self.raw(String(value)) }
    public mutating func bool(_ value: Bool) { self.raw(value ? "true" : "false") }
    public mutating func null() { self.raw("null") }

    /// A finite double; non-finite values are written as `null`, since JSON has no spelling for them.
    public mutating func double(_ value: Double) {
        guard value.isFinite else { return self.null() }
        self.raw(value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) + ".0" : String(value))
    }

    /// A key and its value, for the common case of a scalar member.
    public mutating func field(_ key: String, _ value: Int) {
        self.key(key)
        self.int(value)
    }

    public mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        self.bool(value)
    }

    public mutating func field(_ key: String, _ value: String?) {
        self.key(key)
        self.optionalString(value)
    }

    public mutating func field(_ key: String, _ value: Double) {
        self.key(key)
        self.double(value)
    }

    /// A key and a string given as UTF-8 bytes (`nil` is written as `null`).
    public mutating func field(_ key: String, utf8 value: UnsafeRawBufferPointer?) {
        self.key(key)
        guard let value else { return self.null() }
        self.separate()
        self.appendQuoted(utf8: value)
        self.needsComma = true
    }

    /// A key and a string whose characters `append` writes straight into the output. It must
    /// append only printable ASCII other than `"` and `\` (nothing is escaped): a timestamp,
    /// digits.
    public mutating func field(_ key: String, ascii append: (inout [UInt8]) -> Void) {
        self.key(key)
        self.bytes.append(UInt8(ascii: "\""))
        append(&self.bytes)
        self.bytes.append(UInt8(ascii: "\""))
        self.needsComma = true
    }

    public mutating func string(_ value: String) {
        self.separate()
        self.appendQuoted(value)
        self.needsComma = true
    }

    public mutating func optionalString(_ value: String?) {
        if let value { self.string(value) } else { self.null() }
    }

    private mutating func raw(_ text: String) {
        self.separate()
        self.bytes.append(contentsOf: text.utf8)
        self.needsComma = true
    }

    private mutating func separate() {
        if self.needsComma { self.bytes.append(UInt8(ascii: ",")) }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Whether any of the eight bytes of `word` is a control character, `"` or `\\`: the
    /// classic test for a zero byte (`(x - 0x01…) & ~x & 0x80…`), on the word and on the word
    /// XOR each character, and its "less than n" form for the controls.
    @inline(__always)
    static func needsEscaping(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let control = (word &- ones &* 0x20) & ~word
        return ((control | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)) & highs) != 0
    }

    private mutating func appendQuoted(_ text: String) {
        var text = text
        text.withUTF8 { self.appendQuoted(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Copies runs that need no escaping in one go, escaping the bytes between them. The scan
    /// looks at eight bytes a step while none of them needs escaping.
    private mutating func appendQuoted(utf8: UnsafeRawBufferPointer) {
        self.bytes.append(UInt8(ascii: "\""))
        var start = 0
        var index = 0
        while index < utf8.count {
            if index + 8 <= utf8.count,
                !Self.needsEscaping(utf8.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            {
                index += 8
                continue
            }
            let byte = utf8[index]
            index += 1
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            self.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[start..<index - 1]))
            start = index
            switch byte {
            case UInt8(ascii: "\""): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): self.bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            default:
                self.bytes.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                    Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xF)],
                ])
            }
        }
        self.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[start...]))
        self.bytes.append(UInt8(ascii: "\""))
    }
}
