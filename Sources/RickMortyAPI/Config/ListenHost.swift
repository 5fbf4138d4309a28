#if canImport(Glibc)
import Glibc
#endif

/// Checks `HOST` when the configuration is read, so that a name that does not resolve stops
/// startup with the other invalid settings (exit 2) instead of failing the bind later.
enum ListenHost {
    /// Whether `host` is an IP address or a name this machine resolves to one it could bind.
    static func resolves(_ host: String) -> Bool {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        if let result { freeaddrinfo(result) }
        return status == 0
    }
}
