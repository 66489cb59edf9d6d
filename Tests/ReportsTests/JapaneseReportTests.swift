import Foundation
import Ledger
import Localization
import Settlement
import TestSupport
import Testing

@testable import Reports

/// What a finance officer reads in Japanese: units on amounts and points, Japanese dates, the same figures; and in
/// English exactly what the reports printed before.
@Suite struct JapaneseReportTests {
    @Test func figuresAndDatesInJapanese() {
        #expect(FinanceFormat.yen(12_345, .ja) == "12,345円")
        #expect(FinanceFormat.points(1_250, .ja) == "1,250ポイント")
        #expect(FinanceFormat.yen(12_345, .en) == "12,345")
        #expect(FinanceFormat.points(1_250, .en) == "1,250")
        #expect(FinanceFormat.date("2021-03-31", .ja) == "2021年3月31日")
        #expect(FinanceFormat.date("2021-03-31", .en) == "2021-03-31")
        #expect(FinanceFormat.month("2021-03", .ja) == "2021年3月")
        #expect(FinanceFormat.time("2021-03-31T09:05:00+09:00", .ja) == "2021年3月31日 09:05:00")
        #expect(FinanceFormat.time("2021-03-31T09:05:00+09:00", .en) == "2021-03-31T09:05:00+09:00")
        #expect(FinanceFormat.width("合計 12") == 7)
    }

    @Test func theHTMLPageInJapaneseAndInEnglish() throws {
        let fixture = try OperationsFixture()
        _ = try fixture.twoMonths()
        let report = try ReconciliationReport.compute(ledger: fixture.ledger, from: nil, to: nil)
        let english = ReportHTML.render(report)
        #expect(english == ReportHTML.render(report, language: .en))
        #expect(english.contains("<html lang=\"en\">"))
        let japanese = ReportHTML.render(report, language: .ja)
        #expect(japanese.contains("<html lang=\"ja\">"))
        #expect(japanese.contains("照合チェック"))
        #expect(japanese.contains(">" + FinanceFormat.points(report.totals.points, .ja) + "<"))
        #expect(japanese.contains(">" + FinanceFormat.yen(report.eligibleAmountTotal, .ja) + "<"))
        for month in report.monthList { #expect(japanese.contains(">\(FinanceFormat.month(month, .ja))<")) }
        for provider in report.providers { #expect(japanese.contains(">\(provider.providerID)<")) }
        for heading in ["Per provider", "Per month", "Reconciliation checks", "Quarantined files", "✔ pass"] {
            #expect(!japanese.contains(heading))
        }
        // The same sections, charts and tags as the English page.
        #expect(japanese.components(separatedBy: "<svg").count == english.components(separatedBy: "<svg").count)
        #expect(japanese.components(separatedBy: "<tr").count == english.components(separatedBy: "<tr").count)
        try HTMLTests().expectBalancedTags(japanese)
    }

    @Test func theTextReportInJapanese() throws {
        let fixture = try OperationsFixture()
        _ = try fixture.twoMonths()
        let report = try ReconciliationReport.compute(ledger: fixture.ledger, from: "2000-01-01", to: nil)
        let japanese = ReportText.render(report, language: .ja)
        #expect(japanese.hasPrefix("マイナポイント精算：経理向け照合レポート\n2000年1月1日以降に確定した実行（日本時間）"))
        #expect(japanese.contains(FinanceFormat.points(report.totals.points, .ja)))
        #expect(japanese.contains("合計"))
        #expect(japanese.contains("\n却下\n理由"))
        for code in report.rejectionTotals.keys { #expect(japanese.contains(code)) }
        let english = ReportText.render(report, language: .en)
        #expect(english.contains("runs committed from 2000-01-01 (JST)"))
        #expect(english.contains(NumberFormatting.grouped(report.totals.points)))
    }

    @Test func theStatementsHeaderIsAnOption() throws {
        let fixture = try OperationsFixture()
        _ = try fixture.twoMonths()
        let statement = try ProviderStatement.compute(ledger: fixture.ledger, month: nil)
        let machine = statement.csv
        #expect(machine == statement.csv(header: .machine))
        #expect(machine.hasPrefix(ProviderStatement.columnKeys.joined(separator: ",") + "\r\n"))
        let japanese = statement.csv(header: .ja)
        #expect(
            japanese.hasPrefix(
                "月,事業者ID,事業者名,実行数,ファイル数,レコード数,付与件数,対象決済額（円）,請求ポイント,累計ポイント\r\n"))
        let rows = { (csv: String) in csv.components(separatedBy: "\r\n").dropFirst() }
        #expect(rows(japanese).count == rows(machine).count)
        #expect(japanese.contains(",合計,全事業者,"))
        #expect(!japanese.contains("TOTAL"))
        // Provider lines and every figure are those of the machine CSV.
        for (j, m) in zip(rows(japanese), rows(machine)) where !m.contains(",TOTAL,") { #expect(j == m) }
        #expect(statement.csv(header: .en).hasPrefix("Month,Provider ID,Provider name,"))
    }

    @Test func runHistoryInJapaneseLinesUp() throws {
        let fixture = try OperationsFixture()
        let (first, _) = try fixture.twoMonths()
        let runs = try RunHistory.list(ledger: fixture.ledger)
        #expect(RunHistory.listText(runs) == RunHistory.listText(runs, language: .en))
        let list = RunHistory.listText(runs, language: .ja)
        #expect(list.hasPrefix("実行"))
        #expect(list.contains("ポイント"))
        // Columns line up on a terminal, where kanji and kana take two columns: the last column (who started the
        // run, left-aligned and not padded) starts at the same place on every line.
        let lines = list.split(separator: "\n").map(String.init)
        let lastCells = ["実行者"] + runs.map(\.startedBy)
        let starts = Set(zip(lines, lastCells).map { FinanceFormat.width($0) - FinanceFormat.width($1) })
        #expect(lines.count == runs.count + 1)
        #expect(starts.count == 1, "\(list)")
        let detail = try #require(try RunHistory.detail(ledger: fixture.ledger, run: first.runID!))
        let shown = RunHistory.detailText(detail, language: .ja)
        #expect(shown.hasPrefix("実行 \(first.runID!)\n"))
        #expect(shown.contains("CHECKSUM_MISMATCH"))
        #expect(shown.contains("確定日時："))
        #expect(!shown.contains("committed"))
    }
}
