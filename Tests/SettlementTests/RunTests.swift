import Foundation
import Generator
import Postgres
import Rules
import TestSupport
import Testing
import Zstd

@testable import Ledger
@testable import Settlement

private let holder1 = "AAAA0001"

@Suite struct QuarantineTests {
    func quarantined(_ fixture: SettlementFixture, _ name: String) throws -> [String: Any] {
        let stem = String(name.dropLast(".csv.zst".count))
        let data = try #require(
            FileManager.default.contents(atPath: fixture.workspace.quarantine + "/" + stem + ".error.json"))
        #expect(FileManager.default.fileExists(atPath: fixture.workspace.quarantine + "/" + name))
        #expect(FileManager.default.fileExists(atPath: fixture.workspace.quarantine + "/" + stem + ".ctl"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    @Test func everyQuarantineCode() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        let good = records("Q1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00")
        let w = fixture.workspace
        try w.drop("p0001_20201001_0001.csv.zst", csv: good)
        try w.drop("P9999_20201001_0001.csv.zst", csv: good)
        try w.drop("P0001_20201001_0002.csv.zst", csv: good, controlFile: "{\"format\": \"mynapoint-records/1\"}")
        try w.drop("P0001_20201001_0003.csv.zst", csv: good, sha256: String(repeating: "0", count: 64))
        let truncated = Array(try Zstd.compress(Array(good.utf8)).dropLast(3))
        try w.drop("P0001_20201001_0004.csv.zst", bytes: truncated, csv: good)
        try w.drop(
            "P0001_20201001_0005.csv.zst",
            csv: "record_id,mykey,kind,amount_yen,occurred_at\nQ1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00\n")
        try w.drop("P0001_20201001_0006.csv.zst", csv: good, records: 2)
        try w.drop("P0001_20201001_0007.csv.zst", csv: good, amountTotal: 999)
        try w.drop(
            "P0001_20201001_0008.csv.zst", csv: records("Q2,AAAA0001,charge,01000,2020-10-01T10:00:00+09:00"),
            amountTotal: 1000)
        try w.drop(
            "P0001_20201001_0009.csv.zst", csv: good,
            controlFile:
                "{\"format\": \"mynapoint-records/1\", \"file\": \"P0001_20201001_0001.csv.zst\", \"sha256\": \"\(String(repeating: "0", count: 64))\", \"records\": 1, \"amount_total\": 1000}"
        )
        try Data("not zstd at all".utf8).write(to: URL(fileURLWithPath: w.inbox + "/P0001_20201001_0010.csv.zst"))
        try w.drop("P0001_20201001_0010.csv.zst", bytes: Array("not zstd at all".utf8), csv: good)

        let summary = try fixture.settle()
        #expect(summary.exitCode == 3)
        #expect(summary.quarantinedFiles == 11)
        #expect(summary.settledFiles == 0)
        let expected: [(String, String, Int?)] = [
            ("p0001_20201001_0001.csv.zst", "BAD_NAME", nil),
            ("P9999_20201001_0001.csv.zst", "UNKNOWN_PROVIDER", nil),
            ("P0001_20201001_0002.csv.zst", "BAD_CONTROL", nil),
            ("P0001_20201001_0003.csv.zst", "CHECKSUM_MISMATCH", nil),
            ("P0001_20201001_0004.csv.zst", "BAD_COMPRESSION", nil),
            ("P0001_20201001_0005.csv.zst", "BAD_HEADER", 1),
            ("P0001_20201001_0006.csv.zst", "CONTROL_MISMATCH", nil),
            ("P0001_20201001_0007.csv.zst", "CONTROL_MISMATCH", nil),
            ("P0001_20201001_0008.csv.zst", "CONTROL_MISMATCH", 2),
            ("P0001_20201001_0009.csv.zst", "BAD_CONTROL", nil),
            ("P0001_20201001_0010.csv.zst", "BAD_COMPRESSION", nil),
        ]
        for (name, code, line) in expected {
            let reason = try quarantined(fixture, name)
            #expect(reason["code"] as? String == code, "\(name)")
            #expect((reason["line"] as? Int) == line, "\(name)")
            #expect(!((reason["message"] as? String) ?? "").isEmpty)
        }
        #expect(try fixture.count("SELECT count(*) FROM grants") == 0)
        #expect(try fixture.count("SELECT count(*) FROM files WHERE outcome = 'quarantined'") == 11)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.inbox).isEmpty)
    }

    @Test func nameReusedAndAlreadySettled() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        let w = fixture.workspace
        let first = records("R1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00")
        try w.drop("P0001_20201001_0001.csv.zst", csv: first)
        #expect(try fixture.settle().exitCode == 0)
        let resultBefore = w.snapshot(of: ["outbox"])

        // The same file again: skipped, archived, result unchanged.
        try w.drop("P0001_20201001_0001.csv.zst", csv: first)
        let again = try fixture.settle()
        #expect(again.exitCode == 0)
        #expect(again.alreadySettledFiles == 1)
        #expect(again.records == 0)
        #expect(w.snapshot(of: ["outbox"]) == resultBefore)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.inbox).isEmpty)

        // The same name with other content: quarantined, nothing granted.
        try w.drop("P0001_20201001_0001.csv.zst", csv: records("R2,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        let reused = try fixture.settle()
        #expect(reused.exitCode == 3)
        #expect(reused.files.first?.code == "NAME_REUSED")
        #expect(try fixture.points(holder1) == 250)
    }
}

