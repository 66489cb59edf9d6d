import TestSupport
import Testing
import Zstd

@Suite("Round trips")
struct RoundTripTests {
    @Test("whole-buffer round trip", arguments: [0, 1, 5, 1000, 300_000])
    func wholeBuffer(count: Int) throws {
        let content = sampleBytes(count: count, seed: UInt64(count))
        let compressed = try Zstd.compress(content)
        #expect(!compressed.isEmpty)
        try expectBytes(Zstd.decompress(compressed), content)
    }

    @Test("streaming round trip in uneven pieces", arguments: [1, 7, 4096, 65_537])
    func streaming(pieceSize: Int) throws {
        // One-byte pieces over megabytes would only measure call overhead; they get a smaller input.
        let content = sampleBytes(count: pieceSize == 1 ? 50_000 : 1_500_000, seed: 42)
        let compressed = try streamCompress(content, pieceSize: pieceSize)
        try expectBytes(streamDecompress(compressed, pieceSize: pieceSize), content)
        try expectBytes(Zstd.decompress(compressed), content)
    }

    @Test("several megabytes of reproducible data")
    func large() throws {
        let content = sampleBytes(count: 8 << 20, seed: 7)
        let compressed = try Zstd.compress(content, level: 1)
        #expect(compressed.count < content.count)
        try expectBytes(streamDecompress(compressed, pieceSize: 1 << 18), content)
    }

    @Test("coded literals at a fast level: the same content, and smaller than zstd's raw literals")
    func codedLiteralsAtAFastLevel() throws {
        // Random identifiers over a 36-letter alphabet: little to match, so the literals carry the size.
        var random = SplitMix64(seed: 11)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        var content: [UInt8] = []
        for _ in 0..<50_000 {
            for _ in 0..<8 { content.append(alphabet[Int(random.next() % 36)]) }
            content.append(contentsOf: ",GRANTED\n".utf8)
        }
        func compressed(literals: Bool) throws -> [UInt8] {
            let compressor = try ZstdCompressor(level: -3, checksum: true, compressLiterals: literals)
            var output: [UInt8] = []
            try content.withUnsafeBytes { try compressor.compress($0) { output += $0 } }
            try compressor.finish { output += $0 }
            return output
        }
        let coded = try compressed(literals: true)
        let raw = try compressed(literals: false)
        try expectBytes(Zstd.decompress(coded), content)
        try expectBytes(streamDecompress(coded, pieceSize: 4096), content)
        // Eight random letters of 36 hold 5.2 bytes of information; raw literals keep all 8.
        #expect(Double(coded.count) < 0.85 * Double(raw.count))
    }

    @Test("empty content is one valid frame")
    func emptyContent() throws {
        let compressed = try streamCompress([], pieceSize: 1)
        #expect(compressed.count > 4)
        #expect(try Zstd.decompress(compressed) == [])
        #expect(try streamDecompress(compressed, pieceSize: 1) == [])
    }

    @Test("concatenated frames decode to both contents")
    func multiFrame() throws {
        let first = sampleBytes(count: 200_000, seed: 1)
        let second = sampleBytes(count: 123_457, seed: 2)
        let stream = try Zstd.compress(first) + Zstd.compress([]) + Zstd.compress(second)
        try expectBytes(Zstd.decompress(stream), first + second)
        for pieceSize in [1, 1000, stream.count] {
            try expectBytes(streamDecompress(stream, pieceSize: pieceSize), first + second)
        }
    }

    @Test("one compressor writes several frames, each finished stream complete on its own")
    func compressorFrames() throws {
        let first = sampleBytes(count: 70_000, seed: 3)
        let second = sampleBytes(count: 90_000, seed: 4)
        let compressor = try ZstdCompressor()
        var firstFrame: [UInt8] = []
        var secondFrame: [UInt8] = []
        try first.withUnsafeBytes { try compressor.compress($0) { firstFrame += $0 } }
        try compressor.finish { firstFrame += $0 }
        try second.withUnsafeBytes { try compressor.compress($0) { secondFrame += $0 } }
        try compressor.finish { secondFrame += $0 }
        #expect(try Zstd.decompress(firstFrame) == first)
        try expectBytes(Zstd.decompress(secondFrame), second)
        try expectBytes(Zstd.decompress(firstFrame + secondFrame), first + second)
    }

    @Test("skippable frames are skipped")
    func skippableFrames() throws {
        func skippable(_ payload: [UInt8], variant: UInt8) -> [UInt8] {
            let size = UInt32(payload.count)
            return [0x50 | variant, 0x2A, 0x4D, 0x18]
                + [UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24)]
                + payload
        }
        let content = sampleBytes(count: 10_000, seed: 5)
        let stream =
            try skippable(Array("metadata".utf8), variant: 0) + Zstd.compress(content)
            + skippable([], variant: 0xF)
        try expectBytes(Zstd.decompress(stream), content)
        try expectBytes(streamDecompress(stream, pieceSize: 3), content)
        #expect(try Zstd.decompress(skippable([1, 2, 3], variant: 5)) == [])
    }

    @Test("frames without a checksum are 4 bytes shorter and still decode")
    func withoutChecksum() throws {
        let content = sampleBytes(count: 50_000, seed: 6)
        let with = try streamCompress(content, pieceSize: 10_000, checksum: true)
        let without = try streamCompress(content, pieceSize: 10_000, checksum: false)
        #expect(without.count == with.count - 4)
        try expectBytes(Zstd.decompress(without), content)
    }

    @Test("levels outside zstd's range are a usage error", arguments: [Int32.min, -1_000_000, 23, 1000])
    func badLevel(level: Int32) {
        let error = #expect(throws: ZstdError.self) { _ = try ZstdCompressor(level: level) }
        #expect(error?.code == .usage)
    }

    @Test("negative (fast) levels and level 0 (the default) work", arguments: [-5, 0, 19] as [Int32])
    func otherLevels(level: Int32) throws {
        let content = sampleBytes(count: 20_000, seed: 8)
        try expectBytes(Zstd.decompress(Zstd.compress(content, level: level)), content)
    }
}
