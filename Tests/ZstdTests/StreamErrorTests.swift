import Testing
import Zstd

@Suite("Invalid streams")
struct StreamErrorTests {
    /// A two-frame stream of several blocks each, so cuts land in headers, blocks and checksums.
    static let content = sampleBytes(count: 600_000, seed: 11)
    static let compressed = (try? Zstd.compress(content)) ?? []

    @Test("a stream cut anywhere inside a frame is truncated")
    func truncated() throws {
        let stream = Self.compressed
        let cuts = [1, 2, 3, 4, 5, 6, 9, 100, stream.count / 2, stream.count - 5, stream.count - 4, stream.count - 1]
        for cut in cuts {
            let prefix = Array(stream.prefix(cut))
            let whole = #expect(throws: ZstdError.self, "cut at \(cut)") { _ = try Zstd.decompress(prefix) }
            #expect(whole?.code == .truncated, "cut at \(cut): \(String(describing: whole))")
            let streamed = #expect(throws: ZstdError.self) { _ = try streamDecompress(prefix, pieceSize: 777) }
            #expect(streamed?.code == .truncated, "cut at \(cut): \(String(describing: streamed))")
        }
    }

    @Test("a second frame cut after a complete first one is truncated")
    func truncatedSecondFrame() throws {
        let stream = Self.compressed + Self.compressed
        for cut in [Self.compressed.count + 1, Self.compressed.count + 4, stream.count - 1] {
            let error = #expect(throws: ZstdError.self) { _ = try Zstd.decompress(Array(stream.prefix(cut))) }
            #expect(error?.code == .truncated, "cut at \(cut)")
        }
    }

    @Test("empty input is not a stream")
    func empty() {
        let error = #expect(throws: ZstdError.self) { _ = try Zstd.decompress([]) }
        #expect(error?.code == .truncated)
        let streamed = #expect(throws: ZstdError.self) { _ = try streamDecompress([], pieceSize: 1) }
        #expect(streamed?.code == .truncated)
    }

