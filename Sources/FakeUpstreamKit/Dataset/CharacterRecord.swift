import JSONWriting

/// One character in the real API's schema (docs/api.md, "The upstream API"): all twelve fields.
public struct CharacterRecord: Codable, Sendable, Equatable {
    public struct Place: Codable, Sendable, Equatable {
        public var name: String
        public var url: String
    }

    public var id: Int
    public var name: String
    public var status: String
    public var species: String
    public var type: String
    public var gender: String
    public var origin: Place
    public var location: Place
    public var image: String
    public var episode: [String]
    public var url: String
    public var created: String

    /// The JSON object with keys in the real API's order (id, name, status, …, created).
    public func encodedInAPIOrder() -> [UInt8] {
        var json = JSONWriter(capacity: 600)
        json.beginObject()
        json.field("id", self.id)
        json.field("name", self.name)
        json.field("status", self.status)
        json.field("species", self.species)
        json.field("type", self.type)
        json.field("gender", self.gender)
        for (key, place) in [("origin", self.origin), ("location", self.location)] {
            json.key(key)
            json.beginObject()
            json.field("name", place.name)
            json.field("url", place.url)
            json.endObject()
        }
        json.field("image", self.image)
        json.key("episode")
        json.beginArray()
        for episode in self.episode { json.string(episode) }
        json.endArray()
        json.field("url", self.url)
        json.field("created", self.created)
        json.endObject()
        return json.bytes
    }
}
