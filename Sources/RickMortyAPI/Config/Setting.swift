import JSONWriting

/// One environment variable, declared once: its name, what it means, how it is read into
/// ``AppConfig``, and its default, which is the property's own initial value in ``AppConfig`` (so
/// `--help` and docs/api.md show the value the code uses; a test keeps the docs table equal).
struct Setting: Sendable {
    /// A property of ``AppConfig`` that a setting writes.
    typealias Key<Value> = any WritableKeyPath<AppConfig, Value> & Sendable

    let name: String
    /// The default as `--help` and docs/api.md write it.
    let defaultText: String
    let meaning: String
    /// Reads the variable into `config`; unset or empty leaves the default.
    let read: @Sendable (EnvironmentReader, inout AppConfig) throws(ConfigError) -> Void

    /// A decimal integer within `range`.
    static func integer(
        _ name: String,
        _ key: Key<Int>,
        _ range: ClosedRange<Int>,
        _ meaning: String
    ) -> Setting {
        Setting(name: name, defaultText: String(AppConfig()[keyPath: key]), meaning: meaning) {
            environment,
            config throws(ConfigError) in
            config[keyPath: key] = try environment.integer(name, default: config[keyPath: key], range: range)
        }
    }

    /// A number of seconds, decimals allowed, at least `minimum`.
    static func seconds(
        _ name: String,
        _ key: Key<Duration>,
        minimum: Double = 0,
        _ meaning: String
    ) -> Setting {
        Setting(name: name, defaultText: AppConfig()[keyPath: key].seconds.plainText, meaning: meaning) {
            environment,
            config throws(ConfigError) in
            config[keyPath: key] = try environment.seconds(
                name,
                default: config[keyPath: key].seconds,
                minimum: minimum
            )
        }
    }

    /// A non-negative decimal number.
    static func number(
        _ name: String,
        _ key: Key<Double>,
        _ meaning: String
    )
        -> Setting
    {
        Setting(name: name, defaultText: AppConfig()[keyPath: key].plainText, meaning: meaning) {
            environment,
            config throws(ConfigError) in
            config[keyPath: key] = try environment.number(name, default: config[keyPath: key])
        }
    }

    /// 1/0, true/false, yes/no.
    static func bool(
        _ name: String,
        _ key: Key<Bool>,
        _ meaning: String
    )
        -> Setting
    {
        Setting(name: name, defaultText: String(AppConfig()[keyPath: key]), meaning: meaning) {
            environment,
            config throws(ConfigError) in
            config[keyPath: key] = try environment.bool(name, default: config[keyPath: key])
        }
    }
}
