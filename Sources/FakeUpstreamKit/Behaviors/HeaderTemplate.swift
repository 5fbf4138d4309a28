import Foundation
import SystemSupport

/// Header values that depend on when the answer is sent: `{{now+3s}}` (or `{{now}}`, `{{now-2s}}`)
/// becomes the HTTP-date (IMF-fixdate) that many seconds from the moment FakeUpstream answers,
/// so a scripted `Retry-After` HTTP-date stays in the future however late the behaviour matches.
enum HeaderTemplate {
    /// `value` with every `{{now±Ns}}` replaced; anything else is left as it is.
    static func expand(_ value: String, now: Date = Date()) -> String {
        guard value.contains("{{now") else { return value }
        var result = ""
        var rest = value[...]
        while let open = rest.range(of: "{{now"), let close = rest[open.upperBound...].range(of: "}}") {
            result += rest[..<open.lowerBound]
            let offset = rest[open.upperBound..<close.lowerBound]
            if let seconds = Self.seconds(offset) {
                result += Self.httpDate(now.addingTimeInterval(seconds))
            } else {
                result += rest[open.lowerBound..<close.upperBound]
            }
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    /// `""` → 0, `+3s` → 3, `-2s` → -2; nil for anything else.
    private static func seconds(_ text: Substring) -> Double? {
        if text.isEmpty { return 0 }
        guard let sign = text.first, sign == "+" || sign == "-", text.hasSuffix("s"),
            let amount = Double(text.dropFirst().dropLast()), amount.isFinite
        else { return nil }
        return sign == "+" ? amount : -amount
    }

    static func httpDate(_ date: Date) -> String {
        CivilTime(unixSeconds: Int64(date.timeIntervalSince1970.rounded(.down))).httpDate
    }
}
