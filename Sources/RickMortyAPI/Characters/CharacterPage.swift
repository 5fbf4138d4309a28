import JSONWriting

/// One page of `/characters`: the paging arithmetic of docs/api.md, "GET /characters", and the
/// body's bytes, written as the rows are read.
struct CharacterPage: Sendable, Equatable {
    let query: CharacterQuery
    let totalCount: Int

    var totalPages: Int { self.totalCount == 0 ? 0 : (self.totalCount + self.query.pageSize - 1) / self.query.pageSize }
    var outOfRange: Bool { self.totalPages > 0 ? self.query.page > self.totalPages : self.query.page > 1 }
    var hasPrev: Bool { self.query.page > 1 }
    var hasNext: Bool { !self.outOfRange && self.query.page < self.totalPages }

    /// Writes the body while the rows arrive: the paging fields at once, each character as it is
    /// added (none when the page is out of range), and the closing brackets in ``finish()``.
    /// Text comes as UTF-8 bytes, so a database row goes into the body without becoming strings.
    struct Writer {
        private var json: JSONWriter
        private let outOfRange: Bool

        init(_ page: CharacterPage) {
            self.outOfRange = page.outOfRange
            self.json = JSONWriter(capacity: 256 + min(page.query.pageSize, 100) * 256)
            self.json.beginObject()
            self.json.field("page", page.query.page)
            self.json.field("page_size", page.query.pageSize)
            self.json.field("total_count", page.totalCount)
            self.json.field("total_pages", page.totalPages)
            self.json.field("has_prev", page.hasPrev)
            self.json.field("has_next", page.hasNext)
            self.json.field("out_of_range", page.outOfRange)
            self.json.key("results")
            self.json.beginArray()
        }

        mutating func add(
            id: Int,
            name: UnsafeRawBufferPointer,
            status: UnsafeRawBufferPointer?,
            species: UnsafeRawBufferPointer?,
            origin: UnsafeRawBufferPointer?,
            image: UnsafeRawBufferPointer?,
            url: UnsafeRawBufferPointer?
        ) {
            guard !self.outOfRange else { return }
            self.json.beginObject()
            self.json.field("id", id)
            self.json.field("name", utf8: name)
            // Stored NOT NULL; an absent value is written as the empty string, as before.
            self.json.field("status", utf8: status ?? UnsafeRawBufferPointer(start: nil, count: 0))
            self.json.field("species", utf8: species ?? UnsafeRawBufferPointer(start: nil, count: 0))
            self.json.field("origin", utf8: origin ?? UnsafeRawBufferPointer(start: nil, count: 0))
            self.json.field("image", utf8: image)
            self.json.field("url", utf8: url)
            self.json.endObject()
        }

        consuming func finish() -> [UInt8] {
            self.json.endArray()
            self.json.endObject()
            return self.json.bytes
        }
    }
}
