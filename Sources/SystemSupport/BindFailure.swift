import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A listening socket that could not be opened, said so that an operator can act on it instead
/// of as NIO's `bind(descriptor:ptr:bytes:) … (errno: 98)`.
public enum BindFailure {
    /// The sentence for `error` when it is a failed bind of `host`:`port`, else nil. `setting`
    /// names what chooses the port (`PORT`, `--port`).
    public static func explain(_ error: any Error, host: String, port: Int, setting: String) -> String? {
        guard let error = error as? IOError, error.description.hasPrefix("bind(") else { return nil }
        switch error.errnoCode {
        case EADDRINUSE:
            return
                "cannot listen on \(host):\(port): the address is already in use by another program; stop it, or choose another port with \(setting) (0 picks a free one)"
        case EADDRNOTAVAIL:
            return "cannot listen on \(host):\(port): \(host) is not an address of this machine"
        case EACCES:
            return "cannot listen on \(host):\(port): ports below 1024 need privileges; choose another with \(setting)"
        default:
            return "cannot listen on \(host):\(port): \(String(cString: strerror(error.errnoCode)))"
        }
    }
}
