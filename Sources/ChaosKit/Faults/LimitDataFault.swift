import NIOCore

/// `limit_data`: exactly `bytes` bytes get through (counted per connection from when the toxic
/// arrived), then the connection closes.
struct LimitDataFault: StreamFault {
    static let type = "limit_data"
    static let defaults: [String: AttributeValue] = ["bytes": .number(0)]

    let bytes: Int

    init(_ toxic: Toxic) {
        self.bytes = Int(toxic.number("bytes"))
    }

    func shape(_ pieces: inout [StreamPiece], on connection: LinkToxic) -> Bool {
        var kept: [StreamPiece] = []
        var reached = false
        for var piece in pieces {
            let allowed = max(0, self.bytes - connection.count)
            if piece.bytes.readableBytes >= allowed {
                piece.bytes = piece.bytes.getSlice(at: piece.bytes.readerIndex, length: allowed) ?? piece.bytes
                reached = true
            }
            connection.count += piece.bytes.readableBytes
            if piece.bytes.readableBytes > 0 { kept.append(piece) }
            if reached { break }
        }
        pieces = kept
        return reached
    }
}
