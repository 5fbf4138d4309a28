import Foundation
import TestSupport
import Testing

/// The two storage backends every integration test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { self.rawValue }

    /// Runs `body` with a fresh database URL of this kind (a PostgreSQL cluster is provisioned and
    /// removed; an SQLite file lives in a temporary folder that is removed).
    func withDatabase<T>(_ body: (String, PostgresServer?) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            let folder = NSTemporaryDirectory() + "rm-sqlite-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            return try await body("sqlite:\(folder)/rm.sqlite", nil)
        case .postgres:
            return try await withPostgres { server in try await body(try server.createDatabase(), server) }
        }
    }
}
