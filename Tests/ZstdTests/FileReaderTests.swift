import Foundation
import Testing
import Zstd

@Suite("File reader")
struct FileReaderTests {
    static let content = sampleBytes(count: 400_000, seed: 21)

    @Test("decompresses a file and shows the observer exactly the file's bytes", arguments: [1, 1000, 1 << 18])
    func observerSeesFile(readSize: Int) throws {
        let directory = try TemporaryDirectory()
        let compressed = try Zstd.compress(Self.content) + Zstd.compress(Array("tail".utf8))
        let path = try directory.write(compressed, name: "P0001_20201001_0001.csv.zst")
        var observed: [UInt8] = []
        var decompressed: [UInt8] = []
        try readFile(path, readSize: readSize, observed: &observed, decompressed: &decompressed)
        try expectBytes(observed, Array(Data(contentsOf: URL(fileURLWithPath: path))))
        expectBytes(decompressed, Self.content + Array("tail".utf8))
    }

    @Test("after a decompression error the observer still sees the whole file", arguments: [false, true])
    func observerAfterError(truncate: Bool) throws {
        let directory = try TemporaryDirectory()
        var damaged = try Zstd.compress(Self.content)
        if truncate {
            damaged.removeLast(100)
        } else {
            damaged[40] ^= 0xFF
            damaged += Array(repeating: 0xAB, count: 10_000)
        }
        let path = try directory.write(damaged, name: "damaged.csv.zst")
        var observed: [UInt8] = []
        var decompressed: [UInt8] = []
        let error = #expect(throws: ZstdError.self) {
            try readFile(path, readSize: 1000, observed: &observed, decompressed: &decompressed)
        }
        let expected: Set<ZstdError.Code> = truncate ? [.truncated] : [.corrupt, .checksumMismatch]
        #expect(error.map { expected.contains($0.code) } == true, "\(String(describing: error))")
        #expect(error?.path == path)
        try expectBytes(observed, Array(Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(decompressed.count < Self.content.count)
    }

    @Test("without observeWholeFileOnError the reader stops at the first error")
    func stopAtError() throws {
        let directory = try TemporaryDirectory()
        var damaged = try Zstd.compress(Self.content)
        damaged[0] ^= 0xFF
        let path = try directory.write(damaged, name: "damaged.csv.zst")
        var observed: [UInt8] = []
        var decompressed: [UInt8] = []
        let error = #expect(throws: ZstdError.self) {
            try readFile(
                path, readSize: 1000, observeWholeFileOnError: false, observed: &observed,
                decompressed: &decompressed)
        }
        #expect(error?.code == .corrupt)
        #expect(error?.path == path)
        expectBytes(observed, Array(damaged.prefix(1000)))
    }

    struct BodyFailure: Error, Equatable {}

