import Foundation

/// Numbers as the reports write them: short, and in the unit people read.
public enum Format {
    /// `12`, `0.5`, `99.9`: no trailing zeros, at most three decimals.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf") }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// `612 ms` below ten seconds (`0.35 ms` below one), else `12.5 s`.
    public static func seconds(_ value: Double) -> String {
        if value < 0.001 { return "\(self.number((value * 1000 * 100).rounded() / 100)) ms" }
        if value < 10 { return "\(self.number((value * 1000).rounded())) ms" }
        return "\(self.number((value * 10).rounded() / 10)) s"
    }

    /// `99.5 %`.
    public static func percent(_ share: Double) -> String {
        "\(self.number((share * 1000).rounded() / 10)) %"
    }
}
