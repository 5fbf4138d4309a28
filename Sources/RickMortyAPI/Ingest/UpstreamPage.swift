/// One page of `/character?page=N` as the upstream sends it (docs/api.md, "The upstream API").
struct UpstreamPage: Decodable, Sendable {
    struct Info: Decodable, Sendable {
        let count: Int
        let pages: Int
        let next: String?
        let prev: String?
    }

    struct Place: Decodable, Sendable {
        let name: String
        let url: String?
    }

    struct Character: Decodable, Sendable {
        let id: Int
        let name: String
        let status: String
        let species: String
        let origin: Place
        let image: String?
        let url: String?
    }

    let info: Info
    let results: [Character]
}

extension UpstreamPage.Character {
    /// The stored form, after checking it fits (docs/api.md, "Ingest").
    func validated() throws(IngestError) -> StoredCharacter {
        typealias Limits = StoredCharacter.Limits
        func check(_ value: String, _ field: String, _ limit: Int) throws(IngestError) {
            if value.unicodeScalars.count > limit {
                throw IngestError.invalidRecord(id: self.id, reason: "\(field) longer than \(limit) characters")
            }
            if value.utf8.contains(0) {
                throw IngestError.invalidRecord(id: self.id, reason: "\(field) contains a NUL byte")
            }
        }
        guard self.id > 0, self.id <= Int(Int32.max) else {
            throw IngestError.invalidRecord(id: self.id, reason: "id must be a positive 32-bit integer")
        }
        guard !self.name.isEmpty else { throw IngestError.invalidRecord(id: self.id, reason: "name is empty") }
        try check(self.name, "name", Limits.name)
        try check(self.status, "status", Limits.status)
        try check(self.species, "species", Limits.species)
        try check(self.origin.name, "origin", Limits.origin)
        if let image = self.image { try check(image, "image", Limits.link) }
        if let url = self.url { try check(url, "url", Limits.link) }
        return StoredCharacter(
            id: self.id,
            name: self.name,
            status: self.status,
            species: self.species,
            origin: self.origin.name,
            image: self.image,
            url: self.url
        )
    }
}