    @Test("an error of the body is rethrown as is, after the observer has seen the whole file")
    func bodyError() throws {
        let directory = try TemporaryDirectory()
        let compressed = try Zstd.compress(Self.content)
        let path = try directory.write(compressed, name: "P0001_20201001_0002.csv.zst")
        var observed: [UInt8] = []
        var calls = 0
        let error = #expect(throws: BodyFailure.self) {
            try ZstdFileReader(path: path, readSize: 512).forEachChunk(
                decompressor: ZstdDecompressor(),
                compressedObserver: { observed += $0 }
            ) { _ in
                calls += 1
                throw BodyFailure()
            }
        }
        #expect(error == BodyFailure())
        #expect(calls == 1)
        expectBytes(observed, compressed)
    }

    @Test("an empty file is not a stream")
    func emptyFile() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write([], name: "empty.csv.zst")
        var observed: [UInt8] = [1]
        var decompressed: [UInt8] = [1]
        let error = #expect(throws: ZstdError.self) {
            try readFile(path, readSize: 100, observed: &observed, decompressed: &decompressed)
        }
        #expect(error?.code == .truncated)
        #expect(error?.path == path)
        #expect(observed.isEmpty)
        #expect(decompressed.isEmpty)
    }

    @Test("a text file is corrupt, not read short")
    func textFile() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(Array("record_id,mykey_id\n".utf8), name: "plain.csv.zst")
        var observed: [UInt8] = []
        var decompressed: [UInt8] = []
        let error = #expect(throws: ZstdError.self) {
            try readFile(path, readSize: 100, observed: &observed, decompressed: &decompressed)
        }
        #expect(error?.code == .corrupt)
        #expect(decompressed.isEmpty)
    }

    @Test("a missing file is an I/O error naming the path")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.url.appendingPathComponent("missing.csv.zst").path
        let error = #expect(throws: ZstdError.self) {
            try ZstdFileReader(path: path).forEachChunk(decompressor: ZstdDecompressor()) { _ in }
        }
        #expect(error?.code == .io)
        #expect(error?.path == path)
        #expect(error?.message.contains("No such file or directory") == true)
        #expect(error?.description.contains(path) == true)
    }

    @Test("a directory is an I/O error naming the path")
    func directoryPath() throws {
        let directory = try TemporaryDirectory()
        let error = #expect(throws: ZstdError.self) {
            try ZstdFileReader(path: directory.url.path).forEachChunk(decompressor: ZstdDecompressor()) { _ in }
        }
        #expect(error?.code == .io)
        #expect(error?.path == directory.url.path)
    }

    @Test("one decompressor serves many files, also after a failed one")
    func reuse() throws {
        let directory = try TemporaryDirectory()
        let good = try directory.write(try Zstd.compress(Self.content), name: "good.csv.zst")
        let bad = try directory.write(Array(try Zstd.compress(Self.content).dropLast(1)), name: "bad.csv.zst")
        let decompressor = try ZstdDecompressor()
        var observed: [UInt8] = []
        var decompressed: [UInt8] = []
        func read(_ path: String) throws {
            try readFile(
                path, readSize: 4096, observed: &observed, decompressed: &decompressed, decompressor: decompressor)
        }
        try read(good)
        expectBytes(decompressed, Self.content)
        let error = #expect(throws: ZstdError.self) { try read(bad) }
        #expect(error?.code == .truncated)
        try read(good)
        expectBytes(decompressed, Self.content)
    }

    @Test("~200 MB of output flows through in chunks no larger than the output buffer")
    func boundedMemory() throws {
        let line = Array("R0000001,ABCD1234,purchase,123456,2020-10-01T12:34:56+09:00\n".utf8)
        let block = [UInt8]((0..<(1 << 20) / line.count).flatMap { _ in line })
        let repeats = 200
        let compressor = try ZstdCompressor(level: 1)
        var compressed: [UInt8] = []
        for _ in 0..<repeats {
            try block.withUnsafeBytes { try compressor.compress($0) { compressed += $0 } }
        }
        try compressor.finish { compressed += $0 }
        let directory = try TemporaryDirectory()
        let path = try directory.write(compressed, name: "big.csv.zst")

        // Every chunk is checked against the periodic content through a reference one line longer than a chunk.
        let maxChunk = ZstdDecompressor.maxChunkSize
        let reference = [UInt8]((0..<(maxChunk / line.count + 2)).flatMap { _ in line })
        var total = 0
        var largest = 0
        var mismatches = 0
        var observedBytes = 0
        try ZstdFileReader(path: path).forEachChunk(
            decompressor: ZstdDecompressor(),
            compressedObserver: { observedBytes += $0.count }
        ) { chunk in
            largest = max(largest, chunk.count)
            // The block holds whole lines, so the content at `total` starts `total % line.count` into a line.
            let phase = total % line.count
            let matches = reference.withUnsafeBytes { expected in
                chunk.count <= maxChunk
                    && memcmp(expected.baseAddress! + phase, chunk.baseAddress!, chunk.count) == 0
            }
            if !matches { mismatches += 1 }
            total += chunk.count
        }
        #expect(total == block.count * repeats)
        #expect(largest <= maxChunk)
        #expect(largest > 0)
        #expect(mismatches == 0)
        #expect(observedBytes == compressed.count)
    }
}
