import DropFormat
import Foundation
import Ledger
import Postgres
import Rules
import Testing

@testable import Settlement

@Suite struct LineScannerTests {
    func lines(_ chunks: [String]) -> [String] {
        var scanner = LineScanner()
        var out: [String] = []
        for chunk in chunks {
            var chunk = chunk
            chunk.withUTF8 { raw in
                scanner.feed(UnsafeRawBufferPointer(raw)) { line, number in
                    #expect(number == out.count + 1)
                    out.append(String(decoding: line, as: UTF8.self))
                }
            }
        }
        scanner.finish { line, _ in out.append(String(decoding: line, as: UTF8.self)) }
        return out
    }

    @Test func splitsLFAndCRLF() {
        #expect(lines(["a\nb\r\nc"]) == ["a", "b", "c"])
        #expect(lines(["a\n\n\r\nb\n"]) == ["a", "", "", "b"])
        #expect(lines(["a\r\r\n"]) == ["a\r"])
    }

    @Test func joinsLinesAcrossChunks() {
        #expect(lines(["ab", "c\nd", "e", "\r", "\nf"]) == ["abc", "de", "f"])
        #expect(lines(["x", "", "y\n"]) == ["xy"])
    }

    /// Lines and the first overlong line, from a plain model: split at LF, drop one CR before it, measure.
    static func model(_ text: [UInt8], max: Int) -> (lines: [[UInt8]], overlong: Int?) {
        var pieces = text.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if pieces.last?.isEmpty == true { pieces.removeLast() }
        var lines: [[UInt8]] = []
        for (index, piece) in pieces.enumerated() {
            let line = piece.last == 0x0D ? Array(piece.dropLast()) : piece
            if line.count > max { return (lines, index + 1) }
            lines.append(line)
        }
        return (lines, nil)
    }

    static func scan(_ text: [UInt8], cuts: [Int], max: Int) -> (lines: [[UInt8]], overlong: Int?) {
        var scanner = LineScanner(maxLineBytes: max)
        var lines: [[UInt8]] = []
        var start = 0
        for end in cuts + [text.count] {
            text[start..<end].withUnsafeBytes { scanner.feed($0) { line, _ in lines.append(Array(line)) } }
            start = end
        }
        scanner.finish { line, _ in lines.append(Array(line)) }
        return (lines, scanner.overlongLine)
    }

    /// A line longer than the limit is found, with the same number, wherever one or two chunk boundaries fall —
    /// lines of exactly the limit (with LF or CRLF) pass, one byte more does not.
    @Test(arguments: [15, 16, 17])
    func overlongLinesWhereverTheChunksBreak(length: Int) {
        let max = 16
        for ending in ["\n", "\r\n"] {
            let text = Array(("ab\n" + String(repeating: "x", count: length) + ending + "tail\n").utf8)
            let expected = Self.model(text, max: max)
            #expect((expected.overlong != nil) == (length > max))
            for first in 0...text.count {
                let one = Self.scan(text, cuts: [first], max: max)
                #expect(one.lines == expected.lines && one.overlong == expected.overlong, "cut at \(first)")
                for second in first...text.count {
                    let two = Self.scan(text, cuts: [first, second], max: max)
                    #expect(
                        two.lines == expected.lines && two.overlong == expected.overlong, "cuts \(first), \(second)")
                }
            }
        }
    }

    @Test func aLastLineWithoutLineEndIsMeasuredToo() {
        let text = Array(("ab\n" + String(repeating: "y", count: 17)).utf8)
        #expect(Self.scan(text, cuts: [], max: 16).overlong == 2)
        #expect(Self.scan(text, cuts: [10], max: 16).overlong == 2)
        #expect(Self.scan(Array(text.dropLast()), cuts: [10], max: 16).overlong == nil)
    }
}

@Suite struct FieldSplitterTests {
    func split(_ line: String) -> (FieldSplitter.Split, [String]) {
        let splitter = FieldSplitter()
        var line = line
        return line.withUTF8 { raw in
            let result = splitter.split(UnsafeRawBufferPointer(raw))
            guard case .fields(let n) = result else { return (result, []) }
            return (result, (0..<min(n, 5)).map { String(decoding: splitter.field($0), as: UTF8.self) })
        }
    }

