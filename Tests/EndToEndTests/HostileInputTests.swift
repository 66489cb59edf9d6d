import Foundation
import Postgres
import TestSupport
import Testing
import Zstd

/// Limits of settlement spec §11.2 through the built binary, where the decompressor's chunking could hide a mistake.
@Suite struct HostileInputTests {
    static let header = "record_id,mykey_id,kind,amount_yen,occurred_at\n"

    /// A data file whose line `number` (physical, 1-based) is `long` and starts at byte `start`, with filler lines
    /// of one malformed field around it.
    struct Placed {
        var csv: String
        var number: Int
    }

    static func place(_ long: String, at start: Int) -> Placed {
        var csv = header
        var number = 1
        var remaining = start - csv.utf8.count
        // Lines of 100 bytes, then one of 2–101 bytes to land exactly on `start` (never an empty line).
        while remaining > 201 {
            csv += String(repeating: "x", count: 99) + "\n"
            remaining -= 100
            number += 1
        }
        if remaining > 101 {
            csv += String(repeating: "x", count: 99) + "\n"
            remaining -= 100
            number += 1
        }
        if remaining > 0 {
            precondition(remaining >= 2, "a filler line needs at least one byte before its line end")
            csv += String(repeating: "y", count: remaining - 1) + "\n"
            number += 1
        }
        precondition(csv.utf8.count == start)
        csv += long
        number += 1
        for _ in 0..<3 { csv += String(repeating: "x", count: 99) + "\n" }
        return Placed(csv: csv, number: number)
    }

    /// Where a long line lies relative to a decompression chunk boundary.
    struct Case: CustomStringConvertible {
        var boundary: Int
        var k: Int
        /// The line starts at `boundary + k` (else its line end starts there).
        var alignStart: Bool
        /// Bytes before the line end.
        var length: Int
        var crlf: Bool

        var long: String { String(repeating: "z", count: length) + (crlf ? "\r\n" : "\n") }
        var start: Int { alignStart ? boundary + k : boundary + k - length - (crlf ? 1 : 0) }
        var description: String {
            "\(length)-byte line\(crlf ? " + CRLF" : "") \(alignStart ? "starting" : "ending") at \(boundary)\(k >= 0 ? "+" : "")\(k)"
        }
    }

    static let chunk = 131_072

    static var boundaryCases: [Case] {
        var cases: [Case] = []
        for boundary in [chunk, 2 * chunk] {
            for k in -3...3 {
                for alignStart in [true, false] {
                    for (length, crlf) in [(4097, false), (4096, false), (4096, true), (4097, true)] {
                        cases.append(Case(boundary: boundary, k: k, alignStart: alignStart, length: length, crlf: crlf))
                    }
                }
            }
        }
        return cases
    }

