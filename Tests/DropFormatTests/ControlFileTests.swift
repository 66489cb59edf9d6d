import Foundation
import Testing

@testable import DropFormat

/// Control files are read strictly (settlement spec §3.2, §3.4): exactly five keys, each once, integers as integers.
@Suite struct ControlFileStrictnessTests {
    static let digest = String(repeating: "ab", count: 32)

    static func text(records: String = "3", amount: String = "3000", extra: String = "") -> String {
        "{\"format\": \"mynapoint-records/1\", \"file\": \"P0001_20210105_0001.csv.zst\", \"sha256\": \"\(digest)\", "
            + "\"records\": \(records), \"amount_total\": \(amount)\(extra)}"
    }

    static func parse(_ text: String) -> Result<ControlFile, ControlFileError> { ControlFile.parse(Array(text.utf8)) }

    @Test func aValidControlFile() throws {
        let control = try Self.parse(Self.text()).get()
        #expect(
            control
                == ControlFile(file: "P0001_20210105_0001.csv.zst", sha256: Self.digest, records: 3, amountTotal: 3000))
        #expect(try Self.parse(" \n" + Self.text() + "\n").get() == control)
        #expect(try Self.parse(control.json).get() == control)
    }

    @Test(arguments: [
        ("1.0", "must be JSON integers"), ("1e3", "must be JSON integers"), ("3.", "not valid JSON"),
        ("01", "not valid JSON"), ("\"3\"", "must be JSON integers"), ("null", "must be JSON integers"),
        ("-1", "must not be negative"), ("[3]", "must be JSON integers"),
    ])
    func recordsMustBeAPlainInteger(records: String, message: String) {
        guard case .failure(let error) = Self.parse(Self.text(records: records)) else {
            Issue.record("\(records) was accepted")
            return
        }
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func keysMustAppearExactlyOnce() {
        for (text, message) in [
            (Self.text(extra: ", \"records\": 3"), "more than once"),
            (Self.text(extra: ", \"note\": \"hi\""), "does not belong"),
            (
                Self.text().replacingOccurrences(of: "\"amount_total\": 3000", with: "\"amount\": 3000"),
                "does not belong"
            ),
            (
                "{\"format\": \"mynapoint-records/1\", \"file\": \"F\", \"sha256\": \"\(Self.digest)\", \"records\": 1}",
                "no \"amount_total\""
            ),
        ] {
            guard case .failure(let error) = Self.parse(text) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func notJSONIsSaidSo() {
        for text in ["", "[]", "{", "{\"format\": }", Self.text() + "x", "{\"a\" 1}", "{\"a\": \"\u{1}\"}"] {
            guard case .failure(let error) = Self.parse(text) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(
                error.message.contains("not valid JSON") || error.message.contains("no \""), "\(text): \(error.message)"
            )
        }
    }

    /// An integer beyond 64 bits is still a JSON integer: it is read as the largest one, which no file can match.
    @Test func aHugeIntegerIsReadAsTheLargest() throws {
        let control = try Self.parse(Self.text(records: "123456789012345678901234567890")).get()
        #expect(control.records == Int.max)
    }

    @Test func escapesAreDecoded() throws {
        let text = Self.text().replacingOccurrences(
            of: "\"file\": \"P0001_20210105_0001.csv.zst\"", with: "\"file\": \"P0001_20210105_0001\\u002Ecsv.zst\"")
        #expect(try Self.parse(text).get().file == "P0001_20210105_0001.csv.zst")
    }
}

/// Names derived from an inbox name stay within the file system's 255 bytes (settlement spec §11.2).
@Suite struct EntryNameTests {
    @Test func aLongStemIsShortenedWithADigest() {
        let stem = Array(String(repeating: "X", count: 247).utf8)
        let inbox = EntryName(bytes: stem + Array(".csv.zst".utf8))
        let derived = EntryName.derived(stem: stem, suffix: ".error.json", inboxName: inbox)
        #expect(derived.bytes.count <= 255)
        #expect(derived.bytes.starts(with: stem.prefix(200) + Array("~".utf8)))
        #expect(derived.display.hasSuffix(".error.json"))
        let short = EntryName.derived(stem: Array("P0001_20210105_0001".utf8), suffix: ".error.json", inboxName: inbox)
        #expect(short.display == "P0001_20210105_0001.error.json")
    }

    @Test func bytesThatAreNotUTF8AreShownAsHex() {
        let name = EntryName(bytes: Array("a".utf8) + [0xFF, 0xC3] + Array("é".utf8))
        #expect(!name.isUTF8)
        #expect(name.display == "a\\xFF\\xC3é")
    }

    @Test func controlCharactersAreShownAsHexToo() {
        let name = EntryName(bytes: Array("P0001_2021\n0105_0001.csv.zst".utf8))
        #expect(name.isUTF8)
        #expect(name.display == "P0001_2021\\x0A0105_0001.csv.zst")
        #expect(!name.isShownAsIs)
        #expect(EntryName("P0001_20210105_0001.csv.zst").isShownAsIs)
    }

    @Test func fileNameDatesAreRealDatesOfThisCentury() {
        #expect(ProviderFile(name: "P1_20200229_0001.csv.zst").hasValidName)
        #expect(!ProviderFile(name: "P1_20210229_0001.csv.zst").hasValidName)
        #expect(!ProviderFile(name: "P1_19991231_0001.csv.zst").hasValidName)
        #expect(!ProviderFile(name: "P1_21000101_0001.csv.zst").hasValidName)
    }
}
