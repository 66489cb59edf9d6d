import Foundation
import Generator
import Ledger
import Rules
import TestSupport
import Testing
import Zstd

@testable import Settlement

#if canImport(Glibc)
import Glibc
#endif

/// `check` against `settle`: the same files, the same verdicts, the same line reasons wherever `check` can know them.
@Suite(.serialized) struct PreflightTests {
    /// A generated drop with its faults, plus a hand-made file for every code `check` can know and every line reason.
    static func varied(_ workspace: DropWorkspace) throws {
        var options = GeneratorOptions()
        options.seed = 11
        options.holders = 300
        options.records = 3000
        options.providers = 3
        options.filesPerProvider = 2
        options.faults = true
        _ = try DropGenerator.generate(registry: workspace.registry, inbox: workspace.inbox, options: options)
        try HandMade.all(in: workspace)
    }

    @Test func checkAndSettleAgreeOnEveryVerdictAndLineReason() throws {
        let fixture = try SettlementFixture()
        try Self.varied(fixture.workspace)
        try fixture.importRegistry(fixture.workspace.registry)
        let before = try InboxState(fixture.workspace.inbox)
        var options = Preflight.Options.english(campaign: fixture.campaign)
        options.maxProblems = .max
        options.workers = 2
        let report = try Preflight.check([fixture.workspace.inbox], options: options)
        #expect(try InboxState(fixture.workspace.inbox) == before, "check must not move or change a file")

        let summary = try fixture.settle()
        let checked = Dictionary(uniqueKeysWithValues: report.files.map { ($0.file, $0) })
        var compared = 0
        var codes: Set<String> = []
        for outcome in summary.files {
            let file = try #require(checked[outcome.file], "check did not report \(outcome.file)")
            switch outcome.outcome {
            case .quarantined where ["UNKNOWN_PROVIDER", "NAME_REUSED"].contains(outcome.code):
                continue  // needs the registry or the ledger
            case .quarantined:
                #expect(file.verdict == .quarantine, "\(outcome.file)")
                #expect(file.quarantine?.code.rawValue == outcome.code, "\(outcome.file)")
                #expect(file.quarantine?.line == outcome.line, "\(outcome.file)")
                #expect(file.message == outcome.message, "\(outcome.file)")
                codes.insert(outcome.code ?? "")
            default:
                #expect(file.verdict == .accept, "\(outcome.file)")
                #expect(file.records == outcome.records, "\(outcome.file)")
                try expectSameLineReasons(file, settled: outcome.file, workspace: fixture.workspace)
            }
            compared += 1
        }
        for name in summary.waiting { #expect(checked[name]?.verdict == .waiting, "\(name)") }
        #expect(Set(report.files.filter { $0.verdict == .waiting }.map(\.file)) == Set(summary.waiting))
        #expect(compared == report.files.count - summary.waiting.count - 1, "all but the unknown provider's file")
        let knowable = QuarantineCode.allCases.filter { ![.unknownProvider, .nameReused].contains($0) }
        #expect(codes == Set(knowable.map(\.rawValue)), "the corpus must meet every code check can know")
    }

    /// Every result row whose reason `check` can know is one of its problems, at the same row, and no other row is.
    func expectSameLineReasons(_ file: PreflightFile, settled name: String, workspace: DropWorkspace) throws {
        let stem = String(name.dropLast(".csv.zst".count))
        let provider = String(stem.prefix { $0 != "_" })
        let text = try #require(try workspace.result(provider: provider, stem: stem))
        let knowable: Set<String> = ["MALFORMED", "DUPLICATE", "OUT_OF_WINDOW"]
        var expected: [Int: String] = [:]
        for (index, row) in text.split(separator: "\n").dropFirst().enumerated() {
            let reason = String(row.split(separator: ",", omittingEmptySubsequences: false).last ?? "")
            if knowable.contains(reason) { expected[index + 1] = reason }
        }
        let found = Dictionary(uniqueKeysWithValues: file.problems.map { ($0.record, $0.reason.code) })
        #expect(found == expected, "\(name)")
        var counts: [String: Int] = [:]
        for reason in expected.values { counts[reason, default: 0] += 1 }
        #expect(Dictionary(uniqueKeysWithValues: file.reasons.map { ($0.key.code, $0.value) }) == counts, "\(name)")
    }

    @Test func linesNameTheFieldAndNeverEchoAValue() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let csv = records(
            "A1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00",
            "A2,123456789012,charge,1000,2020-10-01T10:00:00+09:00",
            "",
            "A3,aaaa0001,charge,1000,2020-10-01T10:00:00+09:00",
            "A 4,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00",
            "A5,AAAA0001,refund,1000,2020-10-01T10:00:00+09:00",
            "A6,AAAA0001,charge,1000,2020-10-01 10:00:00",
            "A7,AAAA0001,charge,1000",
            "A1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00",
            "A8,AAAA0001,charge,1000,2021-04-01T00:00:00+09:00")
        try workspace.drop("P0001_20210105_0001.csv.zst", csv: csv)
        let report = try Preflight.check(
            [workspace.inbox + "/P0001_20210105_0001.csv.zst"], options: .english(campaign: .mynapoint2020))
        let file = try #require(report.files.first)
        #expect(report.allAccepted && file.records == 9)
        let seen = file.problems.map { "\($0.line) \($0.record) \($0.reason.code) \($0.field ?? "-")" }
        #expect(
            seen == [
                "3 2 MALFORMED mykey_id", "5 3 MALFORMED mykey_id", "6 4 MALFORMED record_id", "7 5 MALFORMED kind",
                "8 6 MALFORMED occurred_at", "9 7 MALFORMED -", "10 8 DUPLICATE record_id",
                "11 9 OUT_OF_WINDOW occurred_at",
            ])
        #expect(file.problems[0].advice.contains("My Number"))
        #expect(!file.problems.contains { $0.advice.contains("123456789012") })
        #expect(file.reasons == [.malformed: 6, .duplicate: 1, .outOfWindow: 1])
    }

    @Test func filesNamedOneByOneAreOneRunForDuplicatesAndTheirOtherHalvesCome() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let line = "R1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"
        try workspace.drop("P0001_20210105_0002.csv.zst", csv: records(line))
        try workspace.drop("P0001_20210105_0001.csv.zst", csv: records(line))
        try workspace.drop("P0002_20210105_0001.csv.zst", csv: records(line))
        try Data("x".utf8).write(to: URL(fileURLWithPath: workspace.inbox + "/P0001_20210105_0003.csv.zst"))
        let inbox = workspace.inbox
        let report = try Preflight.check(
            [inbox + "/P0001_20210105_0002.ctl", inbox + "/P0001_20210105_0001.csv.zst", inbox + "/"],
            options: .init(campaign: .mynapoint2020))
        #expect(
            report.files.map(\.file) == [
                "P0001_20210105_0001.csv.zst", "P0001_20210105_0002.csv.zst", "P0001_20210105_0003.csv.zst",
                "P0002_20210105_0001.csv.zst",
            ])
        #expect(report.files.map { $0.reasons[.duplicate] ?? 0 } == [0, 1, 0, 0], "later name, same provider only")
        #expect(report.files[2].verdict == .waiting && !report.allAccepted)
        let alone = try Preflight.check(
            [inbox + "/P0001_20210105_0002.csv.zst"], options: .init(campaign: .mynapoint2020))
        #expect(alone.files.count == 1 && alone.files[0].reasons.isEmpty, "one file alone has no duplicate")
    }

    @Test(arguments: ["missing.csv.zst", "notes.txt", ".P0001_20210105_0001.csv.zst"])
    func unusablePathsAreRefused(_ name: String) throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        if name != "missing.csv.zst" { try Data().write(to: URL(fileURLWithPath: workspace.inbox + "/" + name)) }
        #expect(throws: SettlementError.self) {
            try Preflight.check([workspace.inbox + "/" + name], options: .init(campaign: .mynapoint2020))
        }
    }

    @Test func whatOnlyTheLedgerKnowsIsAccepted() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        let line = "R1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"
        try fixture.workspace.drop("P0001_20210105_0001.csv.zst", csv: records(line))
        try fixture.settle()
        try fixture.workspace.drop(
            "P0001_20210105_0001.csv.zst", csv: records("R2,AAAA0001,charge,5,2020-10-01T10:00:00+09:00"))
        try fixture.workspace.drop("P0001_20210105_0002.csv.zst", csv: records(line))
        let report = try Preflight.check([fixture.workspace.inbox], options: .init(campaign: fixture.campaign))
        #expect(report.allAccepted && report.files.allSatisfy { $0.reasons.isEmpty })
        let summary = try fixture.settle()
        #expect(summary.files.map { $0.code ?? $0.outcome.rawValue } == ["NAME_REUSED", "settled"])
        #expect(summary.rejections == ["DUPLICATE": 1], "duplicates of earlier runs need the ledger")
    }
}

