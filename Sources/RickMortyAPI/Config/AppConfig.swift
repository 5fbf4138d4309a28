import Logging

/// Everything the service can be told, read from the environment (docs/api.md, "Configuration").
struct AppConfig: Sendable {
    var database: DatabaseLocation = .sqliteFile(path: "data/rickmorty.sqlite")
    var dbPoolSize = 5
    var dbConnectTimeout: Duration = .seconds(5)
    var dbQueryTimeout: Duration = .seconds(5)
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
    var dbProbeInterval: Duration = .seconds(2)

    /// How log lines are written.
    enum LogFormat: String, Sendable {
        case json, text
    }

    /// One documented variable, for `--help` and the README.
    struct Variable {
        let name: String
        let defaultValue: String
        let meaning: String
    }

    /// Every variable the service reads, with its default.
    static let variables: [Variable] = [
        .init(
            name: "DATABASE_URL",
            defaultValue: "sqlite:data/rickmorty.sqlite",
            meaning: "postgres://…, libpq keywords, sqlite:PATH or sqlite::memory:"
        ),
        .init(name: "DB_POOL_SIZE", defaultValue: "5", meaning: "database connections per instance (1-100)"),
        .init(
            name: "DB_CONNECT_TIMEOUT",
            defaultValue: "5",
            meaning: "seconds to open a connection or wait for a free one"
        ),
        .init(name: "DB_QUERY_TIMEOUT", defaultValue: "5", meaning: "seconds a query may take"),
        .init(name: "DB_PROBE_INTERVAL", defaultValue: "2", meaning: "seconds between background database checks"),
        .init(name: "UPSTREAM_BASE_URL", defaultValue: "https://rickandmortyapi.com/api", meaning: "the character API"),
        .init(name: "REQUEST_TIMEOUT", defaultValue: "10", meaning: "seconds per upstream request"),
        .init(name: "MAX_RETRIES", defaultValue: "5", meaning: "total attempts per upstream request (1-100)"),
        .init(name: "MAX_RETRY_AFTER", defaultValue: "60", meaning: "cap on an upstream Retry-After, seconds"),
        .init(
            name: "UPSTREAM_BREAKER_THRESHOLD",
            defaultValue: "5",
            meaning: "consecutive failed requests that open the circuit"
        ),
        .init(name: "UPSTREAM_BREAKER_COOLDOWN", defaultValue: "30", meaning: "seconds the circuit stays open"),
        .init(name: "REFRESH_WORKER_ENABLED", defaultValue: "true", meaning: "run the background refresher"),
        .init(name: "REFRESH_INTERVAL", defaultValue: "300", meaning: "seconds between refreshes"),
        .init(name: "REFRESH_TTL", defaultValue: "600", meaning: "data older than this makes health degraded"),
        .init(
            name: "REFRESH_LEASE_TTL",
            defaultValue: "30",
            meaning:
                "seconds a refresh lease lasts unless renewed; a replica that died mid-refresh is replaced after it"
        ),
        .init(
            name: "UPSTREAM_PROBE_INTERVAL",
            defaultValue: "30",
            meaning: "seconds between background upstream probes"
        ),
        .init(name: "PAGE_CACHE_TTL", defaultValue: "30", meaning: "seconds a cached page is served"),
        .init(name: "PAGE_CACHE_MAX", defaultValue: "256", meaning: "cached pages per instance (0 disables)"),
        .init(name: "RETRY_AFTER_SECONDS", defaultValue: "5", meaning: "Retry-After sent with 503"),
        .init(name: "RATE_LIMIT_RPS", defaultValue: "0", meaning: "requests per second per client, 0 = off"),
        .init(name: "RATE_LIMIT_BURST", defaultValue: "0", meaning: "bucket size, 0 = twice RATE_LIMIT_RPS"),
        .init(name: "HOST", defaultValue: "0.0.0.0", meaning: "address to listen on"),
        .init(name: "PORT", defaultValue: "8000", meaning: "port to listen on (0 = any free port)"),
        .init(name: "LOG_LEVEL", defaultValue: "info", meaning: "trace, debug, info, notice, warning, error, critical"),
        .init(name: "LOG_FORMAT", defaultValue: "json", meaning: "json or text"),
        .init(name: "SHUTDOWN_GRACE", defaultValue: "10", meaning: "seconds in-flight work may take after SIGTERM"),
        .init(
            name: "SHUTDOWN_DRAIN_DELAY",
            defaultValue: "1",
            meaning: "seconds between readiness turning 503 and the listener closing"
        ),
    ]

