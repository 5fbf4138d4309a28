import NIOCore

/// A fault on the bytes of one direction (Toxiproxy's toxics). The link runs the faults of a
/// stream in the order they were added, each shaping the pieces the previous one left.
protocol StreamFault: Fault {
    /// Shapes what is about to be written: pieces go out in order, each no earlier than its
    /// `due`. Returns true when the connection must close once these pieces are out.
    func shape(_ pieces: inout [StreamPiece], on connection: LinkToxic) -> Bool
    /// A timer the fault starts on each connection it applies to.
    var timer: FaultTimer? { get }
    /// How long a close travelling this direction waits, in milliseconds.
    var closeDelay: Double { get }
}

extension StreamFault {
    func shape(_ pieces: inout [StreamPiece], on connection: LinkToxic) -> Bool { false }
    var timer: FaultTimer? { nil }
    var closeDelay: Double { 0 }
}

/// Bytes and the earliest time they may be written.
struct StreamPiece {
    var bytes: ByteBuffer
    var due: NIODeadline
}

/// Closes (`timeout`) or resets (`reset_peer`) a connection after a time.
struct FaultTimer: Equatable {
    var milliseconds: Double
    var reset: Bool
}

extension TimeAmount {
    /// Milliseconds as a fraction, as toxic attributes give them.
    static func milliseconds(fraction milliseconds: Double) -> TimeAmount {
        .nanoseconds(Int64(max(0, milliseconds) * 1_000_000))
    }
}
