/// `timeout`: no data gets through; the connection closes after `timeout` ms (0 = held open
/// until the toxic goes).
struct TimeoutFault: StreamFault {
    static let type = "timeout"
    static let defaults: [String: AttributeValue] = ["timeout": .number(0)]

    let timeout: Double

    init(_ toxic: Toxic) {
        self.timeout = toxic.number("timeout")
    }

    func shape(_ pieces: inout [StreamPiece], on connection: LinkToxic) -> Bool {
        pieces.removeAll()
        return false
    }

    var timer: FaultTimer? { self.timeout > 0 ? FaultTimer(milliseconds: self.timeout, reset: false) : nil }
}