/// Every inbox entry's kind, bytes and times, to tell that nothing was moved, changed or touched.
struct InboxState: Equatable {
    var entries: [String: String] = [:]

    init(_ folder: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            var s = stat()
            guard lstat(folder + "/" + name, &s) == 0 else { continue }
            let bytes =
                (s.st_mode & S_IFMT) == S_IFREG ? FileManager.default.contents(atPath: folder + "/" + name) : nil
            entries[name] =
                "\(s.st_mode) \(s.st_size) \(s.st_mtim.tv_sec).\(s.st_mtim.tv_nsec) \(s.st_ctim.tv_sec).\(s.st_ctim.tv_nsec) \(bytes?.hashValue ?? 0)"
        }
    }
}

/// Hand-made files, one per file-level code `check` can know, and lines with every reason it can know.
enum HandMade {
    static let good = "R1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"

    static func all(in workspace: DropWorkspace) throws {
        let inbox = workspace.inbox
        let compressed = try Zstd.compress(Array(records(good).utf8))
        try workspace.drop("P0001_20210230_0001.csv.zst", csv: records(good))  // BAD_NAME: no 30 February
        try workspace.drop("P0001_19991231_0001.csv.zst", csv: records(good))  // BAD_NAME: before 2000
        try workspace.drop("P0001_20210106_0001.csv.zst", csv: records(good))
        try FileManager.default.removeItem(atPath: inbox + "/P0001_20210106_0001.csv.zst")
        try FileManager.default.createSymbolicLink(
            atPath: inbox + "/P0001_20210106_0001.csv.zst", withDestinationPath: "/etc/passwd")  // NOT_A_FILE
        try workspace.drop("P0001_20210106_0002.csv.zst", csv: records(good))
        try FileManager.default.removeItem(atPath: inbox + "/P0001_20210106_0002.ctl")
        mkfifo(inbox + "/P0001_20210106_0002.ctl", 0o600)  // NOT_A_FILE, and check must not block on it
        try workspace.drop(
            "P0001_20210106_0003.csv.zst", csv: records(good),
            controlFile: """
                {"format": "mynapoint-records/1", "file": "P0001_20210106_0003.csv.zst", \
                "sha256": "\(String(repeating: "0", count: 64))", "records": 1.0, "amount_total": 1000}
                """)  // BAD_CONTROL: a fraction
        try workspace.drop(
            "P0001_20210106_0004.csv.zst", csv: records(good), sha256: String(repeating: "ab", count: 32))
        try workspace.drop("P0001_20210106_0005.csv.zst", bytes: Array(compressed.dropLast(3)), csv: records(good))
        let long = "R1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00," + String(repeating: "x", count: 4100)
        try workspace.drop("P0001_20210106_0006.csv.zst", csv: records(good, long))  // TOO_LARGE, line 3
        try workspace.drop("P0001_20210106_0007.csv.zst", csv: "record_id,mykey,kind,amount_yen,occurred_at\n" + good)
        try workspace.drop("P0001_20210106_0008.csv.zst", csv: records(good), records: 2)  // CONTROL_MISMATCH
        try workspace.drop(
            "P0001_20210106_0009.csv.zst", csv: records(good.replacingOccurrences(of: "1000", with: "01000")))
        try workspace.drop("P0001_20210106_0010.csv.zst", csv: records(good), amountTotal: 999)
        try Data(compressed).write(to: URL(fileURLWithPath: inbox + "/P0001_20210106_0011.csv.zst"))  // waiting
        try Data("{}".utf8).write(to: URL(fileURLWithPath: inbox + "/P0001_20210106_0012.ctl"))  // waiting
        try lineReasons(workspace)
    }

