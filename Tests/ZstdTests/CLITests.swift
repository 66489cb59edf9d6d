import Foundation
import Testing
import Zstd

/// The zstd command-line tool, when the machine has one.
private let zstdCLI = "/usr/bin/zstd"

@Suite("zstd command-line tool", .enabled(if: FileManager.default.isExecutableFile(atPath: zstdCLI)))
struct CLITests {
    /// Runs the zstd CLI with `arguments` on `input` (a file) and returns its standard output.
    func runCLI(_ arguments: [String]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: zstdCLI)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "zstd \(arguments)")
        return Array(bytes)
    }

    @Test("the CLI decodes the streaming compressor's multi-frame output")
    func cliDecodesOurs() throws {
        let first = sampleBytes(count: 1_000_000, seed: 31)
        let second = sampleBytes(count: 10_000, seed: 32)
        let stream = try streamCompress(first, pieceSize: 9_999) + streamCompress(second, pieceSize: 100, level: 19)
        let directory = try TemporaryDirectory()
        let path = try directory.write(stream, name: "ours.zst")
        try expectBytes(runCLI(["-q", "-dc", path]), first + second)
    }

    /// Fast, slow without checksums, and the strongest level, whose window is the largest zstd decodes by default.
    static let cliOptions = [["-1"], ["-19", "--no-check"], ["--ultra", "-22"]]

    @Test("the decompressor decodes the CLI's output", arguments: cliOptions)
    func oursDecodesCLI(options: [String]) throws {
        let content = sampleBytes(count: 2_000_000, seed: 33)
        let directory = try TemporaryDirectory()
        let plain = try directory.write(content, name: "plain.csv")
        let compressed = try runCLI(["-q", "-c"] + options + [plain])
        try expectBytes(streamDecompress(compressed, pieceSize: 65_536), content)
        let path = try directory.write(compressed, name: "cli.csv.zst")
        var observed: [UInt8] = []
        var decompressed: [UInt8] = []
        try readFile(path, readSize: 1 << 18, observed: &observed, decompressed: &decompressed)
        expectBytes(decompressed, content)
        expectBytes(observed, compressed)
    }
}
