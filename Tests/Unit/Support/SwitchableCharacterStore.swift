import NIOCore
import Native
import Synchronization

@testable import RickMortyAPI

/// A ``CharacterStore`` that answers pages from a fixed snapshot until the test cuts it off,
/// after which every call fails as a database that went away does.
final class SwitchableCharacterStore: CharacterStore {
    private let snapshot: PageSnapshot
    private let down = Mutex(false)

    init(snapshot: PageSnapshot) {
        self.snapshot = snapshot
    }

    /// From now on every call throws a transient `connection_lost`.
    func goDown() { self.down.withLock { $0 = true } }

    private func check() throws {
        if self.down.withLock({ $0 }) { throw DatabaseError(kind: .connectionLost, message: "server closed") }
    }

    func migrate() async throws { try self.check() }
    func page(
        _ query: CharacterQuery,
        on eventLoop: any EventLoop,
        noting use: DatabaseUse?
    ) -> EventLoopFuture<PageSnapshot> {
        eventLoop.makeCompletedFuture {
            try self.check()
            return self.snapshot
        }
    }
    func state() async throws -> DataState {
        try self.check()
        return DataState(count: self.snapshot.totalCount, generation: self.snapshot.generation, lastRefresh: nil)
    }
    func refresh(
        isDue: @escaping @Sendable (DataState) -> Bool,
        fetch: @escaping @Sendable () async throws -> [StoredCharacter],
        now: @escaping @Sendable () -> Double
    ) async throws -> RefreshOutcome {
        try self.check()
        return .skippedLocked
    }
    func close() async {}
}

extension PageSnapshot {
    /// The snapshot a store would read for `query` with these rows.
    init(query: CharacterQuery = CharacterQuery(), totalCount: Int, generation: Int64, rows: [StoredCharacter]) {
        self.init(
            totalCount: totalCount,
            generation: generation,
            body: CharacterPage(query: query, totalCount: totalCount).encoded(rows)
        )
    }
}

extension CharacterPage {
    /// The body with `results`, written through the same byte path as a database row.
    func encoded(_ results: [StoredCharacter]) -> [UInt8] {
        var writer = Writer(self)
        for character in results {
            // The row's text in one buffer, each field a range of it (nil: NULL).
            var bytes: [UInt8] = []
            let fields = [
                character.name, character.status, character.species, character.origin, character.image, character.url,
            ].map { text -> Range<Int>? in
                guard let text else { return nil }
                defer { bytes += text.utf8 }
                return bytes.count..<bytes.count + text.utf8.count
            }
            bytes.withUnsafeBytes { all in
                func field(_ index: Int) -> UnsafeRawBufferPointer? {
                    fields[index].map { UnsafeRawBufferPointer(rebasing: all[$0]) }
                }
                writer.add(
                    id: character.id,
                    name: field(0) ?? UnsafeRawBufferPointer(start: nil, count: 0),
                    status: field(1),
                    species: field(2),
                    origin: field(3),
                    image: field(4),
                    url: field(5)
                )
            }
        }
        return writer.finish()
    }
}

extension StoredCharacter {
    /// A character that passes the App's filter, for tests that need one row.
    static let rick = StoredCharacter(
        id: 1,
        name: "Rick",
        status: "Alive",
        species: "Human",
        origin: "Earth (C-137)",
        image: nil,
        url: nil
    )
}
