import Foundation
import Postgres
import TestSupport
import Testing

/// A run's grants written over several connections and joined by two-phase commit: the same outcome as one
/// connection, and a commit a crash interrupted is completed or rolled back, under the lock, before anything else.
@Suite struct ParallelCommitTests {
    /// The database's prepared transactions.
    func prepared(_ deployment: Deployment) throws -> Int64 {
        let connection = try deployment.database.connect()
        defer { connection.close() }
        return try connection.query("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")[
            0, 0
        ].int()
    }

    @Test func oneConnectionOrSeveralSettleAlike() throws {
        let one = try Deployment(generated: 6000)
        let several = try Deployment(generated: 6000)
        #expect(try one.settle(["--commit-connections", "1"]).status == 3)
        #expect(try several.settle(["--commit-connections", "3"]).status == 3)
        #expect(try one.state() == several.state())
        #expect(one.workspace.snapshot() == several.workspace.snapshot())
        #expect(try prepared(several) == 0)
    }

    @Test(arguments: ["prepared#2", "decided"])
    func aDryRunRefusesWhileACommitIsInterrupted(point: String) throws {
        let reference = try CrashRecoveryTests.reference.get()
        let deployment = try Deployment(generated: 6000)
        let crashed = try deployment.settle(
            ["--commit-connections", "2"], environment: ["MYNAPOINT_CRASH_AT": point])
        #expect(crashed.killedBySignal == 9, "\(crashed.stderr)")
        #expect(try prepared(deployment) == 2)
        let dry = try deployment.settle(["--dry-run"])
        #expect(dry.status == 1)
        #expect(dry.stderr.contains("commit was interrupted"), "\(dry.stderr)")
        #expect(dry.stderr.contains(point == "decided" ? "it completes run" : "it rolls back run"), "\(dry.stderr)")
        #expect(try prepared(deployment) == 2)
        let verify = try Binary.run(["verify"], database: deployment.database)
        #expect(verify.status == 1)
        #expect(verify.stderr.contains("2 of its grant streams are still prepared"), "\(verify.stderr)")
        // Exit 3 when the rerun settles the files again (their quarantines are its own), 0 when it delivers run 1.
        let rerun = try deployment.settle()
        #expect(rerun.status == (point == "decided" ? 0 : 3), "\(rerun.stderr)")
        #expect(try prepared(deployment) == 0)
        #expect(try deployment.state() == reference.state)
        #expect(deployment.workspace.snapshot() == reference.files)
    }

    @Test func aRunStartedWhileAnotherCompletesAnInterruptedCommitExits75() throws {
        let reference = try CrashRecoveryTests.reference.get()
        let deployment = try Deployment(generated: 6000)
        let crashed = try deployment.settle(
            ["--commit-connections", "2"], environment: ["MYNAPOINT_CRASH_AT": "decided"])
        #expect(crashed.killedBySignal == 9, "\(crashed.stderr)")
        let release = deployment.workspace.root + "/release"
        let first = LockedOutcome()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            first.set(
                try? deployment.settle(
                    environment: ["MYNAPOINT_PAUSE_AT": "resolving", "MYNAPOINT_PAUSE_FILE": release]))
            done.signal()
        }
        // The first run holds the lock and is about to complete run 1's commit.
        let paused = waitForFile(release + ".paused", orEnd: done)
        #expect(paused, "the first run ended before it reached the recovery: \(first.value?.stderr ?? "")")
        let second = try deployment.settle()
        #expect(second.status == 75, "\(second.stderr)")
        #expect(second.stderr.contains("another settlement run"))
        FileManager.default.createFile(atPath: release, contents: Data())
        done.wait()
        #expect(first.value?.status == 0, "\(first.value?.stderr ?? "no outcome")")
        #expect(try prepared(deployment) == 0)
        #expect(try deployment.state() == reference.state)
        #expect(deployment.workspace.snapshot() == reference.files)
    }

    /// Waits until `path` exists (true) or `end` is signalled first (false).
    func waitForFile(_ path: String, orEnd end: DispatchSemaphore) -> Bool {
        while !FileManager.default.fileExists(atPath: path) {
            if end.wait(timeout: .now() + .milliseconds(20)) == .success {
                end.signal()
                return FileManager.default.fileExists(atPath: path)
            }
        }
        return true
    }
}

final class LockedOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Binary.Outcome?
    func set(_ value: Binary.Outcome?) {
        lock.lock()
        outcome = value
        lock.unlock()
    }
    var value: Binary.Outcome? {
        lock.lock()
        defer { lock.unlock() }
        return outcome
    }
}