    /// Reads and validates every variable; the first invalid one is thrown.
    static func load(environment: [String: String]) throws(ConfigError) -> AppConfig {
        let env = EnvironmentReader(environment: environment)
        var config = AppConfig()
        if let url = env.raw("DATABASE_URL") {
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
        config.dbPoolSize = try env.integer("DB_POOL_SIZE", default: 5, range: 1...100)
        config.dbConnectTimeout = try env.seconds("DB_CONNECT_TIMEOUT", default: 5, minimum: 0.1)
        config.dbQueryTimeout = try env.seconds("DB_QUERY_TIMEOUT", default: 5, minimum: 0.1)
        config.dbProbeInterval = try env.seconds("DB_PROBE_INTERVAL", default: 2, minimum: 0.1)
        config.upstreamBaseURL = env.string("UPSTREAM_BASE_URL", default: config.upstreamBaseURL)
        guard config.upstreamBaseURL.hasPrefix("http://") || config.upstreamBaseURL.hasPrefix("https://"),
            !config.upstreamBaseURL.contains(" ")
        else {
            throw ConfigError(
                variable: "UPSTREAM_BASE_URL",
                value: config.upstreamBaseURL,
                accepted: "an http:// or https:// URL"
            )
        }
        while config.upstreamBaseURL.hasSuffix("/") { config.upstreamBaseURL.removeLast() }
        config.requestTimeout = try env.seconds("REQUEST_TIMEOUT", default: 10, minimum: 0.1)
        config.maxRetries = try env.integer("MAX_RETRIES", default: 5, range: 1...100)
        config.maxRetryAfter = try env.seconds("MAX_RETRY_AFTER", default: 60)
        config.breakerThreshold = try env.integer("UPSTREAM_BREAKER_THRESHOLD", default: 5, range: 1...1000)
        config.breakerCooldown = try env.seconds("UPSTREAM_BREAKER_COOLDOWN", default: 30)
        config.refreshWorkerEnabled = try env.bool("REFRESH_WORKER_ENABLED", default: true)
        config.refreshInterval = try env.seconds("REFRESH_INTERVAL", default: 300, minimum: 0.1)
        config.refreshTTL = try env.seconds("REFRESH_TTL", default: 600, minimum: 0.1)
        config.refreshLeaseTTL = try env.seconds("REFRESH_LEASE_TTL", default: 30, minimum: 0.3)
        config.upstreamProbeInterval = try env.seconds("UPSTREAM_PROBE_INTERVAL", default: 30, minimum: 0.1)
        config.pageCacheTTL = try env.seconds("PAGE_CACHE_TTL", default: 30)
        config.pageCacheMax = try env.integer("PAGE_CACHE_MAX", default: 256, range: 0...1_000_000)
        config.retryAfterSeconds = try env.integer("RETRY_AFTER_SECONDS", default: 5, range: 1...86_400)
        config.rateLimitRPS = try env.number("RATE_LIMIT_RPS", default: 0)
        config.rateLimitBurst = try env.number("RATE_LIMIT_BURST", default: 0)
        config.host = env.string("HOST", default: config.host)
        guard ListenHost.resolves(config.host) else {
            throw ConfigError(
                variable: "HOST",
                value: config.host,
                accepted: "an IP address or a host name this machine resolves, e.g. 0.0.0.0, 127.0.0.1, :: or localhost"
            )
        }
        config.port = try env.integer("PORT", default: 8000, range: 0...65535)
        let level = try env.choice(
            "LOG_LEVEL",
            default: "info",
            among: ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        )
        config.logLevel = Logger.Level(rawValue: level) ?? .info
        config.logFormat =
            LogFormat(rawValue: try env.choice("LOG_FORMAT", default: "json", among: ["json", "text"])) ?? .json
        config.shutdownGrace = try env.seconds("SHUTDOWN_GRACE", default: 10)
        config.shutdownDrainDelay = try env.seconds("SHUTDOWN_DRAIN_DELAY", default: 1)
        return config
    }
}
