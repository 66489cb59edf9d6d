import Foundation
import Ledger
import Registry
import Rules
import TestSupport
import Testing

/// One bad registry file: what it holds, and the file, line, field and words the failure must give.
struct BadRegistryFile: Sendable, CustomTestStringConvertible {
    var name: String
    var lines: [String]
    var compressed = false
    var file: String
    var line: Int?
    var field: String? = nil
    var code = RegistryInputError.Code.badLine
    var fragment: String
    var testDescription: String { "\(file):\(line.map(String.init) ?? "-") \(fragment)" }

    static let at = "2020-09-01T00:00:00+09:00"
    static let until = "2025-08-31T23:59:59+09:00"
    static let goodHolders = [
        Header.holders, "AAAA0001,suspended,P0001,2020-08-15T10:00:00+09:00", "NEWH0001,active,P0003,\(at)",
    ]
    static let goodCertificates = [Header.certificates, "4D01,NEWH0001,\(at),\(until),"]

    static func holders(_ bad: String) -> BadRegistryFile {
        BadRegistryFile(name: "holders.csv", lines: goodHolders + [bad], file: "holders.csv", line: 4, fragment: "")
    }

    static func certificates(_ bad: String) -> BadRegistryFile {
        BadRegistryFile(
            name: "certificates.csv", lines: goodCertificates + [bad], file: "certificates.csv", line: 3, fragment: "")
    }

    static func changes(_ bad: String) -> BadRegistryFile {
        BadRegistryFile(
            name: "mykey_changes.csv", lines: [Header.changes, "OLDH0001,NEWH0001,\(at)", bad],
            file: "mykey_changes.csv", line: 3,
            fragment: "")
    }

    /// The failure names `fragment`, as a line that does not split into the header's fields.
    func mentioning(_ fragment: String) -> BadRegistryFile {
        var copy = self
        copy.fragment = fragment
        return copy
    }

    /// The failure names `fragment`, as `field`'s value.
    func mentioning(_ fragment: String, in field: String, code: RegistryInputError.Code = .badValue) -> BadRegistryFile
    {
        var copy = mentioning(fragment)
        copy.field = field
        copy.code = code
        return copy
    }

    static let all: [BadRegistryFile] = [
        holders("AAAA001,active,,").mentioning("mykey_id", in: "mykey_id"),
        holders("aaaa0010,active,,").mentioning("mykey_id", in: "mykey_id"),
        holders("AAAA-010,active,,").mentioning("mykey_id", in: "mykey_id"),
        holders("NEWH0002,paused,,").mentioning("status \"paused\"", in: "status"),
        holders("NEWH0002,Active,,").mentioning("status \"Active\"", in: "status"),
        holders("NEWH0002,active,P0001,").mentioning("both be given", in: "provider_id"),
        holders("NEWH0002,active,,\(at)").mentioning("both be given", in: "provider_id"),
        holders("NEWH0002,active,P0001,2020-09-01 00:00:00").mentioning("applied_at", in: "applied_at"),
        holders("NEWH0002,active,P0001,2020-09-01T00:00:00").mentioning("applied_at", in: "applied_at"),
        holders("NEWH0002,active,P0001,2020-02-30T00:00:00+09:00").mentioning("applied_at", in: "applied_at"),
        holders("NEWH0002,active,p-1,\(at)").mentioning("provider_id", in: "provider_id"),
        holders("NEWH0002,active,P0001").mentioning("expected 4"),
        holders("NEWH0002,active,P0001,\(at),extra").mentioning("expected 4"),
        holders("NEWH0002,\"active,P0001,\(at)").mentioning("expected 4"),
        holders("NEWH0002,\"active\"x,P0001,\(at)").mentioning("expected 4"),
        certificates("04D02,NEWH0001,\(at),\(until),").mentioning("serial \"04D02\"", in: "serial"),
        certificates("4d02,NEWH0001,\(at),\(until),").mentioning("serial \"4d02\"", in: "serial"),
        certificates(",NEWH0001,\(at),\(until),").mentioning("serial", in: "serial"),
        certificates("4D02,NEWH001,\(at),\(until),").mentioning("mykey_id", in: "mykey_id"),
        certificates("4D02,NEWH0001,\(at),\(at),").mentioning("not_before must be before not_after", in: "not_before"),
        certificates("4D02,NEWH0001,\(until),\(at),").mentioning(
            "not_before must be before not_after", in: "not_before"),
        certificates("4D02,NEWH0001,2020-09-01,\(until),").mentioning("not_before", in: "not_before"),
        certificates("4D02,NEWH0001,\(at),2025-08-31T24:00:00+09:00,").mentioning("not_after", in: "not_after"),
        certificates("4D02,NEWH0001,\(at),\(until),yesterday").mentioning("revoked_at", in: "revoked_at"),
        certificates("4D02,NEWH0001,\(at),\(until)").mentioning("expected 5"),
        changes("OLDH002,NEWH0001,\(at)").mentioning("old_mykey_id", in: "old_mykey_id"),
        changes("OLDH0002,newh0001,\(at)").mentioning("new_mykey_id", in: "new_mykey_id"),
        changes("OLDH0002,NEWH0001,2020-13-01T00:00:00+09:00").mentioning("changed_at", in: "changed_at"),
        BadRegistryFile(
            name: "providers.csv", lines: [Header.providers, "P0001,Renamed Pay", "P0003,Third Pay", "P0001,Again"],
            file: "providers.csv", line: 4, fragment: ""
        ).mentioning("appears twice", in: "provider_id", code: .duplicate),
        BadRegistryFile(
            name: "providers.csv", lines: [Header.providers, "P0003,Third Pay", "P0004,"], file: "providers.csv",
            line: 3, fragment: ""
        ).mentioning("name is empty", in: "name"),
        BadRegistryFile(
            name: "providers.csv", lines: [Header.providers, "P0003,Third Pay", "P00000000000000004,Long"],
            file: "providers.csv", line: 3, fragment: ""
        ).mentioning("provider_id", in: "provider_id"),
        BadRegistryFile(
            name: "providers.csv", lines: ["provider,name", "P0003,Third Pay"], file: "providers.csv", line: 1,
            code: .badHeader, fragment: "header must be exactly provider_id,name"),
        BadRegistryFile(
            name: "holders.csv", lines: ["mykey_id,status,provider_id"] + goodHolders.dropFirst(), file: "holders.csv",
            line: 1, code: .badHeader, fragment: "header"),
        BadRegistryFile(
            name: "certificates.csv", lines: ["4D01,NEWH0001,\(at),\(until),"], file: "certificates.csv", line: 1,
            code: .badHeader, fragment: "header"),
        BadRegistryFile(
            name: "providers.csv", lines: [], file: "providers.csv", line: nil, code: .badHeader, fragment: "empty"),
        BadRegistryFile(
            name: "holders.csv.zst", lines: goodHolders + ["NEWH0002,active"], compressed: true,
            file: "holders.csv.zst", line: 4, fragment: "expected 4"),
        BadRegistryFile(
            name: "holders.csv.zst", lines: ["mykey_id,status"] + goodHolders.dropFirst(), compressed: true,
            file: "holders.csv.zst", line: 1, code: .badHeader, fragment: "header"),
        BadRegistryFile(
            name: "holders.csv.zst", lines: goodHolders + ["NEWH0002,paused,,"], compressed: true,
            file: "holders.csv.zst", line: 4, fragment: ""
        ).mentioning("paused", in: "status"),
    ]
}

