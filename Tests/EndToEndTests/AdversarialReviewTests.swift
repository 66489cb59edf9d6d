import Crypto
import Foundation
import TestSupport
import Testing
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// What a provider can drop that must neither stop settlement for everyone nor keep its own files in the inbox
/// (settlement spec §3.4, §11.1, §11.3), through the built binary.
@Suite struct AdversarialReviewTests {
    static let csv =
        "record_id,mykey_id,kind,amount_yen,occurred_at\nR1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00\n"

    /// A control file for `name` describing `csv`, with `file` as its `file` field (a JSON string literal's inside).
    static func control(file: String, csv: String = csv) throws -> String {
        let digest = SHA256.hash(try Zstd.compress(Array(csv.utf8))).hexString
        return
            "{\"format\": \"mynapoint-records/1\", \"file\": \"\(file)\", \"sha256\": \"\(digest)\", \"records\": 1, \"amount_total\": 1000}"
    }

    static func reason(_ workspace: DropWorkspace, _ stem: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: workspace.quarantine + "/" + stem + ".error.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// A control file whose strings hold a NUL or a line break is one provider's `BAD_CONTROL`: the run still
    /// commits everyone else's files, and the sentence shows those characters as `\xHH`, on one line.
    @Test func controlCharactersInAControlFileAreQuarantinedNotAFailedRun() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        try workspace.drop(
            "P0001_20210105_0002.csv.zst", csv: Self.csv, controlFile: try Self.control(file: "a\\u0000\\nb"))
        let digest = SHA256.hash(try Zstd.compress(Array(Self.csv.utf8))).hexString
        try workspace.drop(
            "P0001_20210105_0003.csv.zst", csv: Self.csv,
            controlFile:
                "{\"format\": \"mynapoint-records/1\", \"file\": \"P0001_20210105_0003.csv.zst\", \"sha256\": \"\(digest)\", \"records\": 1, \"amount_total\": 1000, \"x\\u0000\\r\": 1}"
        )
        let outcome = try deployment.settle(environment: try Binary.providerLanguage("en"))
        #expect(outcome.status == 3, "\(outcome.stderr)")
        #expect(FileManager.default.fileExists(atPath: workspace.archive + "/P0001/P0001_20210105_0001.csv.zst"))
        let named = try Self.reason(workspace, "P0001_20210105_0002")
        #expect(named["code"] as? String == "BAD_CONTROL")
        #expect((named["message"] as? String)?.contains("names a\\x00\\x0Ab, not") == true)
        let field = try Self.reason(workspace, "P0001_20210105_0003")
        #expect(field["code"] as? String == "BAD_CONTROL")
        #expect((field["message"] as? String)?.contains("field \"x\\x00\\x0D\"") == true)
        for line in outcome.stdout.split(separator: "\n") where line.hasPrefix("quarantined") {
            #expect(line.contains("BAD_CONTROL"))
        }
    }