    @Test("bytes changed inside a frame never decode silently")
    func flippedBytes() throws {
        let stream = Self.compressed
        // Positions past the frame header (whose window bits may change without changing the content) and before
        // the checksum; 0xFF flips every bit of the byte.
        var positions = Array(stride(from: 12, to: stream.count - 4, by: max(1, stream.count / 97)))
        positions.append(stream.count / 2)
        for position in positions {
            var damaged = stream
            damaged[position] ^= 0xFF
            let error = #expect(throws: ZstdError.self, "flip at \(position)") { _ = try Zstd.decompress(damaged) }
            #expect(
                error?.code == .corrupt || error?.code == .checksumMismatch,
                "flip at \(position): \(String(describing: error))"
            )
        }
    }

    @Test("a wrong frame checksum is a checksum mismatch", arguments: 1...4)
    func checksumMismatch(fromEnd: Int) throws {
        var damaged = Self.compressed
        damaged[damaged.count - fromEnd] ^= 0x01
        let error = #expect(throws: ZstdError.self) { _ = try Zstd.decompress(damaged) }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.message.contains("checksum") == true)
    }

    @Test(
        "bytes that are not zstd are corrupt",
        arguments: [
            Array("record_id,mykey_id,kind,amount_yen,occurred_at\nR1,ABCD1234,charge,100,2020-10-01T00:00:00Z\n".utf8),
            [0x00],
            [0xFF, 0xFE],
            sampleBytes(count: 5000, seed: 99),
            [0x28, 0xB5, 0x2F, 0xFE, 0, 0, 0, 0],
        ]
    )
    func notZstd(bytes: [UInt8]) {
        let error = #expect(throws: ZstdError.self) { _ = try Zstd.decompress(bytes) }
        #expect(error?.code == .corrupt, "\(String(describing: error))")
        let streamed = #expect(throws: ZstdError.self) { _ = try streamDecompress(bytes, pieceSize: 1) }
        #expect(streamed?.code == .corrupt, "\(String(describing: streamed))")
    }

    @Test(
        "garbage after a complete frame is corrupt",
        arguments: [[0x00], [0x28, 0xB5, 0x00], Array("trailing text".utf8), [UInt8](repeating: 0, count: 100)]
    )
    func trailingGarbage(garbage: [UInt8]) {
        let stream = Self.compressed + garbage
        let error = #expect(throws: ZstdError.self) { _ = try Zstd.decompress(stream) }
        #expect(error?.code == .corrupt, "\(String(describing: error))")
        for pieceSize in [1, 4096] {
            let streamed = #expect(throws: ZstdError.self) { _ = try streamDecompress(stream, pieceSize: pieceSize) }
            #expect(streamed?.code == .corrupt, "\(String(describing: streamed))")
        }
    }

    @Test("the start of a magic number after a complete frame is a truncated next frame", arguments: 1...3)
    func partialMagic(count: Int) {
        let stream = Self.compressed + [0x28, 0xB5, 0x2F].prefix(count)
        let error = #expect(throws: ZstdError.self) { _ = try Zstd.decompress(stream) }
        #expect(error?.code == .truncated)
    }

    @Test("an error sticks until reset, then the decompressor works again")
    func stickyErrorAndReset() throws {
        let decompressor = try ZstdDecompressor()
        let garbage: [UInt8] = Array("not a zstd stream".utf8)
        let first = #expect(throws: ZstdError.self) {
            _ = try streamDecompress(garbage, pieceSize: 4, using: decompressor)
        }
        #expect(first?.code == .corrupt)
        let again = #expect(throws: ZstdError.self) {
            _ = try streamDecompress(Self.compressed, pieceSize: 4096, using: decompressor)
        }
        #expect(again == first)
        decompressor.reset()
        try expectBytes(streamDecompress(Self.compressed, pieceSize: 4096, using: decompressor), Self.content)
        // A finished stream leaves the decompressor ready for the next one, which must again hold a frame.
        try expectBytes(streamDecompress(Self.compressed, pieceSize: 65_536, using: decompressor), Self.content)
        let empty = #expect(throws: ZstdError.self) { _ = try streamDecompress([], pieceSize: 1, using: decompressor) }
        #expect(empty?.code == .truncated)
    }

    struct SinkFailure: Error, Equatable {}

    @Test("a sink's error is rethrown as is, and the decompressor then needs a reset")
    func sinkError() throws {
        let decompressor = try ZstdDecompressor()
        let thrown = #expect(throws: SinkFailure.self) {
            try Self.compressed.withUnsafeBytes { try decompressor.decompress($0) { _ in throw SinkFailure() } }
        }
        #expect(thrown == SinkFailure())
        let misuse = #expect(throws: ZstdError.self) { try decompressor.finish() }
        #expect(misuse?.code == .usage)
        decompressor.reset()
        try expectBytes(streamDecompress(Self.compressed, pieceSize: 1 << 20, using: decompressor), Self.content)
    }

    @Test("a compressor whose sink threw refuses to continue until reset")
    func compressorSinkError() throws {
        let compressor = try ZstdCompressor()
        let content = sampleBytes(count: 1 << 20, seed: 12)
        #expect(throws: SinkFailure.self) {
            try content.withUnsafeBytes { try compressor.compress($0) { _ in throw SinkFailure() } }
        }
        let misuse = #expect(throws: ZstdError.self) { try compressor.finish { _ in } }
        #expect(misuse?.code == .usage)
        compressor.reset()
        var output: [UInt8] = []
        try content.withUnsafeBytes { try compressor.compress($0) { output += $0 } }
        try compressor.finish { output += $0 }
        try expectBytes(Zstd.decompress(output), content)
    }

    @Test("descriptions name the code, the message and the path")
    func description() {
        let error = ZstdError(code: .corrupt, message: "Unknown frame descriptor", path: "/in/P0001.csv.zst")
        #expect(error.description == "zstd corrupt: Unknown frame descriptor (/in/P0001.csv.zst)")
        #expect(ZstdError(code: .io, message: "m").description == "zstd io: m")
    }
}
