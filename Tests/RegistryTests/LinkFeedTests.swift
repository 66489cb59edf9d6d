import Foundation
import Ledger
import Registry
import Rules
import Testing

@Suite struct LinkFeedTests {
    static let issuer = "C=JP, O=Test CA"

    static func id(_ serial: String) -> CertificateID { CertificateID(issuer: issuer, serial: serial) }

    @Test func aFeedGivesOneLinkPerLineNumberedFromTheHeader() throws {
        let text = """
            old_serial,new_serial,not_before,not_after
            1A01,2B01
             1a02 , 2b:02 ,2021-01-01T00:00:00+09:00,2026-01-01T00:00:00+09:00
            001A03,2B03,,

            """
        let links = try LinkFeed.parse(text, file: "feed.csv", issuer: Self.issuer)
        #expect(links.map(\.old) == [Self.id("1A01"), Self.id("1A02"), Self.id("1A03")])
        #expect(links.map(\.new) == [Self.id("2B01"), Self.id("2B02"), Self.id("2B03")])
        #expect(links.map(\.line) == [2, 3, 4])
        #expect(links[0].validity == nil && links[2].validity == nil)
        let validity = try #require(links[1].validity)
        #expect(validity.notBefore == RFC3339.parse("2021-01-01T00:00:00+09:00"))
        #expect(validity.notAfter == RFC3339.parse("2026-01-01T00:00:00+09:00"))
    }

    @Test func crlfLineEndsAndTrailingEmptyLinesAreAccepted() throws {
        let links = try LinkFeed.parse(
            "old_serial,new_serial\r\n1A01,2B01\r\n1A02,2B02\r\n\r\n", file: "feed.csv", issuer: Self.issuer)
        #expect(links.map(\.new.serial) == ["2B01", "2B02"])
    }

    /// A bad feed, and the line, field and words its failure must give.
    struct BadFeed: Sendable, CustomTestStringConvertible {
        var text: String
        var code: RegistryInputError.Code
        var line: Int?
        var field: String?
        var fragment: String
        var testDescription: String { "\(line.map(String.init) ?? "-") \(fragment)" }
    }

    static let header = LinkFeed.header + "\n"
    static let bad: [BadFeed] = [
        BadFeed(text: "", code: .badHeader, line: 1, field: nil, fragment: "header old_serial,new_serial"),
        BadFeed(text: "serial,new\n1A01,2B01\n", code: .badHeader, line: 1, field: nil, fragment: "first line"),
        BadFeed(text: header, code: .noRecords, line: nil, field: nil, fragment: "no links"),
        BadFeed(text: header + "1A01\n", code: .badLine, line: 2, field: nil, fragment: "expected 2 or 4"),
        BadFeed(text: header + "1A01,2B01,x\n", code: .badLine, line: 2, field: nil, fragment: "expected 2 or 4"),
        BadFeed(text: header + "1A01,2B01\n\n1A02,2B02\n", code: .badLine, line: 3, field: nil, fragment: "expected"),
        BadFeed(text: header + "1A01,2B01\nXYZ,2B02\n", code: .badValue, line: 3, field: "old_serial", fragment: "hex"),
        BadFeed(text: header + "1A01,\n", code: .badValue, line: 2, field: "new_serial", fragment: "1–40"),
        BadFeed(
            text: header + "1A01,\(String(repeating: "F", count: 41))\n", code: .badValue, line: 2,
            field: "new_serial", fragment: "1–40"),
        BadFeed(text: header + "1A01,01A01\n", code: .badValue, line: 2, field: "new_serial", fragment: "the same"),
        BadFeed(
            text: header + "1A01,2B01,2021-01-01T00:00:00Z,\n", code: .badValue, line: 2, field: "not_before",
            fragment: "both"),
        BadFeed(
            text: header + "1A01,2B01,2021-01-01,2026-01-01T00:00:00Z\n", code: .badValue, line: 2,
            field: "not_before", fragment: "RFC 3339"),
        BadFeed(
            text: header + "1A01,2B01,2021-01-01T00:00:00Z,soon\n", code: .badValue, line: 2, field: "not_after",
            fragment: "RFC 3339"),
        BadFeed(
            text: header + "1A01,2B01,2026-01-01T00:00:00Z,2021-01-01T00:00:00Z\n", code: .badValue, line: 2,
            field: "not_before", fragment: "before not_after"),
    ]

    @Test(arguments: bad)
    func aBadFeedSaysWhatWhereAndWhatToDo(bad: BadFeed) throws {
        let error = #expect(throws: RegistryInputError.self) {
            try LinkFeed.parse(bad.text, file: "feed.csv", issuer: Self.issuer)
        }
        #expect(error?.code == bad.code)
        #expect(error?.file == "feed.csv")
        #expect(error?.line == bad.line)
        #expect(error?.field == bad.field)
        #expect(error?.message.contains(bad.fragment) == true, "\(String(describing: error))")
        let place = "feed.csv" + (bad.line.map { ":\($0)" } ?? "") + ": "
        #expect(error?.description.hasPrefix(place) == true, "\(String(describing: error))")
        #expect(error?.description.hasSuffix("; nothing was linked — correct the feed and run it again") == true)
    }

    @Test func aSingleLinkIsCheckedLikeAFeedLine() throws {
        let link = try LinkFeed.link(
            old: "1a:01", new: "002B01", notBefore: nil, notAfter: nil, issuer: Self.issuer)
        #expect(link == CertificateLink(old: Self.id("1A01"), new: Self.id("2B01"), line: 0))

        let error = #expect(throws: RegistryInputError.self) {
            try LinkFeed.link(old: "1A01", new: "1A01", notBefore: nil, notAfter: nil, issuer: Self.issuer)
        }
        #expect(error?.file == nil && error?.line == nil)
        #expect(error?.field == "new_serial")
        #expect(
            error?.description
                == "new_serial is the same as old_serial; nothing was linked — correct the value and run the command again"
        )
    }

    @Test func aFeedFileIsReadAndAMissingOneIsNamed() throws {
        let path = FileManager.default.temporaryDirectory.path + "/mynapoint-feed-\(getpid())-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data((Self.header + "1A01,2B01\n").utf8).write(to: URL(fileURLWithPath: path))
        #expect(try LinkFeed.read(path: path, issuer: Self.issuer).map(\.new) == [Self.id("2B01")])

        let missing = #expect(throws: RegistryInputError.self) {
            try LinkFeed.read(path: path + ".missing", issuer: Self.issuer)
        }
        #expect(missing?.code == .notFound)
        #expect(missing?.file == path + ".missing")
        #expect(missing?.description.contains("cannot be read") == true)
    }
}
