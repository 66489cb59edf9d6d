import Postgres
import Rules
import TestSupport
import Testing

@testable import Ledger

/// The money rules the database enforces whatever the code does: each test first shows the valid row is accepted,
/// so a rejection is the constraint's doing and not a broken setup.
@Suite struct SchemaConstraintTests {
    /// A migrated database with a campaign (cap 5,000), one provider, one holder and one run.
    static func withSettledSchema(_ body: (PostgresConnection, _ holder: Int64) throws -> Void) throws {
        try withLedger { ledger, _ in
            let connection = ledger.connection
            try ledger.recordOrCheckCampaign(
                Campaign(
                    ratePercent: 25, capPoints: 5000, windowStart: Instant(nanosecondsSinceEpoch: 0),
                    windowEnd: Instant(nanosecondsSinceEpoch: 1000), rounding: .perRecord))
            try connection.execute(
                """
                INSERT INTO providers (provider_id, name) VALUES ('P0001', 'Example Pay');
                INSERT INTO runs (run_id, started_at, started_by, host, version, parameters, files, quarantined_files,
                    already_settled_files, records, granted_records, points)
                    VALUES (1, now(), 'test', 'host', '0', '{}', 0, 0, 0, 0, 0, 0);
                """)
            let holder = try connection.query("INSERT INTO holders (status) VALUES ('active') RETURNING holder_key")[
                0, 0
            ].int()
            try body(connection, holder)
        }
    }

    static func insertGrant(_ connection: PostgresConnection, record: String, points: Int64 = 25) throws {
        try connection.query(
            """
            INSERT INTO grants (provider_key, record_id, holder_key, run_id, file_id, line, occurred_at_ns, amount, points, reason)
            VALUES (1, $1, NULL, 1, 1, 2, 0, 100, $2, 0)
            """, [.text(record), .int(points)])
    }

    @Test func aRecordIsSettledOnce() throws {
        try Self.withSettledSchema { connection, _ in
            try Self.insertGrant(connection, record: "R1")
            try Self.insertGrant(connection, record: "R2")
            expectViolation(sqlState: "23505", constraint: "grants_settled_once") {
                try Self.insertGrant(connection, record: "R1", points: 0)
            }
            #expect(try connection.query("SELECT count(*) FROM grants")[0, 0].int() == 2)
        }
    }

    @Test(arguments: [
        "UPDATE grants SET points = 0",
        "UPDATE grants SET points = 0 WHERE record_id = 'nothing matches'",
        "DELETE FROM grants WHERE record_id = 'R1'",
        "DELETE FROM grants",
        "TRUNCATE grants",
    ])
    func grantsAreNeverUpdatedOrDeleted(statement: String) throws {
        try Self.withSettledSchema { connection, _ in
            try Self.insertGrant(connection, record: "R1")
            let error = expectViolation(sqlState: "23000") { try connection.execute(statement) }
            #expect(error?.message.contains("grants are never updated or deleted") == true)
            let row = try connection.query("SELECT points FROM grants WHERE record_id = 'R1'")
            #expect(row.rowCount == 1)
            #expect(try row[0, 0].int() == 25)
        }
    }

    @Test func grantPointsAreNeverNegative() throws {
        try Self.withSettledSchema { connection, _ in
            try Self.insertGrant(connection, record: "R0", points: 0)
            expectViolation(sqlState: "23514", constraint: "grants_points_check") {
                try Self.insertGrant(connection, record: "R1", points: -1)
            }
        }
    }

    static func insertLedgerRow(_ connection: PostgresConnection, holder: Int64, cap: Int64, points: Int64) throws {
        try connection.query(
            """
            INSERT INTO ledger (holder_key, cap_points, points, eligible_amount, records, run_id)
            VALUES ($1, $2, $3, 0, 0, 1)
            ON CONFLICT (holder_key) DO UPDATE SET points = EXCLUDED.points, cap_points = EXCLUDED.cap_points
            """, [.int(holder), .int(cap), .int(points)])
    }

    @Test func ledgerPointsStayWithinTheCap() throws {
        try Self.withSettledSchema { connection, holder in
            try Self.insertLedgerRow(connection, holder: holder, cap: 5000, points: 0)
            try Self.insertLedgerRow(connection, holder: holder, cap: 5000, points: 5000)
            expectViolation(sqlState: "23514", constraint: "ledger_points_within_cap") {
                try Self.insertLedgerRow(connection, holder: holder, cap: 5000, points: 5001)
            }
            expectViolation(sqlState: "23514", constraint: "ledger_points_within_cap") {
                try Self.insertLedgerRow(connection, holder: holder, cap: 5000, points: -1)
            }
            expectViolation(sqlState: "23514", constraint: "ledger_points_within_cap") {
                try connection.execute("UPDATE ledger SET points = points + 1")
            }
            #expect(try connection.query("SELECT points FROM ledger")[0, 0].int() == 5000)
        }
    }

