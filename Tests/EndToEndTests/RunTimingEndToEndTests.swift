import Foundation
import Postgres
import TestSupport
import Testing

/// A run's recorded start and duration are the whole run's: from the invocation's lock (or the end of its previous
/// run) through delivery.
///
/// Checked by the order of recorded events and against the phases the binary reports, never
/// against how fast this machine is.
@Suite struct RunTimingEndToEndTests {
    /// A committed run's times as the database holds them: seconds since the epoch, and the duration in ms.
    struct Times {
        var started: Double
        var committed: Double
        var delivered: Double?
        var durationMilliseconds: Int?
    }

    static func times(_ deployment: Deployment) throws -> [Int: Times] {
        let connection = try deployment.database.connect()
        defer { connection.close() }
        let result = try connection.query(
            """
            SELECT run_id, extract(epoch FROM started_at)::text, extract(epoch FROM committed_at)::text,
                   extract(epoch FROM delivered_at)::text, duration_ms
            FROM runs ORDER BY run_id
            """)
        var times: [Int: Times] = [:]
        for row in result {
            times[Int(try row[0].int())] = Times(
                started: Double(try row[1].string())!, committed: Double(try row[2].string())!,
                delivered: row[3].optionalString().flatMap(Double.init),
                durationMilliseconds: try row[4].optionalInt().map { Int($0) })
        }
        return times
    }

    static func runs(_ summaryPath: String) throws -> [[String: Any]] {
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
            as! [String: Any]
        return summary["runs"] as! [[String: Any]]
    }

    /// The duration is at least what the run's phases took, as the binary measured them; phases and duration are
    /// each rounded to the millisecond, which is all the slack allowed.
    static func expectDurationCoversPhases(_ run: [String: Any], _ times: Times) {
        let phases = run["phase_seconds"] as? [String: Double] ?? [:]
        #expect(Set(phases.keys) == ["snapshot", "intake", "duplicates", "points", "results", "commit", "delivery"])
        guard let duration = times.durationMilliseconds else {
            Issue.record("run \(run["run_id"] ?? "?") has no duration")
            return
        }
        let phaseMilliseconds = phases.values.reduce(0, +) * 1000
        #expect(
            Double(duration) + 0.5 * Double(phases.count + 1) >= phaseMilliseconds,
            "duration \(duration) ms, phases \(phases)")
        // It reaches past the commit: delivery is part of the run.
        #expect(Double(duration) + 1 >= (times.committed - times.started) * 1000 + (phases["delivery"] ?? 0) * 1000)
    }

    @Test func everyRunOfAnInvocationIsTimedFromTheLockThroughDelivery() throws {
        let deployment = try Deployment(generated: 3000, faults: false)
        let summaryPath = deployment.workspace.root + "/summary.json"
        let settled = try deployment.settle(["--max-run-records", "1000", "--summary-json", summaryPath])
        #expect(settled.status == 0, "\(settled.stderr)")
        let runs = try Self.runs(summaryPath)
        #expect(runs.count == 3)
        let times = try Self.times(deployment)
        for run in runs {
            let id = try #require(run["run_id"] as? Int)
            let recorded = try #require(times[id])
            Self.expectDurationCoversPhases(run, recorded)
            let delivered = try #require(recorded.delivered)
            #expect(recorded.started <= recorded.committed && recorded.committed <= delivered)
        }
        // Each later run starts where the one before it ended: after it was delivered, not before, and not later
        // than its duration says.
        let ids = runs.compactMap { $0["run_id"] as? Int }
        for (earlier, later) in zip(ids, ids.dropFirst()) {
            let before = try #require(times[earlier])
            let after = try #require(times[later])
            // Both clocks are this machine's; the database keeps microseconds.
            #expect(after.started + 0.000_002 >= before.delivered ?? .infinity)
            #expect(after.started + 0.001 >= before.started + Double(before.durationMilliseconds ?? 0) / 1000)
        }

        let list = try Binary.run(["runs", "list"], database: deployment.database)
        #expect(list.status == 0)
        #expect(!list.stdout.contains("pending") && list.stdout.contains(" s  yes"), "\(list.stdout)")
        let show = try Binary.run(["runs", "show", String(ids[0])], database: deployment.database)
        #expect(show.stdout.contains("(from the lock through delivery)"), "\(show.stdout)")
    }

    /// A run killed after its commit has no duration yet; the next invocation's first run starts at its lock, so
    /// before it delivers the earlier run, and that earlier run's duration stays unknown rather than counting the
    /// time until someone ran settle again.
    @Test func aRunAfterRecoveryStartsAtTheLockAndTheRecoveredRunsDurationStaysUnknown() throws {
        let deployment = try Deployment(generated: 3000, faults: false)
        let crashed = try deployment.settle(
            ["--max-run-records", "1000"], environment: ["MYNAPOINT_CRASH_AT": "committed"])
        #expect(crashed.killedBySignal == 9, "exit \(crashed.status): \(crashed.stderr)")
        let pending = try #require(try Self.times(deployment).first)
        #expect(pending.value.delivered == nil && pending.value.durationMilliseconds == nil)
        let list = try Binary.run(["runs", "list"], database: deployment.database)
        #expect(list.stdout.contains("pending  NO"), "\(list.stdout)")
        let json = try Binary.run(["runs", "list", "--json"], database: deployment.database)
        let listed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        #expect(listed.count == 1 && listed[0]["duration_ms"] == nil)
        let show = try Binary.run(["runs", "show", String(pending.key)], database: deployment.database)
        #expect(show.stdout.contains("duration:   pending"), "\(show.stdout)")

        let summaryPath = deployment.workspace.root + "/summary.json"
        let resumed = try deployment.settle(["--max-run-records", "1000", "--once", "--summary-json", summaryPath])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let run = try #require(try Self.runs(summaryPath).first)
        let id = try #require(run["run_id"] as? Int)
        let times = try Self.times(deployment)
        let recovered = try #require(times[pending.key])
        let next = try #require(times[id])
        #expect(recovered.delivered != nil && recovered.durationMilliseconds == nil)
        #expect(next.started <= recovered.delivered ?? -.infinity, "the run started after the recovery")
        Self.expectDurationCoversPhases(run, next)
        let shown = try Binary.run(["runs", "show", String(pending.key)], database: deployment.database)
        #expect(shown.stdout.contains("duration:   unknown"), "\(shown.stdout)")
    }
}
