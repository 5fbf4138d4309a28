import Foundation
import Logging
import Testing

@testable import RickMortyAPI

@Suite("Configuration from the environment")
struct ConfigTests {
    @Test("the defaults of docs/api.md's Configuration table")
    func defaults() throws {
        let config = try AppConfig.load(environment: [:])
        #expect(config.database == .sqliteFile(path: "data/rickmorty.sqlite"))
        #expect(config.dbPoolSize == 5)
        #expect(config.dbConnectTimeout == .seconds(5))
        #expect(config.dbQueryTimeout == .seconds(5))
        #expect(config.upstreamBaseURL == "https://rickandmortyapi.com/api")
        #expect(config.requestTimeout == .seconds(10))
        #expect(config.maxRetries == 5)
        #expect(config.maxRetryAfter == .seconds(60))
        #expect(config.refreshWorkerEnabled)
        #expect(config.refreshInterval == .seconds(300))
        #expect(config.refreshTTL == .seconds(600))
        #expect(config.upstreamProbeInterval == .seconds(30))
        #expect(config.pageCacheTTL == .seconds(30))
        #expect(config.pageCacheMax == 256)
        #expect(config.retryAfterSeconds == 5)
        #expect(config.rateLimitRPS == 0)
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 8000)
        #expect(config.logLevel == .info)
        #expect(config.logFormat == .json)
        #expect(config.shutdownGrace == .seconds(10))
        #expect(config.breakerThreshold == 5)
        #expect(config.breakerCooldown == .seconds(30))
        #expect(config.refreshLeaseTTL == .seconds(30))
    }

    @Test("docs/api.md's Configuration table lists exactly the variables --help lists, with the same defaults")
    func documentedTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/api.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Configuration").dropFirst().first)
        // Rows look like: | `NAME` | default | meaning |
        let rows = section.components(separatedBy: "\n## ")[0].split(separator: "\n").filter { $0.hasPrefix("| `") }
        let documented = rows.map { row -> [String] in
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return [cells[0], cells[1]].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
        }
        #expect(documented == AppConfig.settings.map { [$0.name, $0.defaultText] })
    }

    @Test(
        "DATABASE_URL selects the backend",
        arguments: [
            ("postgres://u:p@h:5432/db", DatabaseLocation.postgres(conninfo: "postgres://u:p@h:5432/db")),
            ("postgresql://h/db", .postgres(conninfo: "postgresql://h/db")),
            ("host=127.0.0.1 port=5432 dbname=rm", .postgres(conninfo: "host=127.0.0.1 port=5432 dbname=rm")),
            ("sqlite:///var/lib/rm.sqlite", .sqliteFile(path: "/var/lib/rm.sqlite")),
            ("sqlite:data/rm.sqlite", .sqliteFile(path: "data/rm.sqlite")),
            ("sqlite::memory:", .sqliteMemory),
        ]
    )
    func databaseURL(value: String, expected: DatabaseLocation) throws {
        #expect(try AppConfig.load(environment: ["DATABASE_URL": value]).database == expected)
    }

    @Test(
        "an invalid value names the variable, the value and what is accepted",
        arguments: [
            ("PORT", "abc"), ("PORT", "70000"), ("PORT", "-1"), ("PORT", "+80"), ("DB_POOL_SIZE", "0"),
            ("DB_POOL_SIZE", "1_0"), ("REQUEST_TIMEOUT", "ten"), ("REQUEST_TIMEOUT", "-1"), ("REQUEST_TIMEOUT", "1e3"),
            ("REFRESH_INTERVAL", "nan"), ("REFRESH_INTERVAL", "inf"), ("REFRESH_WORKER_ENABLED", "maybe"),
            ("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml"), ("DATABASE_URL", "mysql://h/db"),
            ("UPSTREAM_BASE_URL", "ftp://x"),
            ("MAX_RETRIES", "0"), ("PAGE_CACHE_TTL", "1.2.3"), ("RATE_LIMIT_RPS", "-5"), ("HOST", "not-a-host"),
            ("REFRESH_LEASE_TTL", "0.1"),
        ]
    )
    func invalid(variable: String, value: String) {
        #expect(throws: ConfigError.self) { try AppConfig.load(environment: [variable: value]) }
        do {
            _ = try AppConfig.load(environment: [variable: value])
        } catch {
            let line = error.description
            #expect(line.hasPrefix("invalid \(variable)=\"\(value)\": expected "))
            #expect(!line.contains("\n"))
        }
    }

    @Test("booleans accept 1/0, true/false, yes/no in any case", arguments: ["1", "true", "TRUE", "Yes", "yes"])
    func trueValues(value: String) throws {
        #expect(try AppConfig.load(environment: ["REFRESH_WORKER_ENABLED": value]).refreshWorkerEnabled)
    }

    @Test("false booleans", arguments: ["0", "false", "False", "NO", "no"])
    func falseValues(value: String) throws {
        #expect(try !AppConfig.load(environment: ["REFRESH_WORKER_ENABLED": value]).refreshWorkerEnabled)
    }

    @Test("durations are seconds with decimals allowed")
    func decimals() throws {
        let config = try AppConfig.load(environment: ["DB_QUERY_TIMEOUT": "0.25", "SHUTDOWN_GRACE": "007"])
        #expect(config.dbQueryTimeout == .milliseconds(250))
        #expect(config.shutdownGrace == .seconds(7))
    }

    @Test("a password never appears in errors or the redacted location")
    func redaction() {
        #expect(DatabaseLocation.redact("postgres://rm:s3cret@db:5432/rm") == "postgres://rm:***@db:5432/rm")
        #expect(DatabaseLocation.redact("host=db password=s3cret dbname=rm") == "host=db password=*** dbname=rm")
        #expect(
            DatabaseLocation.redact("postgres://db/rm?password=s3cret&sslmode=off")
                == "postgres://db/rm?password=***&sslmode=off"
        )
        do {
            _ = try AppConfig.load(environment: ["DATABASE_URL": "mysql://rm:s3cret@db/rm"])
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("s3cret"))
        }
    }

    @Test("--help lists every variable the loader reads")
    func helpListsEverything() {
        let names = Set(AppConfig.settings.map(\.name))
        for name in [
            "DATABASE_URL", "DB_POOL_SIZE", "DB_CONNECT_TIMEOUT", "DB_QUERY_TIMEOUT", "UPSTREAM_BASE_URL",
            "REQUEST_TIMEOUT",
            "MAX_RETRIES", "MAX_RETRY_AFTER", "REFRESH_WORKER_ENABLED", "REFRESH_INTERVAL", "REFRESH_TTL",
            "UPSTREAM_PROBE_INTERVAL", "PAGE_CACHE_TTL", "PAGE_CACHE_MAX", "RETRY_AFTER_SECONDS", "RATE_LIMIT_RPS",
            "RATE_LIMIT_BURST", "HOST", "PORT", "LOG_LEVEL", "LOG_FORMAT", "SHUTDOWN_GRACE",
            "UPSTREAM_BREAKER_THRESHOLD", "UPSTREAM_BREAKER_COOLDOWN",
        ] {
            #expect(names.contains(name), "\(name) missing from --help")
        }
    }
}
