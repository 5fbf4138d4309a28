/// `slow_close`: a close travelling this direction waits `delay` ms.
struct SlowCloseFault: StreamFault {
    static let type = "slow_close"
    static let defaults: [String: AttributeValue] = ["delay": .number(0)]

    let closeDelay: Double

    init(_ toxic: Toxic) {
        self.closeDelay = toxic.number("delay")
    }
}
