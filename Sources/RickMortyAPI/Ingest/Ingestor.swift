import Foundation
import Logging

/// Walks the upstream's character pages and returns the characters to store (docs/api.md, "Ingest").
struct Ingestor<C: Clock>: Sendable where C.Duration == Duration {
    let gateway: UpstreamGateway<C>
    let baseURL: String
    let logger: Logger

    /// The hard cap on pages, whatever the upstream claims.
    static var maxPages: Int { 10_000 }

    /// Fetches every page in order, bounded by the first page's `info.pages` and the cap, and
    /// stops at the last page (`info.next == null`). Any failed or malformed page fails the run.
    func fetchAll() async throws -> [StoredCharacter] {
        var kept: [Int: StoredCharacter] = [:]
        var order: [Int] = []
        var page = 1
        var lastPage = 1
        while true {
            let url = "\(self.baseURL)/character?page=\(page)"
            let body = try await self.gateway.fetch(url)
            let decoded: UpstreamPage
            do {
                decoded = try JSONDecoder().decode(UpstreamPage.self, from: Data(body))
            } catch {
                throw IngestError.invalidJSON(url: url, detail: Self.describe(error))
            }
            if page == 1 {
                guard decoded.info.pages <= Self.maxPages else { throw IngestError.tooManyPages(decoded.info.pages) }
                lastPage = max(1, decoded.info.pages)
            }
            for character in decoded.results
            where CharacterFilter.keeps(
                species: character.species,
                status: character.status,
                originName: character.origin.name
            ) {
                let stored = try character.validated()
                if kept.updateValue(stored, forKey: stored.id) == nil { order.append(stored.id) }
            }
            if decoded.info.next == nil || page >= lastPage { break }
            page += 1
        }
        self.logger.debug(
            "ingest walked the upstream",
            metadata: ["ingest.pages": "\(page)", "ingest.kept": "\(order.count)"]
        )
        return order.compactMap { kept[$0] }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing key \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "undecodable body"
        }
    }
}
