import Logging

/// Everything the service can be told, read from the environment (docs/api.md, "Configuration").
/// The initial values below are the defaults; ``settings`` says how each variable is read.
struct AppConfig: Sendable {
    var database: DatabaseLocation = .sqliteFile(path: "data/rickmorty.sqlite")
    var dbPoolSize = 5
    var dbConnectTimeout: Duration = .seconds(5)
    var dbQueryTimeout: Duration = .seconds(5)
    var dbProbeInterval: Duration = .seconds(2)
    var upstreamBaseURL = "https://rickandmortyapi.com/api"
    var requestTimeout: Duration = .seconds(10)
    var maxRetries = 5
    var maxRetryAfter: Duration = .seconds(60)
    var breakerThreshold = 5
    var breakerCooldown: Duration = .seconds(30)
    var refreshWorkerEnabled = true
    var refreshInterval: Duration = .seconds(300)
    var refreshTTL: Duration = .seconds(600)
    var refreshLeaseTTL: Duration = .seconds(30)
    var upstreamProbeInterval: Duration = .seconds(30)
    var pageCacheTTL: Duration = .seconds(30)
    var pageCacheMax = 256
    var retryAfterSeconds = 5
    var rateLimitRPS: Double = 0
    var rateLimitBurst: Double = 0
    var host = "0.0.0.0"
    var port = 8000
    var logLevel: Logger.Level = .info
    var logFormat: LogFormat = .json
    var shutdownGrace: Duration = .seconds(10)
    var shutdownDrainDelay: Duration = .seconds(1)

    /// How log lines are written.
    enum LogFormat: String, Sendable, CaseIterable {
        case json, text
    }

    /// Every variable the service reads, in the order `--help` and docs/api.md list them.
    static let settings: [Setting] = [
        Setting(
            name: "DATABASE_URL",
            defaultText: AppConfig().database.redacted,
            meaning: "postgres://…, libpq keywords, sqlite:PATH or sqlite::memory:",
            read: Self.readDatabase
        ),
        .integer("DB_POOL_SIZE", \.dbPoolSize, 1...100, "database connections per instance (1-100)"),
        .seconds(
            "DB_CONNECT_TIMEOUT",
            \.dbConnectTimeout,
            minimum: 0.1,
            "seconds to open a connection or wait for a free one"
        ),
        .seconds("DB_QUERY_TIMEOUT", \.dbQueryTimeout, minimum: 0.1, "seconds a query may take"),
        .seconds("DB_PROBE_INTERVAL", \.dbProbeInterval, minimum: 0.1, "seconds between background database checks"),
        Setting(
            name: "UPSTREAM_BASE_URL",
            defaultText: AppConfig().upstreamBaseURL,
            meaning: "the character API",
            read: Self.readUpstream
        ),
        .seconds("REQUEST_TIMEOUT", \.requestTimeout, minimum: 0.1, "seconds per upstream request"),
        .integer("MAX_RETRIES", \.maxRetries, 1...100, "total attempts per upstream request (1-100)"),
        .seconds("MAX_RETRY_AFTER", \.maxRetryAfter, "cap on an upstream Retry-After, seconds"),
        .integer(
            "UPSTREAM_BREAKER_THRESHOLD",
            \.breakerThreshold,
            1...1000,
            "consecutive failed requests that open the circuit"
        ),
        .seconds("UPSTREAM_BREAKER_COOLDOWN", \.breakerCooldown, "seconds the circuit stays open"),
        .bool("REFRESH_WORKER_ENABLED", \.refreshWorkerEnabled, "run the background refresher"),
        .seconds("REFRESH_INTERVAL", \.refreshInterval, minimum: 0.1, "seconds between refreshes"),
        .seconds("REFRESH_TTL", \.refreshTTL, minimum: 0.1, "data older than this makes health degraded"),
        .seconds(
            "REFRESH_LEASE_TTL",
            \.refreshLeaseTTL,
            minimum: 0.3,
            "seconds a refresh lease lasts unless renewed; a replica that died mid-refresh is replaced after it"
        ),
        .seconds(
            "UPSTREAM_PROBE_INTERVAL",
            \.upstreamProbeInterval,
            minimum: 0.1,
            "seconds between background upstream probes"
        ),
        .seconds("PAGE_CACHE_TTL", \.pageCacheTTL, "seconds a cached page is served"),
        .integer("PAGE_CACHE_MAX", \.pageCacheMax, 0...1_000_000, "cached pages per instance (0 disables)"),
        .integer("RETRY_AFTER_SECONDS", \.retryAfterSeconds, 1...86_400, "Retry-After sent with 503"),
        .number("RATE_LIMIT_RPS", \.rateLimitRPS, "requests per second per client, 0 = off"),
        .number("RATE_LIMIT_BURST", \.rateLimitBurst, "bucket size, 0 = twice RATE_LIMIT_RPS"),
        Setting(name: "HOST", defaultText: AppConfig().host, meaning: "address to listen on", read: Self.readHost),
        .integer("PORT", \.port, 0...65535, "port to listen on (0 = any free port)"),
        Setting(
            name: "LOG_LEVEL",
            defaultText: AppConfig().logLevel.rawValue,
            meaning: "trace, debug, info, notice, warning, error, critical",
            read: { environment, config throws(ConfigError) in
                let levels = Logger.Level.allCases.map(\.rawValue)
                let level = try environment.choice("LOG_LEVEL", default: config.logLevel.rawValue, among: levels)
                config.logLevel = Logger.Level(rawValue: level) ?? config.logLevel
            }
        ),
        Setting(
            name: "LOG_FORMAT",
            defaultText: AppConfig().logFormat.rawValue,
            meaning: "json or text",
            read: { environment, config throws(ConfigError) in
                let choices = LogFormat.allCases.map(\.rawValue)
                let format = try environment.choice("LOG_FORMAT", default: config.logFormat.rawValue, among: choices)
                config.logFormat = LogFormat(rawValue: format) ?? config.logFormat
            }
        ),
        .seconds("SHUTDOWN_GRACE", \.shutdownGrace, "seconds in-flight work may take after SIGTERM"),
        .seconds(
            "SHUTDOWN_DRAIN_DELAY",
            \.shutdownDrainDelay,
            "seconds between readiness turning 503 and the listener closing"
        ),
    ]

