import Foundation

/// Rewrites a `/api/character` page to tell the lies of a ``FaultAction/PaginationLie``.
enum PaginationLiar {
    /// The lied-about page, or `body` unchanged when it is not a page (an error, say).
    /// `previousResults` produces the results of the page before this one, if there is one.
    static func apply(_ lie: FaultAction.PaginationLie, to body: [UInt8], previousResults: () -> [Any]?) -> [UInt8] {
        guard var page = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            var info = page["info"] as? [String: Any]
        else { return body }
        if let count = lie.count { info["count"] = count }
        if let pages = lie.pages { info["pages"] = pages }
        if let next = lie.next { info["next"] = next.isEmpty ? NSNull() : next }
        page["info"] = info
        switch lie.results {
        case .empty?: page["results"] = [Any]()
        case .dropFirst?: page["results"] = Array((page["results"] as? [Any] ?? []).dropFirst())
        case .duplicatePrevious?: page["results"] = previousResults() ?? page["results"]
        case nil: break
        }
        guard let data = try? JSONSerialization.data(withJSONObject: page, options: [.withoutEscapingSlashes]) else {
            return body
        }
        return Array(data)
    }
}
