import JSONWriting

/// One page of `/characters`: the paging arithmetic of docs/api.md, "GET /characters", and the body's bytes.
struct CharacterPage: Sendable, Equatable {
    let query: CharacterQuery
    let totalCount: Int
    let results: [StoredCharacter]

    var totalPages: Int { self.totalCount == 0 ? 0 : (self.totalCount + self.query.pageSize - 1) / self.query.pageSize }
    var outOfRange: Bool { self.totalPages > 0 ? self.query.page > self.totalPages : self.query.page > 1 }
    var hasPrev: Bool { self.query.page > 1 }
    var hasNext: Bool { !self.outOfRange && self.query.page < self.totalPages }

    /// The response body, keys in the contract's order.
    func encoded() -> [UInt8] {
        var json = JSONWriter(capacity: 256 + self.results.count * 256)
        json.beginObject()
        json.field("page", self.query.page)
        json.field("page_size", self.query.pageSize)
        json.field("total_count", self.totalCount)
        json.field("total_pages", self.totalPages)
        json.field("has_prev", self.hasPrev)
        json.field("has_next", self.hasNext)
        json.field("out_of_range", self.outOfRange)
        json.key("results")
        json.beginArray()
        for character in self.outOfRange ? [] : self.results {
            json.beginObject()
            json.field("id", character.id)
            json.field("name", character.name)
            json.field("status", character.status)
            json.field("species", character.species)
            json.field("origin", character.origin)
            json.field("image", character.image)
            json.field("url", character.url)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }
}
