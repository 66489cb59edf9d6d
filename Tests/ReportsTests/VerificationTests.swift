import Foundation
import Ledger
import Postgres
import Reports
import Settlement
import TestSupport
import Testing

@Suite struct VerificationTests {
    @Test func aConsistentLedgerAndOutboxVerify() throws {
        let fixture = try OperationsFixture()
        _ = try fixture.twoMonths()
        let verification = try Verification.run(ledger: fixture.ledger, outbox: fixture.workspace.outbox)
        #expect(verification.ok, "\(verification.differences)")
        #expect(verification.files == 12)
        #expect(verification.resultFilesOnDisk == 12)
        #expect(verification.holders == (try fixture.int("SELECT count(*) FROM ledger")))
        #expect(verification.grants == (try fixture.int("SELECT count(*) FROM grants")))
        #expect(verification.summary.hasSuffix(": no differences"))
    }

    enum Damage: String, CaseIterable, Sendable {
        case ledgerPoints, ledgerAmount, missingResultFile, tamperedResultControl, tamperedStoredControl, lostOutcome
    }

    /// Each kind of damage gives exactly the lines that name it: subject, field, expected, found.
    @Test(arguments: Damage.allCases)
    func damageIsCaughtWithAPreciseLine(_ damage: Damage) throws {
        let fixture = try OperationsFixture(records: 1500, faults: false)
        try fixture.settle()
        let c = fixture.connection
        let before = try Verification.run(ledger: fixture.ledger, outbox: fixture.workspace.outbox)
        #expect(before.ok, "\(before.differences)")
        let file = try fixture.text(
            "SELECT name FROM files WHERE outcome = 'settled' ORDER BY name COLLATE \"C\" OFFSET 2 LIMIT 1")
        let stem = String(file.dropLast(".csv.zst".count))
        let provider = String(file.prefix(5))
        let filePoints = try fixture.int("SELECT points FROM files WHERE name = $1", [.text(file)])
        let expected: [String]
        switch damage {
        case .ledgerPoints, .ledgerAmount:
            let key = try fixture.int("SELECT min(holder_key) FROM ledger WHERE points > 0")
            let myKey = try fixture.text(
                "SELECT mykey_id FROM mykey_ids WHERE holder_key = $1 AND retired_at_ns IS NULL", [.int(Int64(key))])
            let column = damage == .ledgerPoints ? "points" : "eligible_amount"
            let value = try fixture.int("SELECT \(column) FROM ledger WHERE holder_key = $1", [.int(Int64(key))])
            try c.query("UPDATE ledger SET \(column) = \(column) - 1 WHERE holder_key = $1", [.int(Int64(key))])
            expected = ["holder \(myKey) (holder_key \(key)): ledger.\(column): expected \(value), found \(value - 1)"]
        case .missingResultFile:
            let path = fixture.workspace.outbox + "/\(provider)/\(stem).result.csv.zst"
            try FileManager.default.removeItem(atPath: path)
            expected = ["file \(file): outbox \(path): expected present, found missing"]
        case .tamperedResultControl:
            let path = fixture.workspace.outbox + "/\(provider)/\(stem).result.ctl"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let tampered = text.replacingOccurrences(
                of: "\"points_total\": \(filePoints)}", with: "\"points_total\": \(filePoints + 100)}")
            #expect(tampered != text)
            try tampered.write(toFile: path, atomically: true, encoding: .utf8)
            expected = ["file \(file): outbox control points_total: expected \(filePoints), found \(filePoints + 100)"]
        case .tamperedStoredControl:
            try c.query(
                """
                UPDATE files SET result_control = replace(result_control, '"points_total": ' || points, '"points_total": 7')
                WHERE name = $1
                """, [.text(file)])
            expected = ["file \(file): stored control points_total: expected \(filePoints), found 7"]
        case .lostOutcome:
            // A plain rejection's outcome row: no points, no grant rows, so only the line count can tell.
            let outcome = try c.query(
                """
                SELECT reason, records FROM file_outcomes WHERE file_id = (SELECT file_id FROM files WHERE name = $1)
                AND reason NOT IN ('', 'MALFORMED', 'DUPLICATE', 'CAP_PARTIAL', 'CAP_REACHED') ORDER BY records DESC LIMIT 1
                """, [.text(file)])
            let reason = try outcome[0, 0].string()
            let rejected = Int(try outcome[0, 1].int())
            let records = try fixture.int("SELECT records FROM files WHERE name = $1", [.text(file)])
            try c.query(
                "DELETE FROM file_outcomes WHERE file_id = (SELECT file_id FROM files WHERE name = $1) AND reason = $2",
                [.text(file), .text(reason)])
            expected = ["file \(file): file_outcomes.records: expected \(records), found \(records - rejected)"]
        }
        let after = try Verification.run(ledger: fixture.ledger, outbox: fixture.workspace.outbox)
        #expect(after.differences.map(\.description) == expected)
        #expect(!after.ok)
        #expect(after.summary.hasSuffix(": 1 difference"))
    }

