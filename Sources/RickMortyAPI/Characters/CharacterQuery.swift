/// A validated `/characters` request (docs/api.md, "GET /characters").
struct CharacterQuery: Hashable, Sendable {
    enum Sort: String, Sendable { case id, name }
    enum Order: String, Sendable { case asc, desc }

    var sort: Sort = .id
    var order: Order = .asc
    var page = 1
    var pageSize = 20

    static let maxPage = 1_000_000
    static let maxPageSize = 100

    /// Rows to skip before this page.
    var offset: Int { (self.page - 1) * self.pageSize }

    /// Validates query items; the last occurrence of a name wins and unknown names are ignored.
    static func parse(
        _ items: some Sequence<(name: Substring, value: Substring)>
    ) throws(QueryValidationError) -> CharacterQuery {
        var query = CharacterQuery()
        // The last occurrence of each name wins; only that one is validated.
        var sort: Substring?
        var order: Substring?
        var page: Substring?
        var pageSize: Substring?
        for item in items {
            switch item.name {
            case "sort": sort = item.value
            case "order": order = item.value
            case "page": page = item.value
            case "page_size": pageSize = item.value
            default: continue
            }
        }
        if let text = sort {
            guard let sort = Sort(rawValue: String(text)) else {
                throw QueryValidationError(parameter: "sort", detail: "sort must be one of: id, name")
            }
            query.sort = sort
        }
        if let text = order {
            guard let order = Order(rawValue: String(text)) else {
                throw QueryValidationError(parameter: "order", detail: "order must be one of: asc, desc")
            }
            query.order = order
        }
        if let text = page {
            guard let page = StrictInteger.parse(text), (1...maxPage).contains(page) else {
                throw QueryValidationError(
                    parameter: "page",
                    detail: "page must be a decimal integer from 1 to 1000000"
                )
            }
            query.page = page
        }
        if let text = pageSize {
            guard let size = StrictInteger.parse(text), (1...maxPageSize).contains(size) else {
                throw QueryValidationError(
                    parameter: "page_size",
                    detail: "page_size must be a decimal integer from 1 to 100"
                )
            }
            query.pageSize = size
        }
        return query
    }
}

/// A query parameter outside its accepted values; answered with 422.
struct QueryValidationError: Error, Equatable {
    let parameter: String
    let detail: String
}
