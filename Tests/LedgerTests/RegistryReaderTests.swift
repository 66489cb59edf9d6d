import Foundation
import Ledger
import Rules
import Settlement
import TestSupport
import Testing

/// One bad registry file: what it holds, and the file, line and words the failure must give.
struct BadRegistryFile: Sendable, CustomTestStringConvertible {
    var name: String
    var lines: [String]
    var compressed = false
    var file: String
    var line: Int?
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

    func mentioning(_ fragment: String) -> BadRegistryFile {
        var copy = self
        copy.fragment = fragment
        return copy
    }

    static let all: [BadRegistryFile] = [
        holders("AAAA001,active,,").mentioning("mykey_id"),
        holders("aaaa0010,active,,").mentioning("mykey_id"),
        holders("AAAA-010,active,,").mentioning("mykey_id"),
        holders("NEWH0002,paused,,").mentioning("status \"paused\""),
        holders("NEWH0002,Active,,").mentioning("status \"Active\""),
        holders("NEWH0002,active,P0001,").mentioning("both be given"),
        holders("NEWH0002,active,,\(at)").mentioning("both be given"),
        holders("NEWH0002,active,P0001,2020-09-01 00:00:00").mentioning("applied_at"),
        holders("NEWH0002,active,P0001,2020-09-01T00:00:00").mentioning("applied_at"),
        holders("NEWH0002,active,P0001,2020-02-30T00:00:00+09:00").mentioning("applied_at"),
        holders("NEWH0002,active,p-1,\(at)").mentioning("provider_id"),
        holders("NEWH0002,active,P0001").mentioning("expected 4"),
        holders("NEWH0002,active,P0001,\(at),extra").mentioning("expected 4"),
        certificates("04D02,NEWH0001,\(at),\(until),").mentioning("serial \"04D02\""),
        certificates("4d02,NEWH0001,\(at),\(until),").mentioning("serial \"4d02\""),
        certificates(",NEWH0001,\(at),\(until),").mentioning("serial"),
        certificates("4D02,NEWH001,\(at),\(until),").mentioning("mykey_id"),
        certificates("4D02,NEWH0001,\(at),\(at),").mentioning("not_before must be before not_after"),
        certificates("4D02,NEWH0001,\(until),\(at),").mentioning("not_before must be before not_after"),
        certificates("4D02,NEWH0001,2020-09-01,\(until),").mentioning("not_before"),
        certificates("4D02,NEWH0001,\(at),2025-08-31T24:00:00+09:00,").mentioning("not_after"),
        certificates("4D02,NEWH0001,\(at),\(until),yesterday").mentioning("revoked_at"),
        certificates("4D02,NEWH0001,\(at),\(until)").mentioning("expected 5"),
        changes("OLDH002,NEWH0001,\(at)").mentioning("old_mykey_id"),
        changes("OLDH0002,newh0001,\(at)").mentioning("new_mykey_id"),
        changes("OLDH0002,NEWH0001,2020-13-01T00:00:00+09:00").mentioning("changed_at"),
        BadRegistryFile(
            name: "providers.csv", lines: [Header.providers, "P0001,Renamed Pay", "P0003,Third Pay", "P0001,Again"],
            file: "providers.csv", line: 4, fragment: "appears twice"),
        BadRegistryFile(
            name: "providers.csv", lines: [Header.providers, "P0003,Third Pay", "P0004,"], file: "providers.csv",
            line: 3,
            fragment: "name is empty"),
        BadRegistryFile(
            name: "providers.csv", lines: [Header.providers, "P0003,Third Pay", "P00000000000000004,Long"],
            file: "providers.csv", line: 3, fragment: "provider_id"),
        BadRegistryFile(
            name: "providers.csv", lines: ["provider,name", "P0003,Third Pay"], file: "providers.csv", line: 1,
            fragment: "header must be exactly provider_id,name"),
        BadRegistryFile(
            name: "holders.csv", lines: ["mykey_id,status,provider_id"] + goodHolders.dropFirst(), file: "holders.csv",
            line: 1, fragment: "header"),
        BadRegistryFile(
            name: "certificates.csv", lines: ["4D01,NEWH0001,\(at),\(until),"], file: "certificates.csv", line: 1,
            fragment: "header"),
        BadRegistryFile(name: "providers.csv", lines: [], file: "providers.csv", line: nil, fragment: "empty"),
        BadRegistryFile(
            name: "holders.csv.zst", lines: goodHolders + ["NEWH0002,active"], compressed: true,
            file: "holders.csv.zst",
            line: 4, fragment: "expected 4"),
        BadRegistryFile(
            name: "holders.csv.zst", lines: ["mykey_id,status"] + goodHolders.dropFirst(), compressed: true,
            file: "holders.csv.zst", line: 1, fragment: "header"),
        BadRegistryFile(
            name: "holders.csv.zst", lines: goodHolders + ["NEWH0002,paused,,"], compressed: true,
            file: "holders.csv.zst",
            line: 4, fragment: "paused"),
    ]
}

@Suite struct RegistryReaderTests {
    /// A folder of good files with new rows (a new provider, a status change, a new holder, a certificate, a change)
    /// in which `bad` replaces one file.
    static func folder(with bad: BadRegistryFile) throws -> RegistryFolder {
        let folder = try RegistryFolder()
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

    @Test func theGoodFolderImports() throws {
        // The folder the bad cases start from is itself good: each failure below is the bad line's doing.
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folder(
                with: BadRegistryFile(name: "readme.txt", lines: ["-"], file: "", line: nil, fragment: ""))
            let counts = try importFolder(ledger, folder.path)
            #expect(counts.newHolders == 1)
            #expect(counts.updatedHolders == 1)
            #expect(counts.myKeyChanges == 1)
            #expect(try ledger.holder(myKey: myKey("OLDH0001"))?.myKey == "NEWH0001")
            #expect(try ledger.holder(myKey: myKey("NEWH0001"))?.providerID == "P0003")
        }
    }

    @Test(arguments: BadRegistryFile.all)
    func aBadLineStopsTheImportAndLoadsNothing(bad: BadRegistryFile) throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folder(with: bad)
            try expectImportFailure(ledger, folder.path, file: bad.file, line: bad.line, mentioning: bad.fragment)
        }
    }

    @Test func aCorruptCompressedFileFails() throws {
        let folder = try RegistryFolder()
        try Data("not zstd at all".utf8).write(to: URL(fileURLWithPath: folder.path + "/holders.csv.zst"))
        let error = #expect(throws: RegistryImportError.self) { try folder.read() }
        #expect(error?.file == "holders.csv.zst")
        #expect(error?.message.contains("zstd") == true)
    }

    @Test func byteOrderMarkCRLFQuotesAndBlankLinesAreRead() throws {
        let folder = try RegistryFolder()
        let text = "\u{FEFF}provider_id,name\r\nP0001,\"Example, Pay\"\r\n\r\nP0002,\"Sample \"\"Card\"\"\"\r\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: folder.path + "/providers.csv"))
        try folder.write("holders.csv", [Header.holders])
        let load = try folder.read()
        #expect(load.providers.map(\.name) == ["Example, Pay", "Sample \"Card\""])
        #expect(load.holders.isEmpty)
    }

    @Test func linesAreNumberedFromTheHeader() throws {
        let folder = try RegistryFolder()
        try folder.write("holders.csv", [Header.holders, "AAAA0001,active,,", "", "AAAA0002,revoked,,"])
        let load = try folder.read()
        #expect(load.holders.map(\.line) == [2, 4])
        #expect(load.holders.map(\.status) == [.active, .revoked])
    }
}