    /// Reads and validates every variable; the first invalid one is thrown.
    static func load(environment: [String: String]) throws(ConfigError) -> AppConfig {
        let reader = EnvironmentReader(environment: environment)
        var config = AppConfig()
        for setting in Self.settings { try setting.read(reader, &config) }
        return config
    }

    private static func readDatabase(_ environment: EnvironmentReader, _ config: inout AppConfig) throws(ConfigError) {
        guard let url = environment.raw("DATABASE_URL") else { return }
        guard let location = DatabaseLocation.parse(url) else {
            throw ConfigError(
                variable: "DATABASE_URL",
                value: DatabaseLocation.redact(url),
                accepted:
                    "postgres://…, postgresql://…, libpq keywords (host=… dbname=…), sqlite:PATH or sqlite::memory:"
            )
        }
        config.database = location
    }

    private static func readUpstream(_ environment: EnvironmentReader, _ config: inout AppConfig) throws(ConfigError) {
        var url = environment.string("UPSTREAM_BASE_URL", default: config.upstreamBaseURL)
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), !url.contains(" ") else {
            throw ConfigError(variable: "UPSTREAM_BASE_URL", value: url, accepted: "an http:// or https:// URL")
        }
        while url.hasSuffix("/") { url.removeLast() }
        config.upstreamBaseURL = url
    }

    /// Checked here, with the other settings, so a name that does not resolve stops startup
    /// (exit 2) before the database is opened instead of failing the bind later.
    private static func readHost(_ environment: EnvironmentReader, _ config: inout AppConfig) throws(ConfigError) {
        let host = environment.string("HOST", default: config.host)
        guard ListenHost.resolves(host) else {
            throw ConfigError(
                variable: "HOST",
                value: host,
                accepted: "an IP address or a host name this machine resolves, e.g. 0.0.0.0, 127.0.0.1, :: or localhost"
            )
        }
        config.host = host
    }
}
