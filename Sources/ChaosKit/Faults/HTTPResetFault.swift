/// `http_reset`: a matching request's response head and `after_bytes` bytes of its body reach
/// the client, then a TCP RST.
struct HTTPResetFault: HTTPFault {
    static let type = "http_reset"
    static let defaults: [String: AttributeValue] = HTTPMatcher.defaults.merging(["after_bytes": .number(0)]) { $1 }

    let matcher: HTTPMatcher
    let afterBytes: Int

    init(_ toxic: Toxic) {
        self.matcher = HTTPMatcher(toxic)
        self.afterBytes = Int(toxic.number("after_bytes"))
    }

    var problem: String? { self.matcher.problem }

    func apply(to plan: inout HTTPPlan, toxic: LinkToxic) {
        plan.reset = (toxic, self.afterBytes)
    }
}
