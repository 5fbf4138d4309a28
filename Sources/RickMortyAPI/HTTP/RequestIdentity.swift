import Synchronization

/// Request ids and W3C trace context for logs (docs/api.md, "Routes").
enum RequestIdentity {

    /// The client's `X-Request-ID` (`given`) when it is 1–128 visible ASCII characters (so it
    /// cannot forge log lines); otherwise a new random id.
    static func requestID(from given: String?) -> String {
        if let given, !given.isEmpty, given.utf8.count <= 128,
            given.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E })
        {
            return given
        }
        return Self.generate()
    }

    /// A random 64-bit prefix chosen at start and a 64-bit counter: unique within the process and
    /// across restarts, with no system call per request (random numbers come from `getrandom`).
    private static let prefix = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(0)

    /// 32 lowercase hex digits, written straight into the string's storage.
    static func generate() -> String {
        let high = Self.prefix
        let low = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in 0..<16 {
                let shift = UInt64(60 - index * 4)
                buffer[index] = digits.utf8Start[Int((high >> shift) & 0xF)]
                buffer[16 + index] = digits.utf8Start[Int((low >> shift) & 0xF)]
            }
            return 32
        }
    }

    /// The trace and parent span ids of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
    static func traceContext(from value: String?) -> (traceID: String, spanID: String)? {
        guard let value else { return nil }
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        func isLowerHex(_ part: Substring, _ length: Int) -> Bool {
            part.utf8.count == length && part.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        }
        guard parts.count >= 4, isLowerHex(parts[0], 2), parts[0] != "ff", isLowerHex(parts[1], 32),
            isLowerHex(parts[2], 16), isLowerHex(parts[3], 2),
            parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" })
        else { return nil }
        return (String(parts[1]), String(parts[2]))
    }
}