@Suite struct AcrossRunsTests {
    @Test func resentRecordIsADuplicateAndLateRecordsMeetTheCap() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        let w = fixture.workspace
        try w.drop(
            "P0001_20201001_0001.csv.zst",
            csv: records(
                "A1,AAAA0001,charge,19000,2020-10-01T10:00:00+09:00",
                "A2,AAAA0001,purchase,bad,2020-10-01T10:00:00+09:00".replacingOccurrences(of: "bad", with: "100")))
        let first = try fixture.settle()
        #expect(first.points == 4750 + 25)
        try w.drop(
            "P0001_20201002_0001.csv.zst",
            csv: records(
                "A1,AAAA0001,charge,19000,2020-10-01T10:00:00+09:00",
                "A3,AAAA0001,charge,4000,2020-10-02T10:00:00+09:00",
                "A4,AAAA0001,charge,4000,2020-10-03T10:00:00+09:00"))
        let second = try fixture.settle()
        #expect(second.rejections["DUPLICATE"] == 1)
        let result = try #require(try w.result(provider: "P0001", stem: "P0001_20201002_0001"))
        #expect(
            result == """
                record_id,mykey_id,status,points,reason
                A1,AAAA0001,REJECTED,0,DUPLICATE
                A3,AAAA0001,GRANTED,225,CAP_PARTIAL
                A4,AAAA0001,GRANTED,0,CAP_REACHED

                """)
        #expect(try fixture.points(holder1) == 5000)
        let holder = try #require(try fixture.ledger.holder(myKey: MyKeyID(holder1)!))
        #expect(holder.records == 4)
        #expect(holder.eligibleAmount == 19000 + 100 + 4000 + 4000)
    }

    @Test func malformedLinesMayBeResentCorrected() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        let w = fixture.workspace
        try w.drop("P0001_20201001_0001.csv.zst", csv: records("M1,AAAA0001,refund,1000,2020-10-01T10:00:00+09:00"))
        try fixture.settle()
        try w.drop("P0001_20201002_0001.csv.zst", csv: records("M1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        try fixture.settle()
        #expect(try fixture.points(holder1) == 250)
    }

    @Test func duplicatesWithinARunFollowFileNameOrder() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        let w = fixture.workspace
        try w.drop("P0001_20201002_0001.csv.zst", csv: records("D1,AAAA0001,charge,2000,2020-10-02T10:00:00+09:00"))
        try w.drop("P0001_20201001_0001.csv.zst", csv: records("D1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        let summary = try fixture.settle()
        #expect(summary.rejections["DUPLICATE"] == 1)
        #expect(try fixture.points(holder1) == 250)
        let later = try #require(try w.result(provider: "P0001", stem: "P0001_20201002_0001"))
        #expect(later.contains("D1,AAAA0001,REJECTED,0,DUPLICATE"))
    }

    @Test func lineFormsAreReadAsSpecified() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        let w = fixture.workspace
        let csv =
            "\u{FEFF}record_id,mykey_id,kind,amount_yen,occurred_at\r\n"
            + "\"F1\",\"AAAA0001\",\"charge\",\"1000\",\"2020-10-01T10:00:00+09:00\"\r\n"
            + "\r\n"
            + "\"F\"\"2\",AAAA0001,charge,1000,2020-10-01T10:00:00+09:00\r\n"
            + "F3,AAAA0001,charge,1000\r\n"
            + "F4,aaaa0001,charge,1000,2020-10-01T10:00:00+09:00\r\n"
            + "F5,AAAA0001,charge,1000,2020-10-01T10:00:00.123456789Z"
        try w.drop("P0001_20201001_0001.csv.zst", csv: csv, records: 5, amountTotal: 4000)
        let summary = try fixture.settle()
        #expect(summary.exitCode == 0)
        let result = try #require(try w.result(provider: "P0001", stem: "P0001_20201001_0001"))
        #expect(
            result == """
                record_id,mykey_id,status,points,reason
                F1,AAAA0001,GRANTED,250,
                ,AAAA0001,REJECTED,0,MALFORMED
                ,,REJECTED,0,MALFORMED
                F4,,REJECTED,0,MALFORMED
                F5,AAAA0001,GRANTED,250,

                """)
    }
}