@Suite struct RegistryReaderTests {
    /// A folder of good files with new rows (a new provider, a status change, a new holder, a certificate, a change)
    /// in which `bad` replaces one file.
    static func folder(with bad: BadRegistryFile) throws -> InputFolder {
        let folder = try InputFolder()
        try folder.write("providers.csv", [Header.providers, "P0001,Renamed Pay", "P0003,Third Pay"])
        try folder.write("holders.csv", BadRegistryFile.goodHolders)
        try folder.write("certificates.csv", BadRegistryFile.goodCertificates)
        try folder.write("mykey_changes.csv", [Header.changes, "OLDH0001,NEWH0001,\(BadRegistryFile.at)"])
        if bad.compressed {
            try folder.remove(String(bad.name.dropLast(4)))
            try folder.writeCompressed(bad.name, bad.lines)
        } else {
            try folder.write(bad.name, bad.lines)
        }
        return folder
    }

    @Test func theGoodFolderReads() throws {
        // The folder the bad cases start from is itself good: each failure below is the bad line's doing.
        let folder = try Self.folder(
            with: BadRegistryFile(name: "readme.txt", lines: ["-"], file: "", line: nil, fragment: ""))
        let load = try folder.read()
        #expect(load.providers.map(\.name) == ["Renamed Pay", "Third Pay"])
        #expect(load.holders.map(\.myKey.description) == ["AAAA0001", "NEWH0001"])
        #expect(load.holders.map(\.line) == [2, 3])
        #expect(load.holders.map { $0.application?.provider.description } == ["P0001", "P0003"])
        #expect(load.certificates.map(\.serial) == ["4D01"])
        #expect(load.certificates.first?.issuer == nil)
        #expect(load.changes.map { "\($0.old)>\($0.new)@\($0.line)" } == ["OLDH0001>NEWH0001@2"])
    }

