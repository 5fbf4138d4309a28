/// `reset_peer`: a TCP RST to the client after `timeout` ms (0 = at once), on connections that
/// were already open too.
struct ResetPeerFault: StreamFault {
    static let type = "reset_peer"
    static let defaults: [String: AttributeValue] = ["timeout": .number(0)]

    let timer: FaultTimer?

    init(_ toxic: Toxic) {
        self.timer = FaultTimer(milliseconds: toxic.number("timeout"), reset: true)
    }
}