    @Test func linesAroundDecompressionChunkBoundaries() throws {
        #expect(ZstdDecompressor.maxChunkSize == Self.chunk, "the cases below are placed for 128 KiB chunks")
        let deployment = try Deployment(generated: 0, faults: false)
        let workspace = deployment.workspace
        // The generated drop has nothing to do with this test; only the registry is wanted.
        for name in try FileManager.default.contentsOfDirectory(atPath: workspace.inbox) {
            try FileManager.default.removeItem(atPath: workspace.inbox + "/" + name)
        }
        let cases = Self.boundaryCases
        var placed: [String: (Case, Placed)] = [:]
        for (index, testCase) in cases.enumerated() {
            let stem = String(format: "P0001_20210105_%04d", index + 1)
            let file = Self.place(testCase.long, at: testCase.start)
            // One frame, so the decompressor's output chunks fall at multiples of its chunk size.
            let compressed = try Zstd.compress(Array(file.csv.utf8))
            // Counted on bytes: a String sees "\r\n" as one character, not as a line end.
            let tally = CSVModel.tally(Array(file.csv.utf8))
            try workspace.drop(
                stem + ".csv.zst", bytes: compressed, csv: file.csv, records: tally.records, amountTotal: tally.amount)
            placed[stem] = (testCase, file)
            if index == 0 { try Self.expectChunking(compressed, boundary: Self.chunk) }
        }
        let run = try deployment.settle()
        #expect(run.killedBySignal == nil)
        #expect(run.status == 3, "\(run.stderr)")
        for (stem, (testCase, file)) in placed.sorted(by: { $0.key < $1.key }) {
            let reason = try Self.errorJSON(workspace, stem: stem)
            if testCase.length > 4096 {
                #expect(reason?["code"] as? String == "TOO_LARGE", "\(testCase): \(String(describing: reason))")
                #expect(reason?["line"] as? Int == file.number, "\(testCase): \(String(describing: reason))")
            } else {
                #expect(reason == nil, "\(testCase) was quarantined: \(String(describing: reason))")
                let rows = try workspace.result(provider: "P0001", stem: stem)?.split(separator: "\n") ?? []
                // Physical line n is result row n - 1 after the result header: all lines here are data lines.
                #expect(rows.count == CSVModel.tally(Array(file.csv.utf8)).records + 1, "\(testCase)")
                #expect(
                    rows.count > file.number - 1 && rows[file.number - 1] == ",,REJECTED,0,MALFORMED", "\(testCase)")
            }
        }
    }

    /// Confirms the premise: decompressing the file in one call yields a first chunk of exactly `boundary` bytes.
    static func expectChunking(_ compressed: [UInt8], boundary: Int) throws {
        let decompressor = try ZstdDecompressor()
        var sizes: [Int] = []
        try compressed.withUnsafeBytes { raw in
            try decompressor.decompress(raw) { sizes.append($0.count) }
        }
        #expect(sizes.first == boundary, "chunk sizes \(sizes)")
    }

    static func errorJSON(_ workspace: DropWorkspace, stem: String) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: workspace.quarantine + "/\(stem).error.json") else {
            return nil
        }
        return try JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    @Test func controlFileDeclaringMoreThanMaxFileRecordsIsRefusedUnread() throws {
        let deployment = try Deployment(generated: 0, faults: false)
        let workspace = deployment.workspace
        for name in try FileManager.default.contentsOfDirectory(atPath: workspace.inbox) {
            try FileManager.default.removeItem(atPath: workspace.inbox + "/" + name)
        }
        let lines = (1...11).map { "R\($0),AAAA0001,charge,100,2021-03-01T00:00:00+09:00\n" }
        let csv = Self.header + lines.joined()
        // Not zstd at all: decompressing it would give BAD_COMPRESSION, so TOO_LARGE shows it was never decompressed.
        try workspace.drop("P0001_20210105_0001.csv.zst", bytes: Array("not zstd".utf8), csv: csv, records: 11)
        try workspace.drop("P0001_20210105_0002.csv.zst", csv: csv, records: 11)
        try workspace.drop("P0001_20210105_0003.csv.zst", csv: csv, records: 20_000_001)
        try workspace.drop("P0001_20210105_0004.csv.zst", csv: Self.header + lines.prefix(10).joined(), records: 10)
        let run = try deployment.settle(["--max-file-records", "10"])
        #expect(run.status == 3, "\(run.stderr)")
        for stem in ["P0001_20210105_0001", "P0001_20210105_0002", "P0001_20210105_0003"] {
            let reason = try Self.errorJSON(workspace, stem: stem)
            #expect(reason?["code"] as? String == "TOO_LARGE", "\(stem): \(String(describing: reason))")
            #expect(reason?["line"] is NSNull, "\(stem): \(String(describing: reason))")
        }
        #expect(try Self.errorJSON(workspace, stem: "P0001_20210105_0004") == nil, "ten records are within the limit")
        #expect(try workspace.result(provider: "P0001", stem: "P0001_20210105_0004") != nil)

        // The default limit (20,000,000) holds without a flag.
        try workspace.drop("P0001_20210105_0005.csv.zst", bytes: Array("not zstd".utf8), csv: csv, records: 20_000_001)
        let again = try deployment.settle()
        #expect(again.status == 3, "\(again.stderr)")
        #expect(try Self.errorJSON(workspace, stem: "P0001_20210105_0005")?["code"] as? String == "TOO_LARGE")
    }

    struct Beyond: Sendable, CustomStringConvertible {
        var declared: Int
        var lineEnd: String
        var expectedLine: Int
        var description: String { "declared \(declared), \(lineEnd == "\n" ? "LF" : "CRLF")" }
    }

    @Test(arguments: [
        Beyond(declared: 3, lineEnd: "\n", expectedLine: 5),
        Beyond(declared: 3, lineEnd: "\r\n", expectedLine: 5),
        Beyond(declared: 0, lineEnd: "\n", expectedLine: 2),
        Beyond(declared: 5, lineEnd: "\n", expectedLine: 7),
    ])
    func moreDataLinesThanDeclaredNamesTheFirstBeyond(_ beyond: Beyond) throws {
        let (declared, lineEnd, expectedLine) = (beyond.declared, beyond.lineEnd, beyond.expectedLine)
        let deployment = try Deployment(generated: 0, faults: false)
        let workspace = deployment.workspace
        for name in try FileManager.default.contentsOfDirectory(atPath: workspace.inbox) {
            try FileManager.default.removeItem(atPath: workspace.inbox + "/" + name)
        }
        // Six data lines (physical lines 2–7); the first beyond `declared` is physical line declared + 2.
        var csv = Self.header.replacingOccurrences(of: "\n", with: lineEnd)
        for n in 1...6 { csv += "R\(n),AAAA0001,charge,100,2021-03-01T00:00:00+09:00" + lineEnd }
        try workspace.drop("P0001_20210105_0001.csv.zst", csv: csv, records: declared, amountTotal: declared * 100)
        let run = try deployment.settle()
        #expect(run.status == 3, "\(run.stderr)")
        let reason = try Self.errorJSON(workspace, stem: "P0001_20210105_0001")
        #expect(reason?["code"] as? String == "CONTROL_MISMATCH", "\(String(describing: reason))")
        #expect(reason?["line"] as? Int == expectedLine, "\(String(describing: reason))")
        #expect(try workspace.result(provider: "P0001", stem: "P0001_20210105_0001") == nil)
    }
}

