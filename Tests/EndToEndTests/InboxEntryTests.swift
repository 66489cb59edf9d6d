import Crypto
import Foundation
import Postgres
import TestSupport
import Testing
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// What a careless or hostile party can put in the inbox, through the built binary (settlement spec §11): links,
/// special files and odd names are quarantined unread, replaced files are never archived for content they do not
/// hold, a failure after the commit says so (exit 5), files and folders get fixed modes, and only a run that
/// commits records the campaign.
@Suite struct InboxEntryTests {
    /// The example's data and control file, under another provider's name: what a provider would link to.
    static let example = DropWorkspace.fixtures() + "/example/inbox/P0001_20210105_0001"

    /// A control file for `name` describing `bytes`.
    static func control(_ name: String, _ bytes: [UInt8], records: Int = 1, amount: Int = 1000) -> String {
        "{\"format\": \"mynapoint-records/1\", \"file\": \"\(name)\", \"sha256\": \"\(SHA256.hash(bytes).hexString)\", \"records\": \(records), \"amount_total\": \(amount)}"
    }

    /// The parsed `error.json` of a quarantined stem.
    static func reason(_ workspace: DropWorkspace, _ stem: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: workspace.quarantine + "/" + stem + ".error.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// The summary file as JSON.
    static func summary(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    static func lstatMode(_ path: String) -> mode_t? {
        var s = stat()
        return lstat(path, &s) == 0 ? s.st_mode : nil
    }

    @Test func linksSpecialFilesAndBadNamesAreQuarantinedUnread() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        let inbox = workspace.inbox
        // A secret outside the inbox, and a link to it with a control file that guesses its digest.
        let secret = workspace.root + "/secret.csv.zst"
        let secretBytes = try Zstd.compress(Array("record_id,mykey_id,kind,amount_yen,occurred_at\n".utf8))
        try Data(secretBytes).write(to: URL(fileURLWithPath: secret))
        try FileManager.default.createSymbolicLink(
            atPath: inbox + "/P0002_20210105_0001.csv.zst", withDestinationPath: secret)
        try Self.control("P0002_20210105_0001.csv.zst", secretBytes)
            .write(toFile: inbox + "/P0002_20210105_0001.ctl", atomically: true, encoding: .utf8)
        // Another provider's file behind a link, with a control file copied from it.
        let other = try Data(contentsOf: URL(fileURLWithPath: Self.example + ".ctl"))
        try FileManager.default.createSymbolicLink(
            atPath: inbox + "/P0002_20210105_0002.csv.zst", withDestinationPath: inbox + "/P0001_20210105_0001.csv.zst")
        try String(decoding: other, as: UTF8.self)
            .replacingOccurrences(of: "P0001_20210105_0001", with: "P0002_20210105_0002")
            .write(toFile: inbox + "/P0002_20210105_0002.ctl", atomically: true, encoding: .utf8)
        // A FIFO: opening it for reading would block the run for ever.
        #expect(mkfifo(inbox + "/P0002_20210105_0003.csv.zst", 0o644) == 0)
        try Self.control("P0002_20210105_0003.csv.zst", [])
            .write(toFile: inbox + "/P0002_20210105_0003.ctl", atomically: true, encoding: .utf8)
        // A control file that is a link to a /proc file, beside a regular data file.
        try Data(secretBytes).write(to: URL(fileURLWithPath: inbox + "/P0002_20210105_0004.csv.zst"))
        try FileManager.default.createSymbolicLink(
            atPath: inbox + "/P0002_20210105_0004.ctl", withDestinationPath: "/proc/self/environ")
        // A folder named like a data file, alone.
        try FileManager.default.createDirectory(
            atPath: inbox + "/P0002_20210105_0005.csv.zst", withIntermediateDirectories: false)
        // A control file alone that is a link: refused at once, and the message names the control file.
        try FileManager.default.createSymbolicLink(
            atPath: inbox + "/P0002_20210105_0007.ctl", withDestinationPath: secret)
        // A name that is not UTF-8, and a date that does not exist.
        let badStem: [UInt8] = Array("P0002_2021".utf8) + [0xFF] + Array("105_0006".utf8)
        try write(badStem + Array(".csv.zst".utf8), in: inbox, secretBytes)
        try write(badStem + Array(".ctl".utf8), in: inbox, Array("{}".utf8))
        try workspace.drop("P0002_20210230_0001.csv.zst", csv: "record_id,mykey_id,kind,amount_yen,occurred_at\n")
        // A hard link of an unknown provider with a bad control file: NOT_A_FILE comes first, as for a link.
        try FileManager.default.linkItem(atPath: secret, toPath: inbox + "/P0009_20210105_0001.csv.zst")
        try "{}".write(toFile: inbox + "/P0009_20210105_0001.ctl", atomically: true, encoding: .utf8)
        // A line break inside a name: shown as \x0A, so it cannot start a line of its own in a log or summary.
        try workspace.drop("P0002_2021\n0105_0008.csv.zst", csv: "record_id,mykey_id,kind,amount_yen,occurred_at\n")
        // The longest name the file system allows: its reason file's name is shortened, never refused.
        let longStem = String(repeating: "L", count: 247)
        try workspace.drop(longStem + ".csv.zst", csv: "record_id,mykey_id,kind,amount_yen,occurred_at\n")
        // Entries named like no drop file: left alone.
        try "notes".write(toFile: inbox + "/README.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: inbox + "/incoming", withIntermediateDirectories: false)

        let summaryPath = workspace.root + "/summary.json"
        let settled = try deployment.settle(
            ["--summary-json", summaryPath], environment: try Binary.providerLanguage("en"))
        #expect(settled.status == 3, "\(settled.stderr)")
        let files = (try Self.summary(summaryPath)["files"] as! [[String: Any]])
        let codes = Dictionary(uniqueKeysWithValues: files.map { ($0["file"] as! String, $0["code"] as? String) })
        #expect(codes["P0001_20210105_0001.csv.zst"] == .some(nil))
        for n in 1...5 { #expect(codes["P0002_20210105_000\(n).csv.zst"] == "NOT_A_FILE", "file \(n)") }
        #expect(codes["P0002_20210105_0007.csv.zst"] == "NOT_A_FILE")
        #expect(
            (try Self.reason(workspace, "P0002_20210105_0007")["message"] as! String).hasPrefix(
                "P0002_20210105_0007.ctl is a symbolic link"))
        #expect(codes["P0002_2021\\xFF105_0006.csv.zst"] == "BAD_NAME")
        #expect(codes["P0002_20210230_0001.csv.zst"] == "BAD_NAME")
        #expect(codes["P0002_2021\\x0A0105_0008.csv.zst"] == "BAD_NAME")
        #expect(codes["P0009_20210105_0001.csv.zst"] == "NOT_A_FILE")
        #expect(!settled.stdout.contains("P0002_2021\n"))
        #expect(FileManager.default.fileExists(atPath: workspace.quarantine + "/P0002_2021\n0105_0008.csv.zst"))
        #expect(codes[longStem + ".csv.zst"] == "BAD_NAME")
        let shortened = try FileManager.default.contentsOfDirectory(atPath: workspace.quarantine)
            .filter { $0.hasPrefix(String(longStem.prefix(200)) + "~") && $0.hasSuffix(".error.json") }
        #expect(shortened.count == 1 && shortened[0].utf8.count <= 255)
        #expect((try Self.summary(summaryPath)["ignored"] as! [String]) == ["README.txt", "incoming"])

        // The link target is untouched, its digest is echoed nowhere, and the links themselves were moved.
        #expect(try Data(contentsOf: URL(fileURLWithPath: secret)) == Data(secretBytes))
        let digest = SHA256.hash(secretBytes).hexString
        for n in 1...5 {
            let reason = try Self.reason(workspace, "P0002_20210105_000\(n)")
            #expect(reason["code"] as? String == "NOT_A_FILE")
            let message = reason["message"] as! String
            #expect(!message.contains(digest) && !message.contains(workspace.root) && !message.contains("/proc"))
        }
        #expect(Self.lstatMode(workspace.quarantine + "/P0002_20210105_0001.csv.zst").map { $0 & S_IFMT } == S_IFLNK)
        #expect(Self.lstatMode(workspace.quarantine + "/P0002_20210105_0003.csv.zst").map { $0 & S_IFMT } == S_IFIFO)
        #expect(Self.lstatMode(workspace.quarantine + "/P0002_20210105_0005.csv.zst").map { $0 & S_IFMT } == S_IFDIR)
        // The other provider's file settled as its own provider's, and nothing as the linking provider's.
        #expect(try workspace.result(provider: "P0001", stem: "P0001_20210105_0001") != nil)
        #expect(!FileManager.default.fileExists(atPath: workspace.outbox + "/P0002"))
        // The bad name is shown with \xFF, and its reason file sits beside the file under its own bytes.
        let badReason = try #require(read(badStem + Array(".error.json".utf8), in: workspace.quarantine))
        let badJSON = try JSONSerialization.jsonObject(with: Data(badReason)) as! [String: Any]
        #expect(badJSON["code"] as? String == "BAD_NAME")
        #expect((badJSON["message"] as! String).contains("P0002_2021\\xFF105_0006.csv.zst"))
        #expect(read(badStem + Array(".csv.zst".utf8), in: workspace.quarantine) == secretBytes)
        #expect(FileManager.default.fileExists(atPath: inbox + "/README.txt"))
        #expect(FileManager.default.fileExists(atPath: inbox + "/incoming"))
    }

    /// A crash between the commit and the delivery, then a different file dropped under the same name: the next
    /// run delivers the committed results byte for byte, never archives the new file as the settled one, and
    /// decides the new file as a new drop (`NAME_REUSED`).
    @Test func aFileReplacedAfterTheCommitIsNotArchivedAsTheSettledOne() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        let crashed = try deployment.settle(environment: ["MYNAPOINT_CRASH_AT": "committed"])
        #expect(crashed.killedBySignal == 9, "\(crashed.stderr)")
        let csv =
            "record_id,mykey_id,kind,amount_yen,occurred_at\nNEW1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00\n"
        try workspace.drop("P0001_20210105_0001.csv.zst", csv: csv)
        let replaced = try Data(contentsOf: URL(fileURLWithPath: workspace.inbox + "/P0001_20210105_0001.csv.zst"))

        let rerun = try deployment.settle()
        #expect(rerun.status == 3, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("delivered the results of earlier run(s) 1"))
        let expected = try String(
            contentsOfFile: DropWorkspace.fixtures() + "/example/expected-per_record.result.csv", encoding: .utf8)
        #expect(try workspace.result(provider: "P0001", stem: "P0001_20210105_0001") == expected)
        #expect(!FileManager.default.fileExists(atPath: workspace.archive + "/P0001/P0001_20210105_0001.csv.zst"))
        #expect(try Self.reason(workspace, "P0001_20210105_0001")["code"] as? String == "NAME_REUSED")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: workspace.quarantine + "/P0001_20210105_0001.csv.zst"))
                == replaced)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).isEmpty)
    }

    /// A delivery that fails after the commit exits 5 and says the run is committed; the next run delivers it
    /// first, byte for byte.
    @Test func aFailedDeliveryExitsFiveAndIsDeliveredNextTime() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        try FileManager.default.createDirectory(atPath: workspace.outbox, withIntermediateDirectories: true)
        // The provider's outbox folder cannot be created: a file holds its name.
        try "in the way".write(toFile: workspace.outbox + "/P0001", atomically: true, encoding: .utf8)
        let failed = try deployment.settle()
        #expect(failed.status == 5, "\(failed.stderr)")
        #expect(failed.stderr.contains("run 1 is committed"))
        #expect(!failed.stderr.contains("nothing was committed"))
        let connection = try deployment.database.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT count(*) FROM runs WHERE delivered_at IS NULL")[0, 0].int() == 1)

        try FileManager.default.removeItem(atPath: workspace.outbox + "/P0001")
        let next = try deployment.settle()
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stdout.contains("delivered the results of earlier run(s) 1"))
        let expected = try String(
            contentsOfFile: DropWorkspace.fixtures() + "/example/expected-per_record.result.csv", encoding: .utf8)
        #expect(try workspace.result(provider: "P0001", stem: "P0001_20210105_0001") == expected)
        #expect(try connection.query("SELECT count(*) FROM runs WHERE delivered_at IS NULL")[0, 0].int() == 0)
    }

    /// Result, control, error and archived files are 0640 and the folders the run makes 0750, whatever the umask.
    @Test(arguments: ["000", "077"])
    func modesDoNotDependOnTheUmask(umask: String) throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        try workspace.drop("BAD_NAME.csv.zst", csv: "record_id,mykey_id,kind,amount_yen,occurred_at\n")
        let settled = try Binary.run(
            ["settle"] + deployment.folderArguments, database: deployment.database,
            launcher: ["/bin/sh", "-c", "umask \(umask); exec \"$0\" \"$@\""])
        #expect(settled.status == 3, "\(settled.stderr)")
        let files = [
            workspace.outbox + "/P0001/P0001_20210105_0001.result.csv.zst",
            workspace.outbox + "/P0001/P0001_20210105_0001.result.ctl",
            workspace.archive + "/P0001/P0001_20210105_0001.csv.zst",
            workspace.archive + "/P0001/P0001_20210105_0001.ctl",
            workspace.quarantine + "/BAD_NAME.error.json", workspace.quarantine + "/BAD_NAME.csv.zst",
        ]
        for path in files { #expect(Self.lstatMode(path).map { $0 & 0o7777 } == 0o640, "\(path)") }
        for path in [workspace.outbox + "/P0001", workspace.archive + "/P0001"] {
            #expect(Self.lstatMode(path).map { $0 & 0o7777 } == 0o750, "\(path)")
        }
    }

    /// Only a run that commits records the campaign: other parameters on an empty inbox leave nothing behind.
    @Test func anInvocationThatSettlesNothingFixesNoCampaign() throws {
        let deployment = try Deployment(example: true)
        let example = deployment.workspace.root + "/example"
        try FileManager.default.moveItem(atPath: deployment.workspace.inbox, toPath: example)
        try FileManager.default.createDirectory(atPath: deployment.workspace.inbox, withIntermediateDirectories: false)
        let empty = try deployment.settle(["--cap-points", "1"])
        #expect(empty.status == 0, "\(empty.stderr)")
        try FileManager.default.removeItem(atPath: deployment.workspace.inbox)
        try FileManager.default.moveItem(atPath: example, toPath: deployment.workspace.inbox)
        let settled = try deployment.settle()
        #expect(settled.status == 0, "\(settled.stderr)")
        #expect(settled.stdout.contains("points 7833"))
        let other = try deployment.settle(["--cap-points", "1"])
        #expect(other.status == 1)
        #expect(other.stderr.contains("differ from those recorded"))
    }

    /// Control files are strict: `1.0`, an exponent or a key given twice is `BAD_CONTROL`.
    @Test(arguments: [
        "{\"format\": \"mynapoint-records/1\", \"file\": \"F\", \"sha256\": \"S\", \"records\": 1.0, \"amount_total\": 1000}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"F\", \"sha256\": \"S\", \"records\": 1e0, \"amount_total\": 1000}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"F\", \"sha256\": \"S\", \"records\": 1, \"records\": 1, \"amount_total\": 1000}",
        "{\"format\": \"mynapoint-records/1\", \"file\": \"F\", \"sha256\": \"S\", \"records\": 1, \"amount_total\": 1000, \"note\": 1}",
    ])
    func controlFilesAreStrict(template: String) throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        let csv = "record_id,mykey_id,kind,amount_yen,occurred_at\nC1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00\n"
        let bytes = try Zstd.compress(Array(csv.utf8))
        let control = template.replacingOccurrences(of: "\"F\"", with: "\"P0002_20210105_0001.csv.zst\"")
            .replacingOccurrences(of: "\"S\"", with: "\"\(SHA256.hash(bytes).hexString)\"")
        try workspace.drop("P0002_20210105_0001.csv.zst", bytes: bytes, csv: csv, controlFile: control)
        let settled = try deployment.settle()
        #expect(settled.status == 3, "\(settled.stderr)")
        #expect(try Self.reason(workspace, "P0002_20210105_0001")["code"] as? String == "BAD_CONTROL")
    }

    /// `max_run_records` splits the drop into several atomic runs.
    ///
    /// Each holder ends with the points and amounts one
    /// run gives (which record carries a capped remainder depends on the runs, by the order rule), every record is
    /// settled once, and every file is delivered.
    @Test func manyRunsEndWhereOneRunEnds() throws {
        let one = try Deployment(generated: 3000, faults: false)
        let many = try Deployment(generated: 3000, faults: false)
        #expect(try one.settle().status == 0)
        let summaryPath = many.workspace.root + "/summary.json"
        let split = try many.settle(["--max-run-records", "1", "--summary-json", summaryPath])
        #expect(split.status == 0, "\(split.stderr)")
        let summary = try Self.summary(summaryPath)
        #expect((summary["runs"] as! [[String: Any]]).count == 6)
        #expect(summary["records"] as? Int == 3000)
        for sql in [
            "SELECT holder_key, points, eligible_amount, records FROM ledger ORDER BY 1",
            "SELECT provider_key, record_id, holder_key, amount, reason IN (0, 12, 13) FROM grants ORDER BY 1, 2",
            "SELECT name, outcome, records, granted_records FROM files ORDER BY 1",
        ] {
            #expect(try rows(sql, many) == rows(sql, one), "\(sql)")
        }
        #expect(many.workspace.snapshot().keys.sorted() == one.workspace.snapshot().keys.sorted())

        let once = try Deployment(generated: 3000, faults: false)
        let first = try once.settle(["--max-run-records", "1", "--once", "--summary-json", summaryPath])
        #expect(first.status == 0)
        #expect((try Self.summary(summaryPath)["deferred"] as! [String]).count == 5)
    }

    /// Quarantine on another file system than the inbox: a link is made again there (never followed), a hard link's
    /// inbox name is removed unread, a plain file is copied — and the next run has nothing left to decide.
    @Test(.enabled(if: FileManager.default.isWritableFile(atPath: "/dev/shm")))
    func quarantineOnAnotherFileSystem() throws {
        let deployment = try Deployment(example: true)
        let workspace = deployment.workspace
        let elsewhere = "/dev/shm/mynapoint-quarantine-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let outside = workspace.root + "/outside.csv.zst"
        try Data("outside".utf8).write(to: URL(fileURLWithPath: outside))
        try FileManager.default.createSymbolicLink(
            atPath: workspace.inbox + "/P0002_20210105_0001.csv.zst", withDestinationPath: outside)
        try "{}".write(toFile: workspace.inbox + "/P0002_20210105_0001.ctl", atomically: true, encoding: .utf8)
        try FileManager.default.linkItem(atPath: outside, toPath: workspace.inbox + "/P0002_20210105_0002.csv.zst")
        try "{}".write(toFile: workspace.inbox + "/P0002_20210105_0002.ctl", atomically: true, encoding: .utf8)
        try workspace.drop("BADNAME.csv.zst", csv: "record_id,mykey_id,kind,amount_yen,occurred_at\n")
        let arguments = [
            "settle", "--inbox", workspace.inbox, "--outbox", workspace.outbox, "--archive", workspace.archive,
            "--quarantine", elsewhere,
        ]
        let settled = try Binary.run(arguments, database: deployment.database)
        #expect(settled.status == 3, "\(settled.stderr)")
        #expect(Self.lstatMode(elsewhere + "/P0002_20210105_0001.csv.zst").map { $0 & S_IFMT } == S_IFLNK)
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/P0002_20210105_0002.csv.zst"))
        #expect(FileManager.default.fileExists(atPath: elsewhere + "/P0002_20210105_0002.error.json"))
        #expect(FileManager.default.fileExists(atPath: elsewhere + "/BADNAME.csv.zst"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: outside)) == Data("outside".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).isEmpty)
        let again = try Binary.run(arguments, database: deployment.database)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("nothing to settle"))
    }

    /// An operator-side problem stops the run with exit 1 before anything is committed.
    @Test func anUnreadableInboxStopsTheRun() throws {
        let deployment = try Deployment(example: true)
        let missing = deployment.workspace.root + "/no-such-inbox"
        let failed = try Binary.run(
            [
                "settle", "--inbox", missing, "--outbox", deployment.workspace.outbox, "--archive",
                deployment.workspace.archive, "--quarantine", deployment.workspace.quarantine,
            ], database: deployment.database)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("nothing was committed") && failed.stderr.contains(missing))
        let connection = try deployment.database.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT count(*) FROM runs")[0, 0].int() == 0)
        #expect(try connection.query("SELECT count(*) FROM campaign")[0, 0].int() == 0)
    }

    private func rows(_ sql: String, _ deployment: Deployment) throws -> [String] {
        let connection = try deployment.database.connect()
        defer { connection.close() }
        return try connection.query(sql).map { row in
            (0..<row.columnCount).map { row[$0].optionalString() ?? "NULL" }.joined(separator: "|")
        }
    }

    /// The bytes of a file whose name is given as bytes, or nil when there is none.
    private func read(_ name: [UInt8], in folder: String) -> [UInt8]? {
        let path = (Array(folder.utf8) + [0x2F] + name + [0]).map { CChar(bitPattern: $0) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return bytes }
            bytes += buffer[..<n]
        }
    }

    /// Creates a file whose name is given as bytes (not necessarily UTF-8).
    private func write(_ name: [UInt8], in folder: String, _ bytes: [UInt8]) throws {
        let path = (Array(folder.utf8) + [0x2F] + name + [0]).map { CChar(bitPattern: $0) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
