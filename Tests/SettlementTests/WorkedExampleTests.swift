import Foundation
import Postgres
import Rules
import TestSupport
import Testing

@testable import Ledger
@testable import Settlement

@Suite struct WorkedExampleTests {
    @Test(arguments: Rounding.allCases)
    func settlesTheSpecExampleExactly(rounding: Rounding) throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        fixture.campaign.rounding = rounding
        try fixture.workspace.copyIntoInbox(from: DropWorkspace.fixtures() + "/example/inbox")
        let summary = try fixture.settle()
        #expect(summary.exitCode == 0)
        #expect(summary.settledFiles == 1)
        #expect(summary.records == 20)

        let expected = try String(
            contentsOfFile: DropWorkspace.fixtures() + "/example/expected-\(rounding.rawValue).result.csv",
            encoding: .utf8)
        let result = try #require(try fixture.workspace.result(provider: "P0001", stem: "P0001_20210105_0001"))
        #expect(result == expected)

        #expect(try fixture.points("AAAA0001") == 5000)
        #expect(try fixture.points("AAAA0006") == 833)
        #expect(try fixture.points("AAAA0007") == 500)
        #expect(try fixture.points("AAAA0009") == (rounding == .perRecord ? 1500 : 1501))
        #expect(try fixture.points("OLDID009") == (rounding == .perRecord ? 1500 : 1501))

        // Inputs archived, inbox empty, control file of the result consistent.
        let archived = try FileManager.default.contentsOfDirectory(atPath: fixture.workspace.archive + "/P0001")
            .sorted()
        #expect(archived == ["P0001_20210105_0001.csv.zst", "P0001_20210105_0001.ctl"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.workspace.inbox).isEmpty)
        let control = try String(
            contentsOfFile: fixture.workspace.outbox + "/P0001/P0001_20210105_0001.result.ctl", encoding: .utf8)
        let points =
            rounding == .perRecord ? 2500 + 2500 + 833 + 500 + 500 + 1000 : 2500 + 2500 + 833 + 500 + 500 + 1001
        #expect(control.contains("\"records\": 20, \"granted_records\": 8, \"points_total\": \(points)"))
        #expect(try fixture.count("SELECT count(*) FROM grants") == 17)
        #expect(try fixture.count("SELECT sum(points) FROM ledger") == Int64(points))
    }

    @Test func theMisplacedIndividualNumberIsStoredNowhere() throws {
        let fixture = try SettlementFixture(registry: SettlementFixture.exampleRegistry)
        try fixture.workspace.copyIntoInbox(from: DropWorkspace.fixtures() + "/example/inbox")
        let summary = try fixture.settle()
        let result = try #require(try fixture.workspace.result(provider: "P0001", stem: "P0001_20210105_0001"))
        #expect(!result.contains("123456789012"))
        #expect(result.contains("T017,,REJECTED,0,MALFORMED"))
        let encoded = try JSONEncoder().encode(summary)
        #expect(!String(decoding: encoded, as: UTF8.self).contains("123456789012"))
        // Every text and JSON column of every table.
        let columns = try fixture.ledger.connection.query(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'jsonb', 'character varying')
            """)
        for row in 0..<columns.rowCount {
            let table = try columns[row, 0].string()
            let column = try columns[row, 1].string()
            let hits = try fixture.count("SELECT count(*) FROM \(table) WHERE \(column)::text LIKE '%123456789012%'")
            #expect(hits == 0, "\(table).\(column)")
        }
    }
}