@Suite struct HardLinkTests {
    /// A data file that is a hard link is refused unread, moves to quarantine once, and its other name (outside the
    /// inbox) keeps its content and mode; the next run finds nothing new.
    @Test func hardLinkedDataFileIsQuarantinedOnceAndItsOtherNameUntouched() throws {
        let deployment = try Deployment(generated: 0, faults: false)
        let workspace = deployment.workspace
        for name in try FileManager.default.contentsOfDirectory(atPath: workspace.inbox) {
            try FileManager.default.removeItem(atPath: workspace.inbox + "/" + name)
        }
        let csv = HostileInputTests.header + "R1,AAAA0001,charge,100,2021-03-01T00:00:00+09:00\n"
        let outside = workspace.root + "/outside.csv.zst"
        let bytes = try Zstd.compress(Array(csv.utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: outside))
        #expect(chmod(outside, 0o604) == 0)
        // The control file describes the other name's content, so reading through the link would settle it.
        try workspace.drop("P0001_20210105_0001.csv.zst", bytes: bytes, csv: csv)
        try FileManager.default.removeItem(atPath: workspace.inbox + "/P0001_20210105_0001.csv.zst")
        #expect(link(outside, workspace.inbox + "/P0001_20210105_0001.csv.zst") == 0)

        let run = try deployment.settle()
        #expect(run.status == 3, "\(run.stdout) \(run.stderr)")
        let reason = try HostileInputTests.errorJSON(workspace, stem: "P0001_20210105_0001")
        #expect(reason?["code"] as? String == "NOT_A_FILE", "\(String(describing: reason))")
        for name in ["P0001_20210105_0001.csv.zst", "P0001_20210105_0001.ctl"] {
            #expect(!FileManager.default.fileExists(atPath: workspace.inbox + "/" + name), "\(name) left in the inbox")
            #expect(
                FileManager.default.fileExists(atPath: workspace.quarantine + "/" + name), "\(name) not quarantined")
        }
        var s = stat()
        #expect(stat(outside, &s) == 0 && s.st_mode & 0o7777 == 0o604, "the other name's mode changed")
        #expect(FileManager.default.contents(atPath: outside) == Data(bytes))
        let again = try deployment.settle()
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        #expect(again.stdout.contains("nothing to settle"), "\(again.stdout)")
    }
}