    @Test func withoutTheOutboxOnlyTheDatabaseIsChecked() throws {
        let fixture = try OperationsFixture(records: 600, faults: false)
        try fixture.settle()
        try FileManager.default.removeItem(atPath: fixture.workspace.outbox)
        let verification = try Verification.run(ledger: fixture.ledger, outbox: nil)
        #expect(verification.ok)
        #expect(verification.resultFilesOnDisk == 0)
        let withOutbox = try Verification.run(ledger: fixture.ledger, outbox: fixture.workspace.outbox)
        // Each file: its control file and its data file are missing.
        #expect(withOutbox.differences.count == 12)
        #expect(withOutbox.differences.allSatisfy { $0.found == "missing" })
    }
}

@Suite struct MetricsTests {
    @Test func theTextParsesAsPrometheusAndCarriesEveryFigure() throws {
        var metrics = SettleMetrics(
            exitCode: 3, durationSeconds: 12.5, finishedAt: Date(timeIntervalSince1970: 1_612_000_000))
        metrics.runID = 7
        metrics.files = ["settled": 6, "quarantined": 2, "already_settled": 1, "waiting": 3]
        metrics.records = ["": 900, "CAP_PARTIAL": 4, "CAP_REACHED": 6, "DUPLICATE": 50, "MALFORMED": 40]
        metrics.points = 123_456
        metrics.eligibleAmount = 987_654
        let parsed = try PrometheusText.parse(metrics.text)
        #expect(parsed.value("mynapoint_settle_exit_code") == 3)
        #expect(parsed.value("mynapoint_settle_run_id") == 7)
        #expect(parsed.value("mynapoint_settle_points") == 123_456)
        #expect(parsed.value("mynapoint_settle_eligible_amount_yen") == 987_654)
        #expect(parsed.value("mynapoint_settle_duration_seconds") == 12.5)
        #expect(parsed.value("mynapoint_settle_files", ["outcome": "quarantined"]) == 2)
        #expect(parsed.value("mynapoint_settle_files", ["outcome": "waiting"]) == 3)
        #expect(parsed.value("mynapoint_settle_records", ["outcome": "granted", "reason": "none"]) == 900)
        #expect(parsed.value("mynapoint_settle_records", ["outcome": "granted", "reason": "CAP_REACHED"]) == 6)
        #expect(parsed.value("mynapoint_settle_records", ["outcome": "rejected", "reason": "DUPLICATE"]) == 50)
        #expect(parsed.value("mynapoint_settle_records", ["outcome": "rejected", "reason": "CERT_EXPIRED"]) == 0)
        #expect(parsed.samples.filter { $0.name == "mynapoint_settle_records" }.count == 14)
        #expect(parsed.value("mynapoint_settle_last_success_timestamp_seconds") == 1_612_000_000)
        #expect(parsed.types.values.allSatisfy { $0 == "gauge" })
        #expect(Set(parsed.types.keys) == Set(parsed.help.keys))
    }

    @Test func aFailedInvocationKeepsTheLastSuccess() throws {
        let folder = FileManager.default.temporaryDirectory.path + "/metrics-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/mynapoint.prom"
        try SettleMetrics(exitCode: 0, durationSeconds: 1, finishedAt: Date(timeIntervalSince1970: 1_000)).write(
            to: path)
        try SettleMetrics(exitCode: 75, durationSeconds: 0.1, finishedAt: Date(timeIntervalSince1970: 2_000)).write(
            to: path)
        var parsed = try PrometheusText.parse(try String(contentsOfFile: path, encoding: .utf8))
        #expect(parsed.value("mynapoint_settle_exit_code") == 75)
        #expect(parsed.value("mynapoint_settle_last_run_timestamp_seconds") == 2_000)
        #expect(parsed.value("mynapoint_settle_last_success_timestamp_seconds") == 1_000)
        try SettleMetrics(exitCode: 1, durationSeconds: 0.1, finishedAt: Date(timeIntervalSince1970: 3_000)).write(
            to: path)
        parsed = try PrometheusText.parse(try String(contentsOfFile: path, encoding: .utf8))
        #expect(parsed.value("mynapoint_settle_last_success_timestamp_seconds") == 1_000)
        try SettleMetrics(exitCode: 3, durationSeconds: 0.1, finishedAt: Date(timeIntervalSince1970: 4_000)).write(
            to: path)
        parsed = try PrometheusText.parse(try String(contentsOfFile: path, encoding: .utf8))
        #expect(parsed.value("mynapoint_settle_last_success_timestamp_seconds") == 4_000)
        // Only the metrics file is left: the temporary file was renamed over it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["mynapoint.prom"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o644)
    }

    @Test func theParserRejectsBrokenText() {
        #expect(throws: PrometheusText.Failure.self) { try PrometheusText.parse("x 1\n") }
        #expect(throws: PrometheusText.Failure.self) { try PrometheusText.parse("# TYPE x gauge\nx{a=\"1\" 1\n") }
        #expect(throws: PrometheusText.Failure.self) { try PrometheusText.parse("# TYPE x gauge\nx one\n") }
        #expect(throws: PrometheusText.Failure.self) { try PrometheusText.parse("# TYPE x gauge\nx 1\nx 2\n") }
        #expect(throws: PrometheusText.Failure.self) { try PrometheusText.parse("# TYPE x gauge\nx 1") }
    }
}
