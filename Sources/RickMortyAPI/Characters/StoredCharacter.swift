/// A character as the service stores and serves it.
struct StoredCharacter: Sendable, Equatable {
    let id: Int
    let name: String
    let status: String
    let species: String
    /// The origin's name, e.g. `Earth (C-137)`.
    let origin: String
    let image: String?
    let url: String?

    /// Column sizes; a record beyond them fails validation instead of being truncated.
    enum Limits {
        static let name = 200
        static let status = 32
        static let species = 100
        static let origin = 200
        static let link = 2048
    }
}
