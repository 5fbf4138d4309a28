import Foundation
import Seeded

/// The characters FakeUpstream serves: generated deterministically from a seed, or loaded from a
/// JSON file (an array of characters, e.g. a recorded dump of the real API).
///
/// Memory is what limits large datasets, so each character is kept twice but compactly: its JSON
/// encoded once into one shared byte buffer (pages are assembled by copying bytes), and a small
/// summary of the fields that filters and the known answer read. URLs live only in the JSON.
public struct CharacterDataset: Sendable {
    /// The searchable fields of every character, in id order.
    public let characters: [CharacterSummary]
    private let json: [UInt8]
    private let offsets: [Int]
    private let indexByID: [Int: Int]

    public init(characters records: [CharacterRecord]) {
        var builder = Builder()
        for record in records.sorted(by: { $0.id < $1.id }) { builder.append(record) }
        self.init(builder)
    }

    private init(_ builder: Builder) {
        self.json = builder.json
        self.offsets = builder.offsets
        self.characters = builder.characters
        self.indexByID = builder.indexByID
    }

    /// Accumulates characters one at a time, so a large generated dataset never exists as full
    /// records all at once (they would fragment the heap long after they are freed).
    private struct Builder {
        var json: [UInt8] = []
        var offsets: [Int] = [0]
        var characters: [CharacterSummary] = []
        var indexByID: [Int: Int] = [:]

        /// Appends `record`; records must come in ascending id order.
        mutating func append(_ record: CharacterRecord) {
            self.json += record.encodedInAPIOrder()
            self.offsets.append(self.json.count)
            self.indexByID[record.id] = self.characters.count
            self.characters.append(CharacterSummary(record))
        }
    }

    /// Loads a JSON array of characters in the real API's schema.
    public static func load(path: String) throws -> CharacterDataset {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return CharacterDataset(characters: try JSONDecoder().decode([CharacterRecord].self, from: data))
    }

    /// The position of `id` in ``characters``.
    func position(of id: Int) -> Int? { self.indexByID[id] }

    /// The JSON object of the character at `position`.
    func encoded(at position: Int) -> ArraySlice<UInt8> {
        self.json[self.offsets[position]..<self.offsets[position + 1]]
    }

    /// The ids App should store under its filter rule (docs/api.md, "Ingest"), ascending.
    public var knownAnswer: [Int] { self.characters.filter(\.passesAppFilter).map(\.id) }
}

/// The fields of a character that filters and the known answer read.
public struct CharacterSummary: Sendable, Equatable {
    public let id: Int
    public let name: String
    public let status: String
    public let species: String
    public let type: String
    public let gender: String
    public let originName: String

    init(_ record: CharacterRecord) {
        self.id = record.id
        self.name = record.name
        self.status = record.status
        self.species = record.species
        self.type = record.type
        self.gender = record.gender
        self.originName = record.origin.name
    }

    /// Whether App's filter rule (docs/api.md, "Ingest") keeps this character: exact bytes.
    public var passesAppFilter: Bool {
        self.species.utf8.elementsEqual("Human".utf8) && self.status.utf8.elementsEqual("Alive".utf8)
            && self.originName.utf8.starts(with: "Earth (".utf8)
    }
}

extension CharacterDataset {
    /// The link base written into characters' `url`, `image`, `episode` and places.
    public static let defaultLinkBase = "https://rickandmortyapi.com/api"

    /// `count` characters from `seed`: realistic names (with non-ASCII letters and duplicates, so
    /// sorting by name has ties), the real value sets for status and gender, and origins chosen to
    /// exercise the filter rule (`Earth (C-137)`, plain `Earth`, `Earthworm Moon`, `earth (…)`).
    public static func generate(count: Int, seed: UInt64, linkBase: String = defaultLinkBase) -> CharacterDataset {
        var random = SplitMix64(seed: seed)
        var builder = Builder()
        for id in stride(from: 1, through: count, by: 1) {
            builder.append(Self.character(id: id, random: &random, linkBase: linkBase, earlier: builder.characters))
        }
        return CharacterDataset(builder)
    }

