/// A configuration value that cannot be used. Its description is the one line printed at startup.
struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// The environment variable (or flag) at fault.
    let variable: String
    /// The value as given, with any password redacted.
    let value: String
    /// What would have been accepted.
    let accepted: String

    var description: String {
        "invalid \(self.variable)=\"\(self.value)\": expected \(self.accepted)"
    }
}
