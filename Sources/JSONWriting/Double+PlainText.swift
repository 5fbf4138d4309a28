extension Double {
    /// The number as a person writes it: `5`, `0.5`; whole numbers without a decimal point (JSON
    /// output, which wants `5.0` for a double, uses ``JSONWriter/double(_:)`` instead).
    public var plainText: String {
        self == self.rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