    @Test func plainFields() {
        #expect(split("a,b,c,d,e") == (.fields(5), ["a", "b", "c", "d", "e"]))
        #expect(split("a,,c,,") == (.fields(5), ["a", "", "c", "", ""]))
        #expect(split("") == (.fields(1), [""]))
        #expect(split("a,b,c,d,e,f").0 == .fields(6))
        #expect(split("a,b,c,d,e,").0 == .fields(6))
        #expect(split("a,b,c,d").0 == .fields(4))
    }

    @Test func quotedFields() {
        #expect(split("\"T1\",\"A\",c,\"1\",e") == (.fields(5), ["T1", "A", "c", "1", "e"]))
        #expect(split("\"a,b\",c") == (.fields(2), ["a,b", "c"]))
        #expect(split("\"say \"\"hi\"\"\",x") == (.fields(2), ["say \"hi\"", "x"]))
        #expect(split("\"\",x") == (.fields(2), ["", "x"]))
    }

    @Test func badQuoting() {
        #expect(split("\"open,b").0 == .badQuoting)
        #expect(split("\"a\"b,c").0 == .badQuoting)
        // A quote inside an unquoted field is part of the value (and no valid form has one).
        #expect(split("a\"b,c") == (.fields(2), ["a\"b", "c"]))
    }
}

@Suite struct ProviderFileTests {
    @Test(arguments: [
        "P0001_20201001_0001.csv.zst", "A_20200229_9999.csv.zst", "ABCDEFGHIJKLMNOP_20210331_0000.csv.zst",
    ])
    func validNames(_ name: String) { #expect(ProviderFile(name: name).hasValidName) }

    @Test(arguments: [
        "p0001_20201001_0001.csv.zst", "P0001_20201301_0001.csv.zst", "P0001_20210229_0001.csv.zst",
        "P0001_2020101_0001.csv.zst", "P0001_20201001_001.csv.zst", "P0001_20201001_00001.csv.zst",
        "P0001-20201001-0001.csv.zst", "P0001_20201001_0001_x.csv.zst", "ABCDEFGHIJKLMNOPQ_20201001_0001.csv.zst",
        "_20201001_0001.csv.zst",
    ])
    func invalidNames(_ name: String) { #expect(!ProviderFile(name: name).hasValidName) }

    @Test func stemAndControl() {
        let file = ProviderFile(name: "P0001_20201001_0001.csv.zst")
        #expect(file.stem == "P0001_20201001_0001")
        #expect(file.controlName == "P0001_20201001_0001.ctl")
        #expect(file.provider?.value == "P0001")
    }
}

@Suite struct ControlFileTests {
    let digest = String(repeating: "ab", count: 32)

    @Test func parsesAValidControlFile() throws {
        let json =
            "{\"format\": \"mynapoint-records/1\", \"file\": \"P1_20201001_0001.csv.zst\", \"sha256\": \"\(digest.uppercased())\", \"records\": 3, \"amount_total\": 10}"
        let control = try ControlFile.parse(Array(json.utf8)).get()
        #expect(control == ControlFile(file: "P1_20201001_0001.csv.zst", sha256: digest, records: 3, amountTotal: 10))
    }

    @Test(arguments: [
        "", "not json", "[]", "{}",
        "{\"format\": \"other/1\", \"file\": \"f\", \"sha256\": \"DIGEST\", \"records\": 1, \"amount_total\": 1}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"f\", \"sha256\": \"abc\", \"records\": 1, \"amount_total\": 1}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"f\", \"sha256\": \"DIGEST\", \"records\": 1.5, \"amount_total\": 1}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"f\", \"sha256\": \"DIGEST\", \"records\": \"1\", \"amount_total\": 1}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"f\", \"sha256\": \"DIGEST\", \"records\": -1, \"amount_total\": 1}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"f\", \"sha256\": \"DIGEST\", \"records\": 1}",
    ])
    func rejectsBadControlFiles(_ text: String) {
        let json = text.replacingOccurrences(of: "DIGEST", with: digest)
        #expect(throws: ControlFileError.self) { try ControlFile.parse(Array(json.utf8)).get() }
    }
}