    @Test func ledgerCapMustBeTheCampaignsCap() throws {
        try Self.withSettledSchema { connection, holder in
            // A row claiming a larger cap must still not pass the campaign's real cap.
            expectViolation(sqlState: "23514", constraint: "ledger_within_campaign_cap") {
                try Self.insertLedgerRow(connection, holder: holder, cap: 6000, points: 5500)
            }
            try Self.insertLedgerRow(connection, holder: holder, cap: 5000, points: 10)
            // The campaign, and so the cap, cannot be changed once recorded.
            expectViolation(sqlState: "23000", constraint: nil) {
                try connection.execute("UPDATE campaign SET cap_points = 6000")
            }
        }
    }

    static func insertFile(
        _ connection: PostgresConnection, name: String, outcome: String, records: Int64 = 0, granted: Int64 = 0,
        rejected: Int64 = 0
    ) throws {
        let code: PostgresBind = outcome == "quarantined" ? .text("BAD_HEADER") : .null
        try connection.query(
            """
            INSERT INTO files (run_id, name, provider_key, sha256, outcome, quarantine_code, records, granted_records,
                rejected_records)
            VALUES (1, $1, 1, '\\x00', $2, $3, $4, $5, $6)
            """, [.text(name), .text(outcome), code, .int(records), .int(granted), .int(rejected)])
    }

    @Test func aFileNameIsSettledOnce() throws {
        try Self.withSettledSchema { connection, _ in
            let name = "P0001_20201201_001.csv.zst"
            try Self.insertFile(connection, name: name, outcome: "quarantined")
            try Self.insertFile(connection, name: name, outcome: "settled", records: 3, granted: 2, rejected: 1)
            try Self.insertFile(connection, name: name, outcome: "already_settled")
            expectViolation(sqlState: "23505", constraint: "files_settled_once") {
                try Self.insertFile(connection, name: name, outcome: "settled")
            }
        }
    }

    @Test func fileRecordsAreGrantedPlusRejected() throws {
        try Self.withSettledSchema { connection, _ in
            try Self.insertFile(connection, name: "A.csv.zst", outcome: "settled", records: 5, granted: 3, rejected: 2)
            expectViolation(sqlState: "23514", constraint: "files_check") {
                try Self.insertFile(
                    connection, name: "B.csv.zst", outcome: "settled", records: 5, granted: 3, rejected: 1)
            }
            expectViolation(sqlState: "23514", constraint: "files_check") {
                try Self.insertFile(
                    connection, name: "C.csv.zst", outcome: "settled", records: 5, granted: 3, rejected: 3)
            }
        }
    }

    @Test func aHolderHasOneCurrentMyKeyID() throws {
        try Self.withSettledSchema { connection, holder in
            let insert = "INSERT INTO mykey_ids (mykey_id, holder_key, retired_at_ns) VALUES ($1, $2, $3)"
            try connection.query(insert, [.text("AAAA0001"), .int(holder), .int(1)])
            try connection.query(insert, [.text("AAAA0002"), .int(holder), .int(2)])
            try connection.query(insert, [.text("AAAA0003"), .int(holder), .null])
            expectViolation(sqlState: "23505", constraint: "mykey_ids_one_current") {
                try connection.query(insert, [.text("AAAA0004"), .int(holder), .null])
            }
            // An ID is never reused, not even by the same holder.
            expectViolation(sqlState: "23505", constraint: "mykey_ids_pkey") {
                try connection.query(insert, [.text("AAAA0001"), .int(holder), .int(3)])
            }
            expectViolation(sqlState: "23505", constraint: "mykey_ids_one_current") {
                try connection.execute("UPDATE mykey_ids SET retired_at_ns = NULL WHERE mykey_id = 'AAAA0001'")
            }
        }
    }

    @Test(arguments: ["1A01", "0", "F", "123456789ABCDEF0123456789ABCDEF012345678"])
    func certificateSerialsInCanonicalFormAreAccepted(serial: String) throws {
        try Self.withSettledSchema { connection, holder in
            try Self.insertCertificate(connection, serial: serial, holder: holder)
        }
    }

    @Test(arguments: ["1a01", "01A01", "00", "", "1G", "0x1A", "123456789ABCDEF0123456789ABCDEF0123456789"])
    func certificateSerialsInAnyOtherFormAreRejected(serial: String) throws {
        try Self.withSettledSchema { connection, holder in
            expectViolation(sqlState: "23514", constraint: "certificates_serial_check") {
                try Self.insertCertificate(connection, serial: serial, holder: holder)
            }
        }
    }

    @Test func certificateValidityMustBeNonEmpty() throws {
        try Self.withSettledSchema { connection, holder in
            expectViolation(sqlState: "23514", constraint: "certificates_check") {
                try Self.insertCertificate(connection, serial: "1A01", holder: holder, notBefore: 10, notAfter: 10)
            }
        }
    }

    static func insertCertificate(
        _ connection: PostgresConnection, serial: String, holder: Int64, notBefore: Int64 = 0, notAfter: Int64 = 10
    ) throws {
        try connection.query(
            """
            INSERT INTO certificates (issuer, serial, holder_key, not_before_ns, not_after_ns)
            VALUES ($1, $2, $3, $4, $5)
            """,
            [
                .text(CertificateIssuer.jpkiUserAuthentication), .text(serial), .int(holder), .int(notBefore),
                .int(notAfter),
            ])
    }
}
