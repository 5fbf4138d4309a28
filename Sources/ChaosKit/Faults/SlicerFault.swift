import NIOCore

/// `slicer`: data cut into pieces of `average_size` ± `size_variation` bytes, `delay` µs apart.
struct SlicerFault: StreamFault {
    static let type = "slicer"
    static let defaults: [String: AttributeValue] = [
        "average_size": .number(0), "size_variation": .number(0), "delay": .number(0),
    ]

    let averageSize: Int
    let sizeVariation: Int
    let delayMicroseconds: Double

    init(_ toxic: Toxic) {
        self.averageSize = Int(toxic.number("average_size"))
        self.sizeVariation = Int(toxic.number("size_variation"))
        self.delayMicroseconds = toxic.number("delay")
    }

    var problem: String? {
        self.sizeVariation > self.averageSize ? "size_variation must not exceed average_size" : nil
    }

    func shape(_ pieces: inout [StreamPiece], on connection: LinkToxic) -> Bool {
        guard self.averageSize > 0 else { return false }
        pieces = pieces.flatMap { piece in
            var bytes = piece.bytes
            var slices: [StreamPiece] = []
            while bytes.readableBytes > 0 {
                let variation =
                    self.sizeVariation > 0
                    ? Int(connection.random.next() % UInt64(2 * self.sizeVariation + 1)) - self.sizeVariation : 0
                let size = min(max(1, self.averageSize + variation), bytes.readableBytes)
                let due = piece.due + .nanoseconds(Int64(Double(slices.count) * self.delayMicroseconds * 1000))
                slices.append(StreamPiece(bytes: bytes.readSlice(length: size) ?? ByteBuffer(), due: due))
            }
            return slices
        }
        return false
    }
}
