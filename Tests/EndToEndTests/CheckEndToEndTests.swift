import Foundation
import TestSupport
import Testing
import Zstd

/// The built binary: `check --format json` says of a generated drop with faults what `settle` then does with it.
@Suite(.serialized) struct CheckEndToEndTests {
    struct CheckOutput: Decodable {
        struct File: Decodable {
            var file: String
            var verdict: String
            var code: String?
            var line: Int?
            var records: Int
            var reasons: [String: Int]
        }
        var files: [File]
    }

    struct Summary: Decodable {
        struct File: Decodable {
            var file: String
            var outcome: String
            var records: Int
            var code: String?
            var line: Int?
        }
        var files: [File]
        var waiting: [String]
    }

    /// Adds what the generator's faults leave out: a link, an overlong line, a file waiting for its control file.
    static func addFaults(to workspace: DropWorkspace) throws {
        let inbox = workspace.inbox
        try workspace.drop("P0001_20210106_0001.csv.zst", csv: "record_id,mykey_id,kind,amount_yen,occurred_at\n")
        try FileManager.default.removeItem(atPath: inbox + "/P0001_20210106_0001.csv.zst")
        try FileManager.default.createSymbolicLink(
            atPath: inbox + "/P0001_20210106_0001.csv.zst", withDestinationPath: inbox + "/P0001_20210105_0001.csv.zst")
        try workspace.drop(
            "P0002_20210106_0001.csv.zst",
            csv: "record_id,mykey_id,kind,amount_yen,occurred_at\n" + String(repeating: "y", count: 5000) + "\n")
        let data = try Zstd.compress(Array("record_id,mykey_id,kind,amount_yen,occurred_at\n".utf8))
        try Data(data).write(to: URL(fileURLWithPath: inbox + "/P0003_20210106_0001.csv.zst"))
    }

    @Test func checkJSONAgreesWithSettle() throws {
        let deployment = try Deployment(generated: 3000, faults: true)
        try Self.addFaults(to: deployment.workspace)
        let inbox = deployment.workspace.inbox
        let checked = try Binary.run(
            ["check", "--format", "json", "--max-problems", "0", inbox], database: nil)
        #expect(checked.status == 3, "\(checked.stderr)")
        let report = try JSONDecoder().decode(CheckOutput.self, from: Data(checked.stdout.utf8))
        #expect(checked.stdout.contains("\"code\" : null"), "null keys are written, not left out")

        let summaryPath = deployment.workspace.root + "/summary.json"
        let settled = try deployment.settle(["--summary-json", summaryPath])
        #expect(settled.status == 3, "\(settled.stderr)")
        let summary = try JSONDecoder().decode(Summary.self, from: Data(contentsOf: URL(fileURLWithPath: summaryPath)))
        let byName = Dictionary(uniqueKeysWithValues: report.files.map { ($0.file, $0) })
        var codes: Set<String> = []
        for outcome in summary.files where outcome.code != "UNKNOWN_PROVIDER" {
            let file = try #require(byName[outcome.file])
            if outcome.outcome == "quarantined" {
                #expect(file.verdict == "quarantine" && file.code == outcome.code && file.line == outcome.line)
                codes.insert(outcome.code ?? "")
            } else {
                #expect(file.verdict == "accept" && file.code == nil && file.records == outcome.records)
                #expect(file.reasons == (try Self.knowableReasons(outcome.file, in: deployment.workspace)))
            }
        }
        #expect(report.files.filter { $0.verdict == "waiting" }.map(\.file) == summary.waiting)
        #expect(
            codes.isSuperset(of: [
                "BAD_NAME", "NOT_A_FILE", "BAD_CONTROL", "CHECKSUM_MISMATCH", "BAD_COMPRESSION", "TOO_LARGE",
                "BAD_HEADER", "CONTROL_MISMATCH",
            ]))
    }

    /// The reasons `check` can know, counted from a result file.
    static func knowableReasons(_ name: String, in workspace: DropWorkspace) throws -> [String: Int] {
        let stem = String(name.dropLast(".csv.zst".count))
        let text = try #require(try workspace.result(provider: String(stem.prefix { $0 != "_" }), stem: stem))
        var counts: [String: Int] = [:]
        for row in text.split(separator: "\n").dropFirst() {
            let reason = String(row.split(separator: ",", omittingEmptySubsequences: false).last ?? "")
            if ["MALFORMED", "DUPLICATE", "OUT_OF_WINDOW"].contains(reason) { counts[reason, default: 0] += 1 }
        }
        return counts
    }

    @Test func exitCodes() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let empty = try Binary.run(
            ["check", workspace.inbox], database: nil, environment: try Binary.providerLanguage("en"))
        #expect(empty.status == 0 && empty.stdout.contains("0 file(s)"))
        try workspace.drop(
            "P0001_20210105_0001.csv.zst",
            csv: "record_id,mykey_id,kind,amount_yen,occurred_at\nR1,AAAA0001,charge,100,2020-10-01T10:00:00+09:00\n")
        #expect(try Binary.run(["check", workspace.inbox + "/P0001_20210105_0001.ctl"], database: nil).status == 0)
        let outside = try Binary.run(
            ["check", "--window-end", "2020-10-01T10:00:00+09:00", workspace.inbox, "--format", "json"], database: nil)
        #expect(outside.status == 0 && outside.stdout.contains("\"OUT_OF_WINDOW\" : 1"), "rejected lines still settle")
        let unusable = try Binary.run(["check", workspace.inbox + "/123456789012.csv"], database: nil)
        #expect(unusable.status == 64 && !unusable.stderr.contains("123456789012"), "\(unusable.stderr)")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: workspace.inbox + "/P0001_20210105_0002.ctl"))
        #expect(try Binary.run(["check", workspace.inbox], database: nil).status == 3, "a waiting file")
    }
}
