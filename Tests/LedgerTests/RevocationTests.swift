import Foundation
import Postgres
import Rules
import Settlement
import TestSupport
import Testing

@testable import Ledger

/// Revocation as one fact (registration spec §5, settlement spec §8): every source, one record by issuer and
/// serial, read alike by settlement and `holder show`; never cleared, never moved later; enforced by the schema.
@Suite struct RevocationTests {
    static let issuer = CertificateIssuer.jpkiUserAuthentication

    /// A verified CRL's record, as `crl import` hands it over (the signature is the Crypto tests' concern).
    static func crl(
        _ entries: [(String, String)], number: String? = "1", thisUpdate: String = "2021-01-01T00:00:00Z",
        issuer: String = issuer
    ) throws -> ImportedCRL {
        let digest = Array("\(entries)|\(number ?? "-")|\(thisUpdate)".utf8).reduce(
            into: [UInt8](repeating: 0, count: 32)
        ) {
            $0[Int($1) % 32] &+= $1
        }
        return ImportedCRL(
            issuer: issuer, signerKeySHA256: Array(repeating: 7, count: 32), crlNumber: number,
            thisUpdate: try instant(thisUpdate), nextUpdate: try instant("2099-01-01T00:00:00Z"), sha256: digest,
            entries: try entries.map { (serial: $0.0, revokedAt: try instant($0.1)) })
    }

    /// A registry with one applied holder `REVK0001` and its certificate `1E01` (revoked at `revokedAt`, if given).
    static func registry(revokedAt: String = "", status: String = "active") throws -> RegistryFolder {
        let folder = try RegistryFolder()
        try folder.write("providers.csv", [Header.providers, "P0001,Example Pay"])
        try folder.write("holders.csv", [Header.holders, "REVK0001,\(status),P0001,2020-09-01T00:00:00+09:00"])
        try folder.write(
            "certificates.csv",
            [Header.certificates, "1E01,REVK0001,2019-04-01T00:00:00Z,2025-03-31T00:00:00Z,\(revokedAt)"])
        return folder
    }

    /// Imports `registry(revokedAt:status:)`, keeping the folder until the import is done.
    @discardableResult
    static func importRegistry(
        _ ledger: Ledger, revokedAt: String = "", status: String = "active"
    ) throws -> RegistryImportCounts {
        let folder = try registry(revokedAt: revokedAt, status: status)
        return try importFolder(ledger, folder.path)
    }

    /// The revocation time of certificate 1E01 as the settlement snapshot sees it.
    static func snapshotRevocation(_ ledger: Ledger) throws -> Instant? {
        let snapshot = try ledger.loadSnapshot()
        let holder = try #require(snapshot.holder(myKey: try myKey("REVK0001")))
        return snapshot.certificates(of: holder).first?.revokedAt
    }

    @Test func aCRLImportedBeforeTheRegistryRevokesTheCertificateForSettlement() throws {
        try withLedger { ledger, _ in
            let counts = try ledger.recordCRL(try Self.crl([("1E01", "2020-12-01T00:00:00Z")]), source: "a.crl")
            #expect(counts.newlyRevoked == 1 && counts.bound == 0)
            try Self.importRegistry(ledger)
            let revoked = try instant("2020-12-01T00:00:00Z")
            #expect(try Self.snapshotRevocation(ledger) == revoked)
            #expect(try ledger.holder(myKey: myKey("REVK0001"))?.certificates.first?.revokedAt == revoked.description)
            #expect(try ledger.revocationTime(of: CertificateID(issuer: Self.issuer, serial: "1E01")) == revoked)
            // Settlement's check 10 on that fact.
            let snapshot = try ledger.loadSnapshot()
            let provider = try #require(snapshot.providerIndex(ProviderID("P0001")!))
            let at = snapshot.eligibility(
                myKey: try myKey("REVK0001"), provider: provider, occurredAt: revoked, campaign: .mynapoint2020)
            #expect(at.reason == .certRevoked)
            let before = snapshot.eligibility(
                myKey: try myKey("REVK0001"), provider: provider,
                occurredAt: Instant(nanosecondsSinceEpoch: revoked.nanosecondsSinceEpoch - 1), campaign: .mynapoint2020)
            #expect(before.reason == .none)
        }
    }

