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

    /// The body with `results`, keys in the contract's order.
    func encoded(_ results: [StoredCharacter]) -> [UInt8] {
        var writer = Writer(self)
        for character in results { writer.add(character) }
        return writer.finish()
    }

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

        mutating func add(_ character: StoredCharacter) {
            var (name, status, species, origin) = (
                character.name, character.status, character.species, character.origin
            )
            var (image, url) = (character.image, character.url)
            name.withUTF8 { name in
                status.withUTF8 { status in
                    species.withUTF8 { species in
                        origin.withUTF8 { origin in
                            Self.withOptionalUTF8(&image) { image in
                                Self.withOptionalUTF8(&url) { url in
                                    self.add(
                                        id: character.id,
                                        name: UnsafeRawBufferPointer(name),
                                        status: UnsafeRawBufferPointer(status),
                                        species: UnsafeRawBufferPointer(species),
                                        origin: UnsafeRawBufferPointer(origin),
                                        image: image,
                                        url: url
                                    )
                                }
                            }
                        }
                    }
                }
            }
        }

        private static func withOptionalUTF8(
            _ text: inout String?,
            _ body: (UnsafeRawBufferPointer?) -> Void
        ) {
            guard var value = text else { return body(nil) }
            value.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        }

        consuming func finish() -> [UInt8] {
            self.json.endArray()
            self.json.endObject()
            return self.json.bytes
        }
    }
}
