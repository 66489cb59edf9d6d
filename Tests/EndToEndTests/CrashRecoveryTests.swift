import Foundation
import TestSupport
import Testing

/// `kill -9` of `settle` at named moments spread over a run, each followed by a rerun: the database and the
/// files must end exactly as after an uninterrupted run.
///
/// The crashed run writes its grants over two connections, so the moments include those of the two-phase commit:
/// between the two prepares (`prepared`), after both (`prepared#2`), after the decision (`decided`), between the
/// two commits of the prepared streams (`commit-prepared`) and after both (`commit-prepared#2`).
@Suite struct CrashRecoveryTests {
    static let points: [String] = [
        "locked", "recovered", "intake", "duplicates", "results", "run-row", "file-rows", "grants-copy",
        "grants-copy#3",
        "grants", "ledger", "prepared", "prepared#2", "before-commit", "decided", "commit-prepared",
        "commit-prepared#2", "committed", "result-file", "result-control", "result-file#3",
        "archive-data", "archive-control", "archive-control#4", "quarantine-reason", "quarantine-data",
        "quarantine-data#3", "quarantine-control", "delivered", "marked",
    ]

    /// The uninterrupted run, computed once.
    static let reference: Result<(state: String, files: [String: [UInt8]]), any Error> = Result {
        let deployment = try Deployment(generated: 6000)
        let run = try deployment.settle()
        guard run.status == 3 else { throw SetupFailure(what: "reference settle", outcome: run) }
        return (try deployment.state(), deployment.workspace.snapshot())
    }

    @Test(arguments: points)
    func aCrashAtAnyMomentIsRecoveredByTheNextRun(point: String) throws {
        let reference = try Self.reference.get()
        let deployment = try Deployment(generated: 6000)
        let crashed = try deployment.settle(
            ["--commit-connections", "2"], environment: ["MYNAPOINT_CRASH_AT": point])
        #expect(
            crashed.killedBySignal == 9, "the run was not killed at \(point): exit \(crashed.status) \(crashed.stderr)")
        let rerun = try deployment.settle()
        #expect(rerun.status == 3 || rerun.status == 0, "\(rerun.stderr)")
        #expect(try deployment.state() == reference.state)
        let files = deployment.workspace.snapshot()
        #expect(files.keys.sorted() == reference.files.keys.sorted())
        for (path, bytes) in reference.files where files[path] != bytes {
            Issue.record("\(path) differs after a crash at \(point)")
        }
    }
}