    @Test func aRegistryImportNeverClearsOrDelaysARevocationButMayMoveItEarlier() throws {
        try withLedger { ledger, _ in
            try Self.importRegistry(ledger)
            _ = try ledger.recordCRL(try Self.crl([("1E01", "2020-12-01T00:00:00Z")]), source: "a.crl")
            for later in ["", "2021-02-01T00:00:00Z"] {
                let counts = try Self.importRegistry(ledger, revokedAt: later)
                #expect(counts.revocations == 0)
                #expect(try Self.snapshotRevocation(ledger) == instant("2020-12-01T00:00:00Z"))
            }
            let earlier = try Self.importRegistry(ledger, revokedAt: "2020-11-01T00:00:00Z")
            #expect(earlier.revocations == 1)
            #expect(try Self.snapshotRevocation(ledger) == instant("2020-11-01T00:00:00Z"))
            let audit = try ledger.connection.query(
                """
                SELECT c.old, c.new, c.serial, c.issuer FROM audit_log a JOIN registry_changes c USING (audit_id)
                WHERE a.action = 'registry.import' AND c.field = 'revoked_at'
                """)
            #expect(audit.rowCount == 1)
            #expect(try audit[0, 0].string() == "2020-12-01T00:00:00Z")
            #expect(try audit[0, 1].string() == "2020-11-01T00:00:00Z")
            #expect(try audit[0, 2].string() == "1E01")
            #expect(try audit[0, 3].string() == Self.issuer)
            // A later CRL cannot move it later either.
            _ = try ledger.recordCRL(
                try Self.crl([("1E01", "2020-12-15T00:00:00Z")], number: "2", thisUpdate: "2021-02-01T00:00:00Z"),
                source: "b.crl")
            #expect(try Self.snapshotRevocation(ledger) == instant("2020-11-01T00:00:00Z"))
        }
    }

