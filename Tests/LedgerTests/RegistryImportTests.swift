import Foundation
import Postgres
import Registry
import Rules
import TestSupport
import Testing

@testable import Ledger

@Suite struct RegistryImportTests {
    @Test func theExampleRegistryLoads() throws {
        try withLedger { ledger, _ in
            let load = try RegistryReader.read(directory: exampleRegistry)
            #expect(load.providers.map(\.id.value) == ["P0001", "P0002"])
            #expect(load.holders.count == 9)
            #expect(load.certificates.count == 10)
            #expect(load.changes.count == 1)

            let counts = try ledger.importRegistry(load)
            #expect(counts.providers == 2)
            #expect(counts.newHolders == 9)
            #expect(counts.updatedHolders == 0)
            #expect(counts.applications == 8)
            #expect(counts.certificates == 10)
            #expect(counts.myKeyChanges == 1)

            #expect(try rowCount(ledger, "providers") == 2)
            #expect(try rowCount(ledger, "holders") == 9)
            #expect(try rowCount(ledger, "mykey_ids") == 10)
            #expect(try rowCount(ledger, "mykey_ids", where: "retired_at_ns IS NOT NULL") == 1)
            #expect(try rowCount(ledger, "applications") == 8)
            #expect(try rowCount(ledger, "certificates") == 10)
            #expect(try rowCount(ledger, "audit_log", where: "action = 'registry.import'") == 1)

            let old = try #require(try ledger.holder(myKey: myKey("OLDID009")))
            let current = try #require(try ledger.holder(myKey: myKey("AAAA0009")))
            #expect(old == current)
            #expect(old.myKey == "AAAA0009")
            #expect(old.providerID == "P0001")

            let notApplied = try #require(try ledger.holder(myKey: myKey("AAAA0004")))
            #expect(notApplied.providerID == nil)
            #expect(notApplied.status == "active")
            #expect(try ledger.holder(myKey: myKey("AAAA0002"))?.status == "revoked")
            #expect(try ledger.holder(myKey: myKey("AAAA0003"))?.status == "suspended")
            #expect(try ledger.holder(myKey: myKey("AAAA0005"))?.providerID == "P0002")
            #expect(try ledger.holder(myKey: myKey("ZZZZ9999")) == nil)

            // The two certificates of AAAA0007 and the revoked one of AAAA0008 belong to the right holders.
            let holderOf7 = try ledger.connection.query(
                "SELECT holder_key FROM mykey_ids WHERE mykey_id = 'AAAA0007'")[0, 0].int()
            let serialsOf7 = try ledger.connection.query(
                "SELECT serial FROM certificates WHERE holder_key = $1 ORDER BY serial", [.int(holderOf7)])
            #expect(try serialsOf7.map { try $0[0].string() } == ["1A07", "2B07"])
            let revoked = try ledger.connection.query(
                "SELECT revoked_at_ns, source, issuer FROM certificate_revocations WHERE serial = '1A08'")
            #expect(try revoked[0, 1].string() == "registry")
            #expect(try revoked[0, 2].string() == CertificateIssuer.jpkiUserAuthentication)
            #expect(try revoked[0, 0].int() == instant("2021-01-15T12:00:00+09:00").nanosecondsSinceEpoch)
        }
    }

