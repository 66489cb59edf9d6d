import Foundation
import TestSupport
import Testing
import Zstd

/// Reproducible, compressible bytes: words and numbers drawn by SplitMix64 from `seed`.
func sampleBytes(count: Int, seed: UInt64) -> [UInt8] {
    var random = SplitMix64(seed: seed)
    let words: [[UInt8]] = ["charge", "purchase", "P0001", "2020-10-01T12:34:56+09:00", ",", "\n"].map {
        Array($0.utf8)
    }
    var result: [UInt8] = []
    result.reserveCapacity(count + 32)
    while result.count < count {
        let value = random.next()
        if value % 3 == 0 {
            result.append(contentsOf: String(value % 1_000_000_007).utf8)
        } else {
            result.append(contentsOf: words[Int(value % UInt64(words.count))])
        }
    }
    return Array(result.prefix(count))
}

/// Compresses with the streaming compressor, feeding `input` in pieces of `pieceSize` bytes; one frame.
func streamCompress(_ input: [UInt8], pieceSize: Int, level: Int32 = 3, checksum: Bool = true) throws -> [UInt8] {
    let compressor = try ZstdCompressor(level: level, checksum: checksum)
    var output: [UInt8] = []
    try input.withUnsafeBytes { raw in
        var offset = 0
        repeat {
            let end = min(offset + pieceSize, raw.count)
            try compressor.compress(UnsafeRawBufferPointer(rebasing: raw[offset..<end])) { output += $0 }
            offset = end
        } while offset < raw.count
    }
    try compressor.finish { output += $0 }
    return output
}

/// Decompresses with the streaming decompressor, feeding `input` in pieces of `pieceSize` bytes, then finishing.
func streamDecompress(_ input: [UInt8], pieceSize: Int, using decompressor: ZstdDecompressor? = nil) throws -> [UInt8] {
    let decompressor = try decompressor ?? ZstdDecompressor()
    var output: [UInt8] = []
    try input.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let end = min(offset + pieceSize, raw.count)
            try decompressor.decompress(UnsafeRawBufferPointer(rebasing: raw[offset..<end])) { chunk in
                #expect(chunk.count <= ZstdDecompressor.maxChunkSize)
                output += chunk
            }
            offset = end
        }
    }
    try decompressor.finish()
    return output
}

/// A fresh directory under the system's temporary directory, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("zstd-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `bytes` to a file named `name` in the directory and returns its path.
    func write(_ bytes: [UInt8], name: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Reads a file through `ZstdFileReader`, returning what the observer saw and what `body` received.
func readFile(
    _ path: String,
    readSize: Int,
    observeWholeFileOnError: Bool = true,
    observed: inout [UInt8],
    decompressed: inout [UInt8],
    decompressor: ZstdDecompressor? = nil
) throws {
    let decompressor = try decompressor ?? ZstdDecompressor()
    var seen: [UInt8] = []
    var output: [UInt8] = []
    defer {
        observed = seen
        decompressed = output
    }
    try ZstdFileReader(path: path, readSize: readSize).forEachChunk(
        decompressor: decompressor,
        compressedObserver: { seen += $0 },
        observeWholeFileOnError: observeWholeFileOnError
    ) { chunk in
        #expect(chunk.count <= ZstdDecompressor.maxChunkSize)
        output += chunk
    }
}

/// Expects equal byte arrays, reporting sizes and the first differing offset rather than megabytes of elements.
func expectBytes(_ actual: [UInt8], _ expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual != expected else { return }
    let firstDifference =
        zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(actual.count, expected.count)
    Issue.record(
        "got \(actual.count) bytes, expected \(expected.count); first difference at offset \(firstDifference)",
        sourceLocation: sourceLocation
    )
}