@Suite struct RunGuaranteeTests {
    @Test func workerCountDoesNotChangeTheResults() throws {
        var outputs: [[String: [UInt8]]] = []
        for workers in [1, 4] {
            let fixture = try SettlementFixture()
            fixture.workers = workers
            var options = GeneratorOptions()
            options.holders = 2000
            options.records = 20000
            options.providers = 3
            options.filesPerProvider = 3
            options.faults = true
            _ = try DropGenerator.generate(
                registry: fixture.workspace.registry, inbox: fixture.workspace.inbox, options: options)
            try fixture.importRegistry(fixture.workspace.registry)
            let summary = try fixture.settle()
            #expect(summary.records > 0)
            outputs.append(fixture.workspace.snapshot(of: ["outbox", "quarantine", "archive"]))
        }
        #expect(outputs[0].keys.sorted() == outputs[1].keys.sorted())
        #expect(outputs[0] == outputs[1])
    }

    @Test func aSecondRunWhileTheLockIsHeldChangesNothing() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        try fixture.workspace.drop(
            "P0001_20201001_0001.csv.zst", csv: records("L1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        let other = try fixture.database.connect()
        #expect(try other.tryAdvisoryLock(Ledger.settlementLockKey))
        #expect {
            try fixture.settle()
        } throws: { error in
            (error as? SettlementError)?.code == .locked
        }
        #expect(try fixture.count("SELECT count(*) FROM runs") == 0)
        #expect(FileManager.default.fileExists(atPath: fixture.workspace.inbox + "/P0001_20201001_0001.csv.zst"))
        try other.advisoryUnlock(Ledger.settlementLockKey)
        #expect(try fixture.settle().records == 1)
    }

    @Test func dryRunWritesNothing() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        try fixture.workspace.copyIntoInbox(from: DropWorkspace.fixtures() + "/example/inbox")
        let before = fixture.workspace.snapshot()
        let summary = try fixture.settle(dryRun: true)
        #expect(summary.points == 2500 + 2500 + 833 + 500 + 500 + 1000)
        #expect(summary.runID == nil)
        #expect(fixture.workspace.snapshot() == before)
        #expect(try fixture.count("SELECT count(*) FROM grants") == 0)
        #expect(try fixture.count("SELECT count(*) FROM runs") == 0)
    }

    @Test func changedParametersAreRefused() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        try fixture.workspace.drop(
            "P0001_20201001_0001.csv.zst", csv: records("U1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        try fixture.settle()
        fixture.campaign.capPoints = 6000
        #expect {
            try fixture.settle()
        } throws: { error in
            (error as? SettlementError)?.code == .parametersChanged
        }
    }

    /// Only a run that commits fixes the campaign: an invocation on an empty inbox with other parameters leaves
    /// nothing behind, and the real parameters still apply afterwards.
    @Test func aRunThatSettlesNothingRecordsNoCampaign() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        fixture.campaign.capPoints = 1
        let empty = try fixture.settle()
        #expect(empty.runID == nil)
        #expect(try fixture.count("SELECT count(*) FROM campaign") == 0)
        fixture.campaign.capPoints = 5000
        try fixture.workspace.drop(
            "P0001_20201001_0001.csv.zst", csv: records("U1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        #expect(try fixture.settle().points == 250)
        #expect(try fixture.count("SELECT cap_points FROM campaign") == 5000)
    }

    @Test func theDatabaseRefusesASecondGrantAndAPointAboveTheCap() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        try fixture.workspace.drop(
            "P0001_20201001_0001.csv.zst", csv: records("U1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
        try fixture.settle()
        let c = fixture.ledger.connection
        #expect(throws: (any Error).self) {
            try c.execute(
                "INSERT INTO grants SELECT provider_key, record_id, holder_key, run_id, file_id, line, occurred_at_ns, amount, points, reason FROM grants"
            )
        }
        #expect(throws: (any Error).self) { try c.execute("UPDATE grants SET points = points + 1") }
        #expect(throws: (any Error).self) { try c.execute("DELETE FROM grants") }
        #expect(throws: (any Error).self) { try c.execute("UPDATE ledger SET points = 5001") }
        #expect(throws: (any Error).self) { try c.execute("UPDATE ledger SET points = -1") }
        #expect(try fixture.points(holder1) == 250)
    }
}