    /// Two files of one provider whose lines meet `MALFORMED` in each field, `DUPLICATE` within and across files,
    /// and `OUT_OF_WINDOW` at both edges.
    static func lineReasons(_ workspace: DropWorkspace) throws {
        try workspace.drop(
            "P0002_20210107_0001.csv.zst",
            csv: "\u{FEFF}record_id,mykey_id,kind,amount_yen,occurred_at\r\n"
                + [
                    "L1,AAAA0001,charge,1000,2020-08-31T23:59:59+09:00",
                    "L2,AAAA0001,charge,1000,2020-09-01T00:00:00+09:00",
                    "\"L3\",\"AAAA0001\",purchase,\"2000\",2021-03-31T14:59:59Z",
                    "L4,AAAA0001,charge,1000,2021-03-31T15:00:00Z",
                    "", "L5,123456789012,charge,1000,2020-10-01T10:00:00+09:00", "L6,AAAA0001,charge,1000",
                    "L 7,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00",
                    "L2,AAAA0001,charge,5,2020-10-01T10:00:00+09:00",
                    "L8,AAAA0001,charge,1000,2020-02-30T10:00:00+09:00",
                    "L9,AAAA0001,gift,1000,2020-10-01T10:00:00+09:00",
                    "L6,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00",
                ].joined(separator: "\r\n") + "\r\n")
        try workspace.drop(
            "P0002_20210107_0002.csv.zst",
            csv: records(
                "L1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00",
                "L10,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00",
                "L10,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"))
    }
}
