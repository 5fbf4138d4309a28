import NIOCore

/// `bandwidth`: bytes go out at `rate` KB/s (0 = unlimited), in pieces of 100 ms worth.
struct BandwidthFault: StreamFault {
    static let type = "bandwidth"
    static let defaults: [String: AttributeValue] = ["rate": .number(0)]

    /// Kilobytes per second, which is bytes per millisecond.
    let rate: Double

    init(_ toxic: Toxic) {
        self.rate = toxic.number("rate")
    }

    func shape(_ pieces: inout [StreamPiece], on connection: LinkToxic) -> Bool {
        guard self.rate > 0 else { return false }
        let step = max(1, Int(self.rate * 100))
        pieces = pieces.flatMap { piece in
            var bytes = piece.bytes
            var paced: [StreamPiece] = []
            while bytes.readableBytes > 0 {
                let slice = bytes.readSlice(length: min(step, bytes.readableBytes)) ?? ByteBuffer()
                let start = max(piece.due, connection.pacedUntil)
                connection.pacedUntil = start + .milliseconds(fraction: Double(slice.readableBytes) / self.rate)
                paced.append(StreamPiece(bytes: slice, due: connection.pacedUntil))
            }
            return paced
        }
        return false
    }
}
