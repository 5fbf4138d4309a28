import NIOCore

/// `http_delay`: the response of a matching request waits `delay` ms, before its headers
/// (`target: headers`, time to first byte) or between its headers and its body (`target: body`).
struct HTTPDelayFault: HTTPFault {
    static let type = "http_delay"
    static let defaults: [String: AttributeValue] = HTTPMatcher.defaults.merging([
        "delay": .number(0), "target": .string("headers"),
    ]) { $1 }
    static let choices: [String: Set<String>] = ["target": ["headers", "body"]]

    let matcher: HTTPMatcher
    let delay: Double
    let body: Bool

    init(_ toxic: Toxic) {
        self.matcher = HTTPMatcher(toxic)
        self.delay = toxic.number("delay")
        self.body = toxic.string("target").lowercased() == "body"
    }

    var problem: String? { self.matcher.problem }

    func apply(to plan: inout HTTPPlan, toxic: LinkToxic) {
        if plan.delay == .zero { plan.delayBody = self.body }
        plan.delay = plan.delay + .milliseconds(fraction: self.delay)
        plan.delayedBy.append(toxic)
    }
}