    @Test func theAuditEntryNamesEveryChangeWithOldAndNewValues() throws {
        try withLedger { ledger, _ in
            try Self.importRegistry(ledger)
            let folder = try RegistryFolder()
            try folder.write("holders.csv", [Header.holders, "REVK0001,suspended,P0001,2020-09-01T00:00:00+09:00"])
            try folder.write(
                "certificates.csv",
                [Header.certificates, "1E01,REVK0001,2019-04-01T00:00:00Z,2025-06-30T00:00:00Z,2021-01-01T00:00:00Z"])
            try importFolder(ledger, folder.path)
            let changes = try ledger.connection.query(
                """
                SELECT c.field, c.old, c.new FROM registry_changes c
                WHERE c.audit_id = (SELECT max(audit_id) FROM audit_log WHERE action = 'registry.import') ORDER BY 1
                """
            ).map { "\(try $0[0].string()):\($0[1].optionalString() ?? "-")>\($0[2].optionalString() ?? "-")" }
            #expect(
                changes == [
                    "not_after:2025-03-31T00:00:00Z>2025-06-30T00:00:00Z", "revoked_at:->2021-01-01T00:00:00Z",
                    "status:active>suspended",
                ])
        }
    }

    @Test func aRegistryLineThatUnrevokesAMyKeyIsRefusedAndNothingLoads() throws {
        try withLedger { ledger, _ in
            try Self.importRegistry(ledger, status: "revoked")
            for status in ["active", "suspended"] {
                let folder = try RegistryFolder()
                try folder.write(
                    "holders.csv",
                    [Header.holders, "NEWH0001,active,,", "REVK0001,\(status),P0001,2020-09-01T00:00:00+09:00"])
                let error = try expectImportFailure(
                    ledger, folder.path, file: "holders.csv", line: 3, mentioning: "revoked, which is final")
                #expect(error?.message.contains(status) == true)
            }
            #expect(try ledger.holder(myKey: myKey("NEWH0001")) == nil)
            #expect(try ledger.holder(myKey: myKey("REVK0001"))?.status == "revoked")
        }
    }

    @Test func theSameSerialUnderTwoIssuersIsKeptApart() throws {
        try withLedger { ledger, _ in
            let folder = try RegistryFolder()
            try folder.write("providers.csv", [Header.providers, "P0001,Example Pay"])
            try folder.write(
                "holders.csv",
                [Header.holders, "FIRST001,active,P0001,2020-09-01T00:00:00+09:00", "SECND001,active,,"])
            try folder.write(
                "certificates.csv",
                [
                    Header.certificates + ",issuer", "1E01,FIRST001,2019-04-01T00:00:00Z,2025-03-31T00:00:00Z,,",
                    "1E01,SECND001,2019-04-01T00:00:00Z,2025-03-31T00:00:00Z,,Other CA",
                ])
            #expect(try importFolder(ledger, folder.path).certificates == 2)
            _ = try ledger.recordCRL(
                try Self.crl([("1E01", "2020-12-01T00:00:00Z")], issuer: "Other CA"), source: "other.crl")
            #expect(try ledger.holder(myKey: myKey("FIRST001"))?.certificates.first?.revokedAt == nil)
            #expect(
                try ledger.holder(myKey: myKey("SECND001"))?.certificates.first?.revokedAt == "2020-12-01T00:00:00Z")
            #expect(try rowCount(ledger, "certificates", where: "serial = '1E01'") == 2)
            // Listing the same serial twice for one issuer is still a duplicate.
            try folder.write(
                "certificates.csv",
                [
                    Header.certificates + ",issuer", "1E01,FIRST001,2019-04-01T00:00:00Z,2025-03-31T00:00:00Z,,",
                    // Issuer names hold commas: quoted, as RFC 4180 has it.
                    "1E01,FIRST001,2019-04-01T00:00:00Z,2025-03-31T00:00:00Z,,\"\(Self.issuer)\"",
                ])
            try expectImportFailure(ledger, folder.path, file: "certificates.csv", line: 3, mentioning: "twice")
        }
    }

    @Test func aConfiguredIssuerNamesTheCertificatesARowLeavesUnnamed() throws {
        try withLedger { ledger, _ in
            let folder = try Self.registry()
            _ = try ledger.importRegistry(try folder.read(), certificateIssuer: "Configured CA")
            let issuer = try ledger.connection.query("SELECT issuer FROM certificates")[0, 0].string()
            #expect(issuer == "Configured CA")
        }
    }

    @Test func aStaleCRLIsRefusedAndChangesNothing() throws {
        try withLedger { ledger, _ in
            _ = try ledger.recordCRL(try Self.crl([], number: "10"), source: "a.crl")
            let before = try fingerprint(ledger)
            let error = #expect(throws: RegistryChangeError.self) {
                try ledger.recordCRL(
                    try Self.crl([("1E01", "2020-12-01T00:00:00Z")], number: "F", thisUpdate: "2021-06-01T00:00:00Z"),
                    source: "old.crl")
            }
            #expect(error?.code == .staleCRL)
            #expect(try fingerprint(ledger) == before)
            #expect(try rowCount(ledger, "crl_imports") == 1)
            // The same CRL again is no change, and not stale; the next number is accepted.
            _ = try ledger.recordCRL(try Self.crl([], number: "10"), source: "a.crl")
            _ = try ledger.recordCRL(try Self.crl([], number: "11"), source: "b.crl")
            #expect(try rowCount(ledger, "crl_imports") == 3)
        }
    }

    @Test(arguments: [
        // (new number, new thisUpdate day, imported number, imported day, same bytes, stale)
        ("2", 1, "1", 2, false, false), ("1", 2, "2", 1, false, true), ("A", 1, "F", 1, false, true),
        ("10", 1, "F", 1, false, false), ("1", 1, "1", 1, true, false), ("1", 1, "1", 1, false, true),
        ("", 2, "", 1, false, false), ("", 1, "", 2, false, true), ("", 1, "3", 2, false, true),
    ])
    func crlOrderIsByNumberElseByThisUpdate(
        new: String, newDay: Int, imported: String, importedDay: Int, sameBytes: Bool, stale: Bool
    ) {
        let day = { (d: Int) in Instant(secondsSinceEpoch: Int64(d) * 86_400) }
        let candidate = CRLVersion(crlNumber: new.isEmpty ? nil : new, thisUpdate: day(newDay), sha256: [1])
        let known = CRLVersion(
            crlNumber: imported.isEmpty ? nil : imported, thisUpdate: day(importedDay), sha256: sameBytes ? [1] : [2])
        #expect((candidate.staleAgainst([known]) != nil) == stale)
    }

    @Test func theDatabaseRefusesToWeakenARevocation() throws {
        try withLedger { ledger, _ in
            try Self.importRegistry(ledger, revokedAt: "2020-12-01T00:00:00Z", status: "revoked")
            let connection = ledger.connection
            for statement in [
                "UPDATE certificate_revocations SET revoked_at_ns = revoked_at_ns + 1",
                "UPDATE certificate_revocations SET revoked_at_ns = NULL",
                "UPDATE certificate_revocations SET serial = '1E02'",
                "DELETE FROM certificate_revocations", "TRUNCATE certificate_revocations",
                "UPDATE holders SET status = 'active'", "UPDATE holders SET status = 'suspended'",
                "DELETE FROM holders", "DELETE FROM crl_imports",
            ] {
                let error = #expect(throws: PostgresError.self, "\(statement)") { try connection.execute(statement) }
                #expect(error?.sqlState?.hasPrefix("23") == true, "\(statement): \(String(describing: error))")
            }
            // Moving it earlier is allowed.
            try connection.execute("UPDATE certificate_revocations SET revoked_at_ns = revoked_at_ns - 1")
        }
    }

    @Test func anOperatorRevocationCountsOnlyWhenEarlier() throws {
        try withLedger { ledger, _ in
            try Self.importRegistry(ledger)
            let id = CertificateID(issuer: Self.issuer, serial: "1E01")
            let first = try ledger.revokeCertificate(id, at: try instant("2021-01-01T00:00:00Z"), reason: "stolen")
            #expect(first.old == nil)
            let later = try ledger.revokeCertificate(id, at: try instant("2021-02-01T00:00:00Z"), reason: "again")
            #expect(later.new == (try instant("2021-01-01T00:00:00Z")))
            #expect(try Self.snapshotRevocation(ledger) == instant("2021-01-01T00:00:00Z"))
            let source = try ledger.connection.query("SELECT source FROM certificate_revocations")[0, 0].string()
            #expect(source == "operator")
        }
    }

    @Test func theRevocationMigrationKeepsEveryRevocationAndNamesIssuers() throws {
        try withLedger(migrated: false) { ledger, _ in
            let connection = ledger.connection
            try connection.execute(
                "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in Migrations.all.prefix(2) {
                try connection.execute(migration.sql)
                try connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    [.int(Int64(migration.version)), .text(migration.name)])
            }
            try connection.execute(
                """
                INSERT INTO holders (holder_key, status) VALUES (1, 'active');
                INSERT INTO certificates (serial, holder_key, not_before_ns, not_after_ns, revoked_at_ns)
                    VALUES ('1A01', 1, 0, 100, 50), ('1A02', 1, 0, 100, NULL);
                INSERT INTO certificate_revocations (serial, issuer, revoked_at_ns)
                    VALUES ('1A01', '\(Self.issuer)', 40), ('1A02', 'Other CA', 30);
                INSERT INTO certificate_links (new_serial, old_serial, holder_key, linked_by) VALUES ('1A03', '1A01', 1, 'x');
                """)
            #expect(try ledger.migrate() == Array(3...Migrations.latest))
            let rows = try connection.query(
                """
                SELECT c.serial, c.issuer, r.revoked_at_ns FROM certificates c
                LEFT JOIN certificate_revocations r USING (issuer, serial) ORDER BY 1
                """)
            #expect(
                try rows.map { "\(try $0[0].string()) \(try $0[1].string()) \($0[2].optionalString() ?? "-")" } == [
                    "1A01 \(Self.issuer) 40", "1A02 \(Self.issuer) -",
                ])
            let link = try connection.query("SELECT old_issuer, new_issuer FROM certificate_links")
            #expect(try link[0, 0].string() == Self.issuer && (try link[0, 1].string()) == Self.issuer)
        }
    }
}
