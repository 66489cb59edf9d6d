import Foundation
import Postgres
import TestSupport
import Testing
import Zstd

@Suite struct CommandLineTests {
    @Test func versionAndHelp() throws {
        let version = try Binary.run(["--version"], database: nil)
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("0."))
        let help = try Binary.run(["settle", "--help"], database: nil)
        #expect(help.stdout.contains("--summary-json"))
        #expect(help.stdout.contains("75"))
    }

    @Test func theWorkedExampleThroughTheBinary() throws {
        let deployment = try Deployment(example: true)
        let summaryPath = deployment.workspace.root + "/summary.json"
        // Every log line, at the most verbose level, in both formats: the misplaced individual number of line 17
        // must appear in none of them, nor in the summary.
        let settled = try deployment.settle(
            ["--summary-json", summaryPath, "--workers", "2", "--log-level", "trace", "--log-format", "json"])
        #expect(settled.status == 0, "\(settled.stderr)")
        #expect(settled.stdout.contains("points 7833"))
        #expect(!settled.stderr.isEmpty)
        for text in [settled.stdout, settled.stderr, try String(contentsOfFile: summaryPath, encoding: .utf8)] {
            #expect(!text.contains("123456789012"))
        }
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
            as! [String: Any]
        #expect(summary["points"] as? Int == 7833)
        #expect(summary["records"] as? Int == 20)
        #expect((summary["rejections"] as? [String: Int])?["MALFORMED"] == 2)

        let expected = try String(
            contentsOfFile: DropWorkspace.fixtures() + "/example/expected-per_record.result.csv", encoding: .utf8)
        #expect(try deployment.workspace.result(provider: "P0001", stem: "P0001_20210105_0001") == expected)

        let holder = try Binary.run(["holder", "show", "OLDID009", "--format", "json"], database: deployment.database)
        #expect(holder.status == 0)
        let view = try JSONSerialization.jsonObject(with: Data(holder.stdout.utf8)) as! [String: Any]
        #expect(view["mykey_id"] as? String == "AAAA0009")
        #expect(view["points"] as? Int == 1500)
        #expect(view["records"] as? Int == 3)
        #expect(view["provider_id"] as? String == "P0001")
        let unknown = try Binary.run(["holder", "show", "ZZZZ9999", "--format", "json"], database: deployment.database)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("ZZZZ9999"))

        let report = try Binary.run(["report", "--format", "json"], database: deployment.database)
        #expect(report.status == 0)
        let figures = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as! [String: Any]
        let totals = figures["totals"] as! [String: Int]
        #expect(totals["points"] == 7833)
        #expect(totals["records"] == 20)
        #expect(totals["granted_records"] == 8)
        #expect(figures["holders_at_cap"] as? Int == 1)
        let checks = figures["checks"] as! [[String: Any]]
        #expect(checks.count == 3)
        #expect(checks.allSatisfy { $0["ok"] as? Bool == true })
        let csv = try Binary.run(["report", "--format", "csv"], database: deployment.database)
        #expect(csv.stdout.hasPrefix("provider_id,files,records,granted_records,points,eligible_amount"))
        #expect(csv.stdout.contains("P0001,1,20,8,7833,"))
    }

    @Test func quarantineExitsThreeAndBadInputGetsOneLine() throws {
        let deployment = try Deployment(generated: 3000, faults: true)
        let run = try deployment.settle()
        #expect(run.status == 3)
        #expect(run.stdout.contains("quarantined P0001_20210105_9001.csv.zst: CHECKSUM_MISMATCH"))
        let again = try deployment.settle()
        #expect(again.status == 0)
        #expect(again.stdout.contains("nothing to settle"))

        let missing = try Binary.run(
            ["registry", "import", deployment.workspace.root + "/nowhere"], database: deployment.database)
        #expect(missing.status == 1)
        #expect(missing.stderr.split(separator: "\n").count == 1)
        let noInbox = try Binary.run(
            ["settle", "--outbox", "o", "--archive", "a", "--quarantine", "q"], database: deployment.database)
        #expect(noInbox.status == 1)
        #expect(noInbox.stderr.contains("--inbox"))
        // A password may come from DATABASE_URL (never from an argument); a failed connection does not show it.
        let badDatabase = try Binary.run(
            ["migrate"], database: nil,
            environment: ["DATABASE_URL": "postgresql://nobody:secret-pw@/nodb?host=/nonexistent"])
        #expect(badDatabase.status == 1)
        #expect(!badDatabase.stderr.contains("secret-pw"))
        #expect(badDatabase.stderr.split(separator: "\n").count == 1)
    }

    @Test func anotherRunHoldingTheLockGivesExit75() throws {
        let deployment = try Deployment(example: true)
        let holder = try deployment.database.connect()
        defer { holder.close() }
        #expect(try holder.tryAdvisoryLock(0x6D79_6E61_7365_7474))
        let blocked = try deployment.settle()
        #expect(blocked.status == 75)
        #expect(blocked.stderr.contains("another settlement run"))
        #expect(FileManager.default.fileExists(atPath: deployment.workspace.inbox + "/P0001_20210105_0001.csv.zst"))
        try holder.advisoryUnlock(0x6D79_6E61_7365_7474)
        #expect(try deployment.settle().status == 0)
    }

    @Test func twoConcurrentRunsNeverGrantTwice() throws {
        let deployment = try Deployment(generated: 20000, faults: false)
        let outcomes = LockedOutcomes()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            if let outcome = try? deployment.settle() { outcomes.append(outcome.status) }
        }
        let statuses = outcomes.values.sorted()
        #expect(statuses.count == 2)
        // Either the second waited out the first (75), or started after it and found nothing (0).
        #expect(statuses == [0, 75] || statuses == [0, 0])
        let connection = try deployment.database.connect()
        defer { connection.close() }
        let grants = try connection.query("SELECT count(*) FROM grants")[0, 0].int()
        let distinct = try connection.query("SELECT count(DISTINCT (provider_key, record_id)) FROM grants")[0, 0].int()
        let runs = try connection.query("SELECT count(*) FROM runs")[0, 0].int()
        #expect(grants == distinct)
        #expect(runs == 1)
        let points = try connection.query("SELECT coalesce(sum(points), 0) FROM grants")[0, 0].int()
        let ledger = try connection.query("SELECT coalesce(sum(points), 0) FROM ledger")[0, 0].int()
        #expect(points == ledger)
    }
}

final class LockedOutcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var statuses: [Int32] = []
    func append(_ status: Int32) {
        lock.lock()
        statuses.append(status)
        lock.unlock()
    }
    var values: [Int32] {
        lock.lock()
        defer { lock.unlock() }
        return statuses
    }
}