    /// A control file with another name (a hard link) is refused unread, and the pair still leaves the inbox for
    /// quarantine with its reason, instead of being decided again by every run.
    @Test func aHardLinkedControlFileIsQuarantinedWithItsDataFile() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        try workspace.drop("P0001_20210105_0002.csv.zst", csv: Self.csv)
        let other = workspace.root + "/elsewhere.ctl"
        #expect(link(workspace.inbox + "/P0001_20210105_0002.ctl", other) == 0)
        let outcome = try deployment.settle()
        #expect(outcome.status == 3, "\(outcome.stderr)")
        #expect(!outcome.stdout.contains("left in the inbox"), "\(outcome.stdout)")
        #expect(try Self.reason(workspace, "P0001_20210105_0002")["code"] as? String == "NOT_A_FILE")
        #expect(FileManager.default.fileExists(atPath: workspace.quarantine + "/P0001_20210105_0002.csv.zst"))
        #expect(FileManager.default.fileExists(atPath: workspace.quarantine + "/P0001_20210105_0002.ctl"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).isEmpty)
        let again = try deployment.settle()
        #expect(again.status == 0, "\(again.stdout)")
    }

    /// A limit or campaign parameter out of range on the command line is a usage error (64), for `settle` as for
    /// `check`, and nothing is settled.
    @Test func outOfRangeFlagsAreUsageErrors() throws {
        let deployment = try Deployment(example: true)
        for flags in [
            ["--max-line-bytes", "10"], ["--max-file-records", "3000000000"], ["--rate-percent", "5000"],
            ["--window-start", "2021-05-01T00:00:00+09:00", "--window-end", "2021-04-01T00:00:00+09:00"],
        ] {
            let checked = try Binary.run(["check", deployment.workspace.inbox] + flags, database: nil)
            #expect(checked.status == 64, "check \(flags): \(checked.stderr)")
            let settled = try deployment.settle(flags)
            #expect(settled.status == 64, "settle \(flags): \(settled.stderr)")
            #expect(!settled.stderr.contains("nothing was committed"), "\(settled.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: deployment.workspace.archive).isEmpty)
    }

    /// When pack cannot read its input, the line names the input as given, once.
    @Test func packNamesAnUnreadableInputByItsPath() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let input = workspace.root + "/sub/records.csv"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let packed = try Binary.run(
            ["pack", input, "--provider", "P0001", "--date", "20201001", "--seq", "1", "--out", workspace.inbox],
            database: nil)
        #expect(packed.status == 1, "\(packed.stderr)")
        #expect(packed.stderr.contains("cannot read \(input):"), "\(packed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).isEmpty)
    }

    /// A summary file that cannot be written is found before the run: exit 1 then means nothing was committed.
    @Test func anUnwritableSummaryPathStopsBeforeAnythingIsSettled() throws {
        let deployment = try Deployment(example: true)
        let outcome = try deployment.settle(["--summary-json", deployment.workspace.root + "/missing/summary.json"])
        #expect(outcome.status == 1, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("nothing was settled"), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("NSCocoaErrorDomain"), "\(outcome.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: deployment.workspace.archive).isEmpty)
        #expect(try deployment.state().hasPrefix("--\n"), "no grant was committed")
        let settled = try deployment.settle(["--summary-json", deployment.workspace.root + "/summary.json"])
        #expect(settled.status == 0, "\(settled.stderr)")
    }

    /// A settled file sent again with another control file is `ALREADY_SETTLED`; the archive keeps the control file
    /// that was settled.
    @Test func aResentFileKeepsTheArchivedControlFile() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        let stem = "/P0001_20210105_0001"
        let data = try Data(contentsOf: URL(fileURLWithPath: workspace.inbox + stem + ".csv.zst"))
        let settled = try Data(contentsOf: URL(fileURLWithPath: workspace.inbox + stem + ".ctl"))
        #expect(try deployment.settle().status == 0)
        try data.write(to: URL(fileURLWithPath: workspace.inbox + stem + ".csv.zst"))
        let resent = Data((String(decoding: settled, as: UTF8.self) + " ").utf8)
        try resent.write(to: URL(fileURLWithPath: workspace.inbox + stem + ".ctl"))
        let again = try deployment.settle()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("1 already settled"), "\(again.stdout)")
        let archived = try FileManager.default.contentsOfDirectory(atPath: workspace.archive + "/P0001")
            .compactMap { FileManager.default.contents(atPath: workspace.archive + "/P0001/" + $0) }
        #expect(archived.contains(settled))
        #expect(archived.contains(resent))
    }

    /// A file quarantined onto another file system is copied a piece at a time: a file larger than the memory the
    /// process may use (here a sparse one) is moved, not a crash that every later run would repeat.
    @Test(.enabled(if: FileManager.default.isWritableFile(atPath: "/dev/shm")))
    func aLargeFileIsQuarantinedOntoAnotherFileSystemInBoundedMemory() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        let elsewhere = "/dev/shm/mynapoint-quarantine-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let large = workspace.inbox + "/LARGE.csv.zst"
        let size: off_t = 1 << 30
        #expect(FileManager.default.createFile(atPath: large, contents: nil))
        #expect(truncate(large, size) == 0)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: large))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("end".utf8))
        try handle.close()
        try "{}".write(toFile: workspace.inbox + "/LARGE.ctl", atomically: true, encoding: .utf8)
        let arguments = [
            "settle", "--inbox", workspace.inbox, "--outbox", workspace.outbox, "--archive", workspace.archive,
            "--quarantine", elsewhere,
        ]
        let limited = ["/bin/bash", "-c", "ulimit -v 800000 && exec \"$@\"", "bash"]
        let settled = try Binary.run(arguments, database: deployment.database, launcher: limited)
        #expect(settled.status == 3, "\(settled.stderr)")
        #expect(settled.killedBySignal == nil)
        let moved = try FileManager.default.attributesOfItem(atPath: elsewhere + "/LARGE.csv.zst")
        #expect((moved[.size] as? NSNumber)?.int64Value == Int64(size) + 3)
        let tail = try FileHandle(forReadingFrom: URL(fileURLWithPath: elsewhere + "/LARGE.csv.zst"))
        try tail.seek(toOffset: UInt64(size) - 1)
        #expect(try tail.readToEnd() == Data([0]) + Data("end".utf8))
        try tail.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).isEmpty)
    }
}
