/// The rule for which upstream characters are kept (docs/api.md, "Ingest"): species `Human`, status
/// `Alive`, origin name starting with `Earth (`. Byte-exact: case-sensitive, no trimming, and no
/// Unicode normalisation (Swift's `==` on strings would treat canonically equivalent text as equal).
enum CharacterFilter {
    static func keeps(species: String, status: String, originName: String) -> Bool {
        species.utf8.elementsEqual("Human".utf8)
            && status.utf8.elementsEqual("Alive".utf8)
            && originName.utf8.starts(with: "Earth (".utf8)
    }
}