    private static let firstNames = [
        "Rick", "Morty", "Summer", "Beth", "Jerry", "Birdperson", "Squanchy", "Abradolf", "Annie", "Zoë", "Jürgen",
        "Ågot",
        "Noël", "Çelik", "Łukasz", "Søren", "Éowyn", "Mr.", "Ants-in-my-Eyes", "Tammy", "Gene", "Pencilvester", "Ethan",
        "Jessica", "Brad", "Frank", "Nancy", "Davin", "Revolio", "Hemorrhage", "Amish", "Ábel", "Ōta", "Ñeco", "Dr.",
    ]
    private static let lastNames = [
        "Sanchez", "Smith", "Johnson", "Lincler", "Poopybutthole", "Goldenfold", "Clockberg", "Müller", "Ødegård",
        "Quiñones",
        "Żak", "Dubois", "Xenon Bloom", "Wong", "Chin", "Palicky", "Cyborg", "McBoopers", "Nakamura", "Ørsted", "Clark",
    ]
    private static let origins: [(name: String, weight: Int)] = [
        ("Earth (C-137)", 14), ("Earth (Replacement Dimension)", 14), ("Earth (Evil Rick's Target Dimension)", 3),
        ("Earth (Giant Telepathic Spiders Dimension)", 2), ("Earth (C-500A)", 3), ("Earth", 5), ("Earthworm Moon", 3),
        ("earth (C-35)", 3), ("Earth(C-22)", 2), ("unknown", 14), ("Abadango", 3), ("Citadel of Ricks", 6),
        ("Gazorpazorp", 3),
        ("Bird World", 2), ("Interdimensional Cable", 4), ("Post-Apocalyptic Earth", 3), ("Anatomy Park", 2),
        ("Purge Planet", 2),
    ]
    private static let species: [(String, Int)] = [
        ("Human", 48), ("Alien", 22), ("Humanoid", 6), ("Robot", 4), ("Animal", 4), ("Mythological Creature", 3),
        ("Poopybutthole", 1), ("Cronenberg", 3), ("Disease", 1), ("unknown", 3), ("human", 1), ("Human ", 1),
    ]
    private static let statuses: [(String, Int)] = [("Alive", 55), ("Dead", 30), ("unknown", 15)]
    private static let genders: [(String, Int)] = [("Male", 55), ("Female", 28), ("Genderless", 4), ("unknown", 13)]
    private static let types = [
        "", "", "", "", "Parasite", "Cromulon", "Superhuman", "Fish-Person", "Robot-Crocodile hybrid",
    ]

    private static func pick<T>(_ choices: [(T, Int)], _ random: inout SplitMix64) -> T {
        let total = choices.reduce(0) { $0 + $1.1 }
        var roll = Int(random.next() % UInt64(total))
        for (value, weight) in choices {
            if roll < weight { return value }
            roll -= weight
        }
        return choices[choices.count - 1].0
    }

    private static func character(
        id: Int,
        random: inout SplitMix64,
        linkBase: String,
        earlier: [CharacterSummary]
    ) -> CharacterRecord {
        var name =
            "\(firstNames[Int(random.next() % UInt64(firstNames.count))]) \(lastNames[Int(random.next() % UInt64(lastNames.count))])"
        if id % 17 == 0, !earlier.isEmpty {
            name = earlier[Int(random.next() % UInt64(earlier.count))].name  // deliberate duplicates: ties on sort=name
        }
        let origin = Self.pick(Self.origins.map { ($0.name, $0.weight) }, &random)
        let location = Self.pick(Self.origins.map { ($0.name, $0.weight) }, &random)
        func place(_ name: String) -> CharacterRecord.Place {
            name == "unknown"
                ? .init(name: name, url: "")
                : .init(name: name, url: "\(linkBase)/location/\(abs(name.hashValueStable) % 126 + 1)")
        }
        let episodes = (0..<Int(random.next() % 5 + 1)).map { _ in "\(linkBase)/episode/\(random.next() % 51 + 1)" }
        // Creation times a few minutes apart from the real API's first record, with milliseconds.
        let created = Date(
            timeIntervalSince1970: 1_509_821_326.25 + Double(id) * 317.5 + Double(random.next() % 1000) / 1000
        )
        return CharacterRecord(
            id: id,
            name: name,
            status: Self.pick(Self.statuses, &random),
            species: Self.pick(Self.species, &random),
            type: Self.types[Int(random.next() % UInt64(Self.types.count))],
            gender: Self.pick(Self.genders, &random),
            origin: place(origin),
            location: place(location),
            image: "\(linkBase)/character/avatar/\(id).jpeg",
            episode: episodes,
            url: "\(linkBase)/character/\(id)",
            created: Self.iso8601(created)
        )
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is randomly seeded).
    var hashValueStable: Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in self.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash >> 1)
    }
}
