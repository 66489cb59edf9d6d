import DropFormat
import Foundation
import Rules
import TestSupport
import Testing
import Zstd

@testable import Settlement

/// `pack`: a correct pair from a plain CSV, checked before it appears, and nothing at all when check refuses it.
@Suite struct PackTests {
    static func writeCSV(_ text: String, in workspace: DropWorkspace) throws -> String {
        let path = workspace.root + "/records.csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func packedPairPassesCheckAndSettlesCleanly() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        // BOM, CRLF, an empty line, quotes, a malformed line (four fields: counted, adds nothing).
        let csv =
            "\u{FEFF}record_id,mykey_id,kind,amount_yen,occurred_at\r\n"
            + "K1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00\r\n\r\n"
            + "\"K2\",AAAA0001,purchase,\"2500\",2020-10-02T10:00:00+09:00\r\n"
            + "K3,AAAA0001,charge,700\r\n"
        let name = Pack.name(provider: "P0001", date: "20210105", sequence: 7)
        #expect(name == "P0001_20210105_0007.csv.zst")
        let outcome = try Pack.make(
            csv: try Self.writeCSV(csv, in: fixture.workspace), name: name, folder: fixture.workspace.inbox,
            options: .init(campaign: fixture.campaign))
        guard case .packed(let control, let verdict) = outcome else {
            Issue.record("refused: \(outcome)")
            return
        }
        #expect(control.records == 3 && control.amountTotal == 3500)
        #expect(verdict.verdict == .accept && verdict.reasons == [.malformed: 1])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: fixture.workspace.inbox).sorted() == [
                "P0001_20210105_0007.csv.zst", "P0001_20210105_0007.ctl",
            ], "both files under their final names, no staging folder left")
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.workspace.inbox + "/" + name))
        #expect(String(decoding: try Zstd.decompress(Array(data)), as: UTF8.self) == csv)
        #expect(Array(data)[4] & 0x04 != 0, "the frame carries a content checksum")
        let ctl = try String(contentsOfFile: fixture.workspace.inbox + "/P0001_20210105_0007.ctl", encoding: .utf8)
        guard case .success(let parsed) = ControlFile.parse(Array(ctl.utf8)) else {
            Issue.record("control file does not parse: \(ctl)")
            return
        }
        #expect(parsed == control)

        let summary = try fixture.settle()
        #expect(summary.settledFiles == 1 && summary.quarantinedFiles == 0)
        #expect(summary.records == 3 && summary.grantedRecords == 2 && summary.rejections == ["MALFORMED": 1])
    }

    /// A CSV that check refuses with `code`.
    static func refused(_ code: String) -> String {
        switch code {
        case "BAD_HEADER": "record_id,mykey_id,kind,amount_yen\nK1,AAAA0001,charge,1000\n"
        case "CONTROL_MISMATCH": records("K1,AAAA0001,charge,1.5,2020-10-01T10:00:00+09:00")
        default: records(String(repeating: "x", count: 5000))
        }
    }

    @Test(arguments: ["BAD_HEADER", "CONTROL_MISMATCH", "TOO_LARGE"])
    func whatCheckRefusesIsNeverWritten(code: String) throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let csv = Self.refused(code)
        let outcome = try Pack.make(
            csv: try Self.writeCSV(csv, in: workspace), name: "P0001_20210105_0001.csv.zst", folder: workspace.inbox,
            options: .init(campaign: .mynapoint2020))
        guard case .refused(let verdict) = outcome else {
            Issue.record("packed what check refuses")
            return
        }
        #expect(verdict.quarantine?.code.rawValue == code)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).isEmpty)
    }

    @Test(arguments: [("p0001", 1), ("P0001", 10000), ("../P0001", 1), ("P0001", -1)])
    func badNamesAreRefusedBeforeAnythingIsWritten(provider: String, sequence: Int) throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        let name = Pack.name(provider: provider, date: "20210105", sequence: sequence)
        let outcome = try Pack.make(
            csv: try Self.writeCSV(records("K1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"), in: workspace),
            name: name, folder: workspace.inbox, options: .init(campaign: .mynapoint2020))
        guard case .refused(let verdict) = outcome else {
            Issue.record("packed a bad name")
            return
        }
        #expect(verdict.quarantine?.code == .badName)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).isEmpty)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: workspace.root).sorted() == [
                "archive", "inbox", "outbox", "quarantine", "records.csv", "registry",
            ])
    }

    @Test func anExistingFileIsNeverReplaced() throws {
        let workspace = try DropWorkspace()
        defer { workspace.remove() }
        try Data("earlier".utf8).write(to: URL(fileURLWithPath: workspace.inbox + "/P0001_20210105_0001.ctl"))
        #expect(throws: SettlementError.self) {
            try Pack.make(
                csv: try Self.writeCSV(records("K1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00"), in: workspace),
                name: "P0001_20210105_0001.csv.zst", folder: workspace.inbox, options: .init(campaign: .mynapoint2020))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox) == ["P0001_20210105_0001.ctl"])
    }
}