    @Test func theAuditEntryKeepsItsKeysAndListsEachChangeBesideIt() throws {
        try withLedger { ledger, _ in
            let counts = try importFolder(ledger, exampleRegistry)
            let entry = try ledger.connection.query(
                "SELECT audit_id, detail::text FROM audit_log WHERE action = 'registry.import'")
            let detail = try #require(
                try JSONSerialization.jsonObject(with: Data(try entry[0, 1].string().utf8)) as? [String: Any])
            #expect(detail.keys.sorted() == ["certificate_issuer", "changes", "changes_table", "counts"])
            #expect(detail["certificate_issuer"] as? String == CertificateIssuer.jpkiUserAuthentication)
            #expect(detail["changes_table"] as? String == "registry_changes")
            let written = try #require(detail["counts"] as? [String: Int])
            #expect(
                written == [
                    "providers": 2, "new_holders": 9, "updated_holders": 0, "applications": 8, "certificates": 10,
                    "revocations": 1, "mykey_changes": 1,
                ])
            #expect(written["new_holders"] == counts.newHolders && written["mykey_changes"] == counts.myKeyChanges)
            let changes = try rowCount(ledger, "registry_changes", where: "audit_id = \(try entry[0, 0].int())")
            #expect(detail["changes"] as? Int == Int(changes))
            // A row per change: each new holder and application, the MyKey ID change, each certificate, the revocation.
            let fields = try ledger.connection.query(
                "SELECT field, count(*) FROM registry_changes GROUP BY field ORDER BY field"
            ).map { "\(try $0[0].string()) \(try $0[1].int())" }
            #expect(fields == ["application 8", "certificate 10", "holder 9", "mykey_id 1", "revoked_at 1"])
        }
    }

    @Test func importingTheSameRegistryTwiceChangesNothing() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let tables = ["providers", "holders", "mykey_ids", "applications", "certificates"]
            let first = try fingerprint(ledger).filter { tables.contains($0.key) }
            let second = try importFolder(ledger, exampleRegistry)
            #expect(second.newHolders == 0)
            #expect(second.updatedHolders == 0)
            #expect(second.applications == 0)
            #expect(try fingerprint(ledger).filter { tables.contains($0.key) } == first)
            #expect(try rowCount(ledger, "holders") == 9)
            #expect(try rowCount(ledger, "mykey_ids") == 10)
        }
    }

    @Test func aStatusChangeUpdatesTheHolder() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try RegistryFolder()
            try folder.write(
                "holders.csv",
                [
                    Header.holders, "AAAA0001,suspended,P0001,2020-08-15T10:00:00+09:00",
                    "AAAA0003,active,P0001,2020-08-15T10:00:00+09:00",
                ])
            let counts = try ledger.importRegistry(try folder.read())
            #expect(counts.newHolders == 0)
            #expect(counts.updatedHolders == 2)
            #expect(try ledger.holder(myKey: myKey("AAAA0001"))?.status == "suspended")
            #expect(try ledger.holder(myKey: myKey("AAAA0003"))?.status == "active")
            #expect(try ledger.holder(myKey: myKey("AAAA0002"))?.status == "revoked")
            #expect(try rowCount(ledger, "holders") == 9)
        }
    }

    @Test(arguments: [false, true])
    func aChainOfChangesResolvesToTheCurrentHolder(reversed: Bool) throws {
        try withLedger { ledger, _ in
            let folder = try RegistryFolder()
            try folder.write("providers.csv", [Header.providers, "P0001,Example Pay"])
            try folder.write("holders.csv", [Header.holders, "CCCC0001,active,P0001,2020-08-15T10:00:00+09:00"])
            try folder.write(
                "certificates.csv",
                [Header.certificates, "1C01,CCCC0001,2019-04-01T09:00:00+09:00,2024-03-31T23:59:59+09:00,"])
            var changes = [
                "AAAA0001,BBBB0001,2020-10-01T00:00:00+09:00", "BBBB0001,CCCC0001,2020-11-01T00:00:00+09:00",
            ]
            if reversed { changes.reverse() }
            try folder.write("mykey_changes.csv", [Header.changes] + changes)
            let counts = try ledger.importRegistry(try folder.read())
            #expect(counts.newHolders == 1)
            #expect(counts.myKeyChanges == 2)
            #expect(try rowCount(ledger, "holders") == 1)
            for id in ["AAAA0001", "BBBB0001", "CCCC0001"] {
                #expect(try ledger.holder(myKey: myKey(id))?.myKey == "CCCC0001", "\(id)")
            }
            #expect(try rowCount(ledger, "mykey_ids", where: "retired_at_ns IS NULL") == 1)
            let snapshot = try ledger.loadSnapshot()
            let holder = try #require(snapshot.holder(myKey: myKey("CCCC0001")))
            #expect(snapshot.holder(myKey: try myKey("AAAA0001")) == holder)
            #expect(snapshot.holder(myKey: try myKey("BBBB0001")) == holder)
        }
    }

    @Test func aChangeFromAnExistingHoldersCurrentIDRebindsThatHolder() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let before = try #require(try ledger.holder(myKey: myKey("AAAA0001")))
            let key = try ledger.connection.query("SELECT holder_key FROM mykey_ids WHERE mykey_id = 'AAAA0001'")[0, 0]
                .int()

            let folder = try RegistryFolder()
            try folder.write("holders.csv", [Header.holders, "NEWID001,active,P0001,2020-08-15T10:00:00+09:00"])
            try folder.write("mykey_changes.csv", [Header.changes, "AAAA0001,NEWID001,2020-12-15T00:00:00+09:00"])
            try folder.write(
                "certificates.csv",
                [Header.certificates, "3C01,NEWID001,2020-12-15T00:00:00+09:00,2025-12-14T23:59:59+09:00,"])
            let counts = try ledger.importRegistry(try folder.read())
            #expect(counts.newHolders == 0)
            #expect(counts.myKeyChanges == 1)

            #expect(try rowCount(ledger, "holders") == 9)
            let after = try #require(try ledger.holder(myKey: myKey("NEWID001")))
            #expect(after.myKey == "NEWID001")
            #expect(after.providerID == before.providerID)
            #expect(try ledger.holder(myKey: myKey("AAAA0001"))?.myKey == "NEWID001")
            let bound = try ledger.connection.query(
                "SELECT mykey_id, retired_at_ns IS NULL FROM mykey_ids WHERE holder_key = $1 ORDER BY mykey_id",
                [.int(key)])
            #expect(try bound.map { try $0[0].string() } == ["AAAA0001", "NEWID001"])
            #expect(try bound.map { try $0[1].bool() } == [false, true])
            #expect(try rowCount(ledger, "certificates", where: "holder_key = \(key)") == 2)
            // Importing the same delta again is a no-op.
            let again = try ledger.importRegistry(try folder.read())
            #expect(again.newHolders == 0)
            #expect(try rowCount(ledger, "mykey_ids") == 11)
        }
    }

    // MARK: Failures: named file and line, nothing loaded.

    /// A folder with a new provider and holder (which a partial import would load) and `extra` files.
    static func folderWithNewRows(_ files: [String: [String]]) throws -> RegistryFolder {
        let folder = try RegistryFolder()
        try folder.write("providers.csv", [Header.providers, "P0001,Renamed Pay", "P0003,Third Pay"])
        try folder.write(
            "holders.csv",
            [
                Header.holders, "AAAA0001,suspended,P0001,2020-08-15T10:00:00+09:00",
                "NEWH0001,active,P0003,2020-09-01T00:00:00+09:00",
            ])
        for (name, lines) in files { try folder.write(name, lines) }
        return folder
    }

    @Test func aChangeToAnUnknownIDFails() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folderWithNewRows([
                "mykey_changes.csv": [
                    Header.changes, "OLDID009,AAAA0009,2020-12-01T08:00:00+09:00",
                    "AAAA0006,ZZZZ0001,2020-12-01T08:00:00+09:00",
                ]
            ])
            try expectImportFailure(ledger, folder.path, file: "mykey_changes.csv", line: 3, mentioning: "ZZZZ0001")
        }
    }

    @Test func aCycleOfChangesFails() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folderWithNewRows([
                "mykey_changes.csv": [
                    Header.changes, "CYCLE001,CYCLE002,2020-12-01T08:00:00+09:00",
                    "CYCLE002,CYCLE001,2020-12-02T08:00:00+09:00",
                ]
            ])
            try expectImportFailure(ledger, folder.path, file: "mykey_changes.csv", line: 2, mentioning: "cycle")
        }
    }

    @Test func aCycleOnAnEmptyDatabaseLoadsNothing() throws {
        try withLedger { ledger, _ in
            let folder = try Self.folderWithNewRows([
                "mykey_changes.csv": [
                    Header.changes, "CYCLE001,CYCLE002,2020-12-01T08:00:00+09:00",
                    "CYCLE002,CYCLE003,2020-12-02T08:00:00+09:00",
                    "CYCLE003,CYCLE002,2020-12-03T08:00:00+09:00",
                ]
            ])
            try expectImportFailure(ledger, folder.path, file: "mykey_changes.csv", line: 2, mentioning: "cycle")
            #expect(try rowCount(ledger, "holders") == 0)
            #expect(try rowCount(ledger, "providers") == 0)
        }
    }

    @Test func aFormerIDUsedAsACurrentIDFails() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folderWithNewRows([:])
            try folder.write(
                "holders.csv",
                [
                    Header.holders, "NEWH0001,active,P0003,2020-09-01T00:00:00+09:00",
                    "OLDID009,active,P0001,2020-08-15T10:00:00+09:00",
                ])
            try expectImportFailure(ledger, folder.path, file: "holders.csv", line: 3, mentioning: "former MyKey ID")
        }
    }

    @Test func anIDListedAsCurrentAndChangedInTheSameLoadFails() throws {
        try withLedger { ledger, _ in
            let folder = try RegistryFolder()
            try folder.write("providers.csv", [Header.providers, "P0001,Example Pay"])
            try folder.write(
                "holders.csv",
                [
                    Header.holders, "AAAA0001,active,P0001,2020-08-15T10:00:00+09:00",
                    "BBBB0001,active,P0001,2020-08-15T10:00:00+09:00",
                ])
            try folder.write("mykey_changes.csv", [Header.changes, "AAAA0001,BBBB0001,2020-12-01T08:00:00+09:00"])
            try expectImportFailure(ledger, folder.path, file: "holders.csv", line: 2, mentioning: "AAAA0001")
            #expect(try rowCount(ledger, "holders") == 0)
        }
    }

    @Test func changingAnApplicationFails() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folderWithNewRows([:])
            try folder.write(
                "holders.csv",
                [
                    Header.holders, "NEWH0001,active,P0003,2020-09-01T00:00:00+09:00",
                    "AAAA0001,active,P0002,2020-08-15T10:00:00+09:00",
                ])
            try expectImportFailure(ledger, folder.path, file: "holders.csv", line: 3, mentioning: "already applied")
            // The same provider at another time is a changed application too.
            try folder.write("holders.csv", [Header.holders, "AAAA0001,active,P0001,2020-08-16T10:00:00+09:00"])
            try expectImportFailure(ledger, folder.path, file: "holders.csv", line: 2, mentioning: "already applied")
        }
    }

    @Test func anUnknownProviderFails() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folderWithNewRows([:])
            try folder.write(
                "holders.csv",
                [
                    Header.holders, "NEWH0001,active,P0003,2020-09-01T00:00:00+09:00",
                    "NEWH0002,active,P9999,2020-09-01T00:00:00+09:00",
                ])
            try expectImportFailure(ledger, folder.path, file: "holders.csv", line: 3, mentioning: "P9999")
        }
    }

    @Test func aCertificateOfAnUnknownHolderFails() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folderWithNewRows([
                "certificates.csv": [
                    Header.certificates, "4D01,NEWH0001,2020-09-01T00:00:00+09:00,2025-08-31T23:59:59+09:00,",
                    "4D02,ZZZZ0001,2020-09-01T00:00:00+09:00,2025-08-31T23:59:59+09:00,",
                ]
            ])
            try expectImportFailure(ledger, folder.path, file: "certificates.csv", line: 3, mentioning: "ZZZZ0001")
        }
    }

    @Test func aCertificateMovedToAnotherHolderFails() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let folder = try Self.folderWithNewRows([
                "certificates.csv": [
                    Header.certificates, "4D01,NEWH0001,2020-09-01T00:00:00+09:00,2025-08-31T23:59:59+09:00,",
                    "1A02,AAAA0001,2019-04-01T09:00:00+09:00,2024-03-31T23:59:59+09:00,",
                ]
            ])
            // Found set-based after the rows are copied, so without a line; the transaction still rolls back.
            try expectImportFailure(ledger, folder.path, file: "certificates.csv", line: nil, mentioning: "1A02")
        }
    }

    @Test func duplicatesWithinALoadFail() throws {
        try withLedger { ledger, _ in
            let holders = try Self.folderWithNewRows([:])
            try holders.write(
                "holders.csv",
                [Header.holders, "NEWH0001,active,,", "NEWH0002,active,,", "NEWH0001,suspended,,"])
            try expectImportFailure(ledger, holders.path, file: "holders.csv", line: 4, mentioning: "twice")

            let serials = try Self.folderWithNewRows([
                "certificates.csv": [
                    Header.certificates, "4D01,NEWH0001,2020-09-01T00:00:00+09:00,2025-08-31T23:59:59+09:00,",
                    "4D01,NEWH0001,2020-09-01T00:00:00+09:00,2025-08-31T23:59:59+09:00,",
                ]
            ])
            try expectImportFailure(ledger, serials.path, file: "certificates.csv", line: 3, mentioning: "twice")

            let changes = try Self.folderWithNewRows([
                "mykey_changes.csv": [
                    Header.changes, "OLDH0001,NEWH0001,2020-12-01T08:00:00+09:00",
                    "OLDH0001,AAAA0001,2020-12-02T08:00:00+09:00",
                ]
            ])
            try expectImportFailure(
                ledger, changes.path, file: "mykey_changes.csv", line: 3, mentioning: "earlier line")

            let same = try Self.folderWithNewRows([
                "mykey_changes.csv": [Header.changes, "NEWH0001,NEWH0001,2020-12-01T08:00:00+09:00"]
            ])
            try expectImportFailure(ledger, same.path, file: "mykey_changes.csv", line: 2, mentioning: "the same")
            #expect(try rowCount(ledger, "holders") == 0)
        }
    }

    @Test func aCompressedRegistryReadsLikeThePlainOne() throws {
        let folder = try RegistryFolder()
        for name in ["providers.csv", "holders.csv", "certificates.csv", "mykey_changes.csv"] {
            try folder.writeCompressed(name + ".zst", try exampleLines(name))
        }
        let plain = try RegistryReader.read(directory: exampleRegistry)
        let compressed = try folder.read()
        #expect(Self.describe(compressed) == Self.describe(plain))
        #expect(compressed.holders.count == 9)

        try withLedger { plainLedger, _ in
            _ = try plainLedger.importRegistry(plain)
            try withLedger { zstdLedger, _ in
                let counts = try zstdLedger.importRegistry(compressed)
                #expect(counts.newHolders == 9)
                #expect(counts.certificates == 10)
                for id in ["OLDID009", "AAAA0004", "AAAA0007"] {
                    #expect(try zstdLedger.holder(myKey: myKey(id)) == plainLedger.holder(myKey: myKey(id)))
                }
            }
        }
    }

    /// A load as comparable text.
    static func describe(_ load: RegistryLoad) -> [String] {
        load.providers.map { "provider \($0.id) \($0.name)" }
            + load.holders.map {
                "holder \($0.line) \($0.myKey) \($0.status.name) \($0.application.map { "\($0.provider) \($0.at)" } ?? "-")"
            }
            + load.certificates.map {
                "certificate \($0.line) \($0.serial) \($0.myKey) \($0.validity.notBefore) \($0.validity.notAfter) "
                    + "\($0.validity.revokedAt.map { "\($0)" } ?? "-")"
            }
            + load.changes.map { "change \($0.line) \($0.old) \($0.new) \($0.at)" }
    }
}