    @Test(arguments: BadRegistryFile.all)
    func aBadLineStopsTheRead(bad: BadRegistryFile) throws {
        let folder = try Self.folder(with: bad)
        let error = #expect(throws: RegistryInputError.self) { try folder.read() }
        #expect(error?.file == bad.file)
        #expect(error?.line == bad.line)
        #expect(error?.field == bad.field)
        #expect(error?.code == bad.code)
        #expect(error?.message.contains(bad.fragment) == true, "\(String(describing: error))")
        let place = bad.file + (bad.line.map { ":\($0)" } ?? "") + ": "
        #expect(error?.description.hasPrefix(place) == true, "\(String(describing: error))")
        #expect(
            error?.description.hasSuffix("; nothing was imported — correct the file and run the import again") == true)
    }

    @Test func aCorruptCompressedFileFails() throws {
        let folder = try InputFolder()
        try folder.write("holders.csv.zst", text: "not zstd at all")
        let error = #expect(throws: RegistryInputError.self) { try folder.read() }
        #expect(error?.code == .notDecodable)
        #expect(error?.file == "holders.csv.zst")
        #expect(error?.line == nil)
        #expect(error?.message.contains("zstd") == true)
    }

    @Test func byteOrderMarkCRLFQuotesAndBlankLinesAreRead() throws {
        let folder = try InputFolder()
        try folder.write(
            "providers.csv",
            text:
                "\u{FEFF}provider_id,name\r\nP0001,\"Example, Pay\"\r\n\r\nP0002,\"Sample \"\"Card\"\"\"\r\nP0003,Last")
        try folder.write("holders.csv", [Header.holders])
        let load = try folder.read()
        #expect(load.providers.map(\.name) == ["Example, Pay", "Sample \"Card\"", "Last"])
        #expect(load.holders.isEmpty)
    }

    @Test func linesAreNumberedFromTheHeader() throws {
        let folder = try InputFolder()
        try folder.write("holders.csv", [Header.holders, "AAAA0001,active,,", "", "AAAA0002,revoked,,"])
        let load = try folder.read()
        #expect(load.holders.map(\.line) == [2, 4])
        #expect(load.holders.map(\.status) == [.active, .revoked])
    }

    @Test func aFieldThatIsNotUTF8IsNamed() throws {
        let folder = try InputFolder()
        var bytes = Array("\(Header.providers)\nP0001,Pay ".utf8)
        bytes += [0xFF, 0x0A]
        try Data(bytes).write(to: URL(fileURLWithPath: folder.path + "/providers.csv"))
        let error = #expect(throws: RegistryInputError.self) { try folder.read() }
        #expect(error?.line == 2)
        #expect(error?.message == "field 2 is not valid UTF-8")

        // The wider certificates.csv says so for the line.
        let issuer = Header.certificates + ",issuer"
        var certificates = Array("\(issuer)\n1A01,AAAA0001,\(BadRegistryFile.at),\(BadRegistryFile.until),,CA ".utf8)
        certificates += [0xFF, 0x0A]
        try Data(certificates).write(to: URL(fileURLWithPath: folder.path + "/certificates.csv"))
        try folder.remove("providers.csv")
        let wide = #expect(throws: RegistryInputError.self) { try folder.read() }
        #expect(wide?.line == 2)
        #expect(wide?.message == "expected 6 comma-separated UTF-8 fields")
    }

    @Test func anIssuerColumnNamesTheIssuerAndMayBeQuoted() throws {
        let folder = try InputFolder()
        let (at, until) = (BadRegistryFile.at, BadRegistryFile.until)
        try folder.write(
            "certificates.csv",
            [
                Header.certificates + ",issuer", "1A01,AAAA0001,\(at),\(until),,",
                "1A02,AAAA0001,\(at),\(until),,Other CA",
                "1A03,AAAA0001,\(at),\(until),\(until),\"C=JP, O=\"\"Q\"\"\"",
            ])
        let load = try folder.read()
        #expect(load.certificates.map(\.issuer) == [nil, "Other CA", "C=JP, O=\"Q\""])
        #expect(load.certificates.map { $0.validity.revokedAt == nil } == [true, true, false])
    }

    @Test func aPlainFileIsPreferredAndOtherFilesAreOptional() throws {
        let folder = try InputFolder()
        try folder.write("holders.csv", [Header.holders, "AAAA0001,active,,"])
        try folder.writeCompressed("holders.csv.zst", [Header.holders, "BBBB0001,active,,", "BBBB0002,active,,"])
        let load = try folder.read()
        #expect(load.holders.map(\.myKey.description) == ["AAAA0001"])
        #expect(load.providers.isEmpty && load.certificates.isEmpty && load.changes.isEmpty)
    }

    @Test func aFolderWithoutRegistryFilesFails() throws {
        let folder = try InputFolder()
        try folder.write("readme.txt", ["not a registry file"])
        try folder.write("holders.CSV", [Header.holders])
        let error = #expect(throws: RegistryInputError.self) { try folder.read() }
        #expect(error?.code == .notFound)
        #expect(error?.file == folder.path)
        #expect(error?.line == nil)
        #expect(error?.message.contains("no registry file found") == true)

        let missing = #expect(throws: RegistryInputError.self) {
            try RegistryReader.read(directory: folder.path + "/does-not-exist")
        }
        #expect(missing?.message.contains("no registry file found") == true)
    }

    @Test func theExampleRegistryReads() throws {
        let load = try RegistryReader.read(directory: exampleRegistry)
        #expect(load.providers.map(\.id.value) == ["P0001", "P0002"])
        #expect(load.holders.count == 9)
        #expect(load.certificates.count == 10)
        #expect(load.changes.count == 1)
    }
}
