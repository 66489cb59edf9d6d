import Foundation
import Ledger
import Postgres
import Rules
import Settlement
import TestSupport
import Testing

@testable import Reports

@Suite struct ReconciliationReportTests {
    /// The report's figures, per provider and in total, equal a recount of the result files on disk.
    @Test func jsonAndCSVEqualARecountOfTheResultFiles() throws {
        let fixture = try OperationsFixture()
        let (first, second) = try fixture.twoMonths()
        #expect(first.quarantinedFiles > 0)
        #expect(second.settledFiles == 6)
        let recount = try OutboxCount.count(fixture.workspace)
        #expect(recount.providers.count == 3)

        let report = try ReconciliationReport.compute(ledger: fixture.ledger, from: nil, to: nil)
        // The JSON is exactly the §10 shape.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as! [String: Any]
        #expect(Set(json.keys) == ["providers", "totals", "holders_at_cap", "checks"])
        let totals = json["totals"] as! [String: Int]
        #expect(Set(totals.keys) == ["files", "quarantined_files", "records", "granted_records", "points"])
        let providers = json["providers"] as! [[String: Any]]
        #expect(providers.map { $0["provider_id"] as! String } == recount.providers.keys.sorted())
        for provider in providers {
            let id = provider["provider_id"] as! String
            let expected = recount.providers[id]!
            #expect(provider["files"] as? Int == expected.files, "\(id) files")
            #expect(provider["records"] as? Int == expected.records, "\(id) records")
            #expect(provider["granted_records"] as? Int == expected.granted, "\(id) granted")
            #expect(provider["points"] as? Int == expected.points, "\(id) points")
            #expect(provider["eligible_amount"] as? Int == expected.eligibleAmount, "\(id) eligible amount")
            #expect(provider["rejections"] as? [String: Int] == expected.rejections, "\(id) rejections")
        }
        let all = recount.providers.values
        #expect(totals["files"] == all.reduce(0) { $0 + $1.files })
        #expect(totals["records"] == all.reduce(0) { $0 + $1.records })
        #expect(totals["granted_records"] == all.reduce(0) { $0 + $1.granted })
        #expect(totals["points"] == all.reduce(0) { $0 + $1.points })
        #expect(totals["quarantined_files"] == first.quarantinedFiles + second.quarantinedFiles)
        let checks = json["checks"] as! [[String: Any]]
        #expect(checks.map { $0["name"] as! String } == ["conservation", "points", "cap"])
        #expect(checks.allSatisfy { $0["ok"] as? Bool == true })
        #expect(report.holdersAtCap == (try fixture.int("SELECT count(*) FROM ledger WHERE points = 5000")))
        #expect(report.holdersAtCap > 0)

        // The CSV carries the same figures.
        let blocks = csvBlocks(report.csv)
        #expect(blocks.count == 4)
        let header = blocks[0][0]
        #expect(
            Array(header.prefix(6)) == [
                "provider_id", "files", "records", "granted_records", "points", "eligible_amount",
            ])
        for row in blocks[0].dropFirst() {
            #expect(row.count == header.count)
            var column: [String: String] = [:]
            for (key, value) in zip(header, row) { column[key] = value }
            if row[0] == "TOTAL" {
                #expect(Int(column["points"]!) == all.reduce(0) { $0 + $1.points })
                #expect(Int(column["eligible_amount"]!) == all.reduce(0) { $0 + $1.eligibleAmount })
                continue
            }
            let expected = recount.providers[row[0]]!
            #expect(Int(column["files"]!) == expected.files)
            #expect(Int(column["records"]!) == expected.records)
            #expect(Int(column["granted_records"]!) == expected.granted)
            #expect(Int(column["points"]!) == expected.points)
            #expect(Int(column["eligible_amount"]!) == expected.eligibleAmount)
            for code in ReconciliationReport.rejectionCodes {
                #expect(Int(column["rejected_\(code)"]!) == expected.rejections[code] ?? 0, "\(row[0]) \(code)")
            }
        }
        #expect(blocks[0].last?.first == "TOTAL")
        // The month block: two months, summing to the totals.
        let months = blocks[2]
        #expect(
            months[0] == [
                "month", "provider_id", "runs", "files", "records", "granted_records", "points", "eligible_amount",
            ])
        #expect(Set(months.dropFirst().map { $0[0] }).count == 2)
        #expect(months.dropFirst().reduce(0) { $0 + Int($1[6])! } == all.reduce(0) { $0 + $1.points })
        #expect(blocks[3].dropFirst().map { $0[0] } == ["conservation", "points", "cap"])
        #expect(blocks[3].dropFirst().allSatisfy { $0[1] == "true" })
    }

    /// A period selects runs by their commit date in JST.
    @Test func periodSelectsRunsByCommitDate() throws {
        let fixture = try OperationsFixture(records: 1200, faults: false)
        let (first, second) = try fixture.twoMonths()
        let firstDay = try fixture.text(
            "SELECT (committed_at AT TIME ZONE 'Asia/Tokyo')::date::text FROM runs WHERE run_id = $1",
            [.int(first.runID!)])
        let secondDay = try fixture.text(
            "SELECT (committed_at AT TIME ZONE 'Asia/Tokyo')::date::text FROM runs WHERE run_id = $1",
            [.int(second.runID!)])
        let onlyFirst = try ReconciliationReport.compute(ledger: fixture.ledger, from: firstDay, to: firstDay)
        #expect(onlyFirst.totals.points == first.points)
        #expect(onlyFirst.totals.records == first.records)
        let onlySecond = try ReconciliationReport.compute(ledger: fixture.ledger, from: secondDay, to: nil)
        #expect(onlySecond.totals.points == second.points)
        #expect(onlySecond.totals.files == second.settledFiles)
        let none = try ReconciliationReport.compute(ledger: fixture.ledger, from: "2000-01-01", to: "2000-01-31")
        #expect(none.providers.isEmpty)
        #expect(none.totals.points == 0)
        // Checks always cover the whole database.
        #expect(none.allChecksPass)
    }

    @Test func aBrokenLedgerFailsThePointsCheck() throws {
        let fixture = try OperationsFixture(records: 1200, faults: false)
        try fixture.settle()
        try fixture.connection.execute(
            "UPDATE ledger SET points = points - 1 WHERE holder_key = (SELECT min(holder_key) FROM ledger WHERE points > 0)"
        )
        let report = try ReconciliationReport.compute(ledger: fixture.ledger, from: nil, to: nil)
        #expect(!report.allChecksPass)
        #expect(report.checks.first { $0.name == "points" }?.ok == false)
        #expect(report.checks.first { $0.name == "conservation" }?.ok == true)
        #expect(ReportHTML.render(report).contains("✘ FAIL"))
    }
}

@Suite struct CSVTests {
    @Test(arguments: [
        ("plain", "plain"), ("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+81", "'+81"), ("-1", "'-1"), ("@cmd", "'@cmd"),
        ("\tx", "'\tx"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("two\r\nlines", "\"two\r\nlines\""),
        ("=1,2", "\"'=1,2\""), ("東京", "東京"), ("", ""),
    ])
    func textFieldsAreQuotedAndDefused(value: String, written: String) {
        #expect(CSVTable.field(value) == written)
    }

    @Test func rowsEndInCRLFAndNumbersStayNumbers() {
        var table = CSVTable()
        table.row([.text("a"), .number(-5), .number(1_234_567)])
        table.blank()
        table.row([.text("x,y")])
        #expect(table.text == "a,-5,1234567\r\n\r\n\"x,y\"\r\n")
        #expect(parseCSV(table.text) == [["a", "-5", "1234567"], [""], ["x,y"]])
    }
}

@Suite struct HTMLTests {
    @Test func thePageIsSelfContainedAndWellFormed() throws {
        let fixture = try OperationsFixture()
        _ = try fixture.twoMonths()
        var report = try ReconciliationReport.compute(ledger: fixture.ledger, from: nil, to: nil)
        report.checks.append(.init(name: "<script>alert(1)</script>", ok: false, detail: "a & b \"quoted\""))
        let html = ReportHTML.render(report)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        // Nothing external, nothing executable.
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("src="))
        #expect(!html.contains("href="))
        #expect(!html.contains("url("))
        #expect(!html.contains("@import"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("a &amp; b &quot;quoted&quot;"))
        // Three charts, the sections, every provider and month, every check with its verdict.
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)
        for id in ["checks", "providers", "months", "rejections", "quarantine"] {
            #expect(html.contains("id=\"\(id)\""))
        }
        for provider in report.providers { #expect(html.contains(">\(provider.providerID)<")) }
        #expect(report.monthList.count == 2)
        for month in report.monthList { #expect(html.contains(">\(month)<")) }
        #expect(html.components(separatedBy: "✔ pass").count - 1 == 3)
        #expect(html.contains("1 of 4 reconciliation checks fail"))
        #expect(html.contains(NumberFormatting.grouped(report.totals.points)))
        for q in report.quarantines { #expect(html.contains(ReportHTML.escape(q.file))) }
        try expectBalancedTags(html)
    }

    @Test func anEmptyDatabaseGivesAPageToo() throws {
        let fixture = try OperationsFixture(records: 10, faults: false)
        let report = try ReconciliationReport.compute(ledger: fixture.ledger, from: nil, to: nil)
        let html = ReportHTML.render(report)
        #expect(html.contains("No record was rejected"))
        #expect(html.contains("no runs in the period"))
        try expectBalancedTags(html)
    }

    @Test func numbersAreGroupedAndAxesRound() {
        #expect(NumberFormatting.grouped(0) == "0")
        #expect(NumberFormatting.grouped(999) == "999")
        #expect(NumberFormatting.grouped(1000) == "1,000")
        #expect(NumberFormatting.grouped(-1_234_567) == "-1,234,567")
        #expect(ReportHTML.niceCeiling(1) == 4)
        #expect(ReportHTML.niceCeiling(95) == 100)
        #expect(ReportHTML.niceCeiling(123_456) == 200_000)
    }

    /// Twenty providers and a billion-point month: the legend wraps inside the chart's width, the chart grows by
    /// the extra lines, and the value axis leaves room for its widest label (the browser test measures the same
    /// with real fonts).
    @Test func perMonthChartLegendWrapsAndAxisLabelsFit() throws {
        let names = (1...20).map { "P" + String(repeating: "0", count: 3 - String($0).count) + "0\($0)" }
        let layout = ReportHTML.legendLayout(names: names, width: 720)
        #expect(layout.lines >= 2)
        for (name, position) in zip(names, layout.positions) {
            #expect(position.x >= 0 && position.x + 16 + ReportHTML.textWidth(name) <= 720, "\(name) at \(position)")
        }
        let svg = ReportHTML.stackedColumns(
            title: "t", categories: ["2021-01"], series: names.map { ($0, "#4f81bd", [1_000_000_000]) })
        #expect(svg.contains("viewBox=\"0 0 720 \(300 + (layout.lines - 1) * ReportHTML.legendLine)\""))
        let widest = NumberFormatting.grouped(ReportHTML.niceCeiling(20_000_000_000))
        let labels = svg.matches(of: #/<text x="(\d+)" y="\d+" text-anchor="end">([0-9,]+)</text>/#)
            .map { (x: Int($0.1)!, text: String($0.2)) }
        let top = try #require(labels.max { $0.text.count < $1.text.count })
        #expect(top.text.count == widest.count)
        #expect(top.x >= ReportHTML.textWidth(widest), "axis label \(top.text) at x \(top.x)")
    }

    /// Every non-void element is closed in order.
    func expectBalancedTags(_ html: String) throws {
        let void: Set<String> = ["meta", "br", "hr", "img", "input", "link", "!doctype"]
        let regex = try NSRegularExpression(pattern: #"<(/?)([a-zA-Z!][a-zA-Z0-9]*)[^>]*?(/?)>"#)
        var stack: [String] = []
        for match in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            let closing = !Range(match.range(at: 1), in: html)!.isEmpty
            let name = String(html[Range(match.range(at: 2), in: html)!]).lowercased()
            let selfClosing = !Range(match.range(at: 3), in: html)!.isEmpty
            if void.contains(name) || selfClosing { continue }
            if closing {
                let open = stack.popLast()
                #expect(open == name, "</\(name)> closes <\(open ?? "nothing")>")
            } else {
                stack.append(name)
            }
        }
        #expect(stack.isEmpty, "unclosed: \(stack)")
    }
}

@Suite struct StatementTests {
    @Test func monthsRunningTotalsAndOneMonth() throws {
        let fixture = try OperationsFixture(records: 2000, faults: false)
        let (first, second) = try fixture.twoMonths()
        let statement = try ProviderStatement.compute(ledger: fixture.ledger, month: nil)
        let months = Array(Set(statement.lines.map(\.month))).sorted()
        #expect(months.count >= 2)
        let firstMonth = months.first!
        let lastMonth = months.last!
        let firstTotal = statement.lines.first { $0.month == firstMonth && $0.providerID == "TOTAL" }!
        let lastTotal = statement.lines.first { $0.month == lastMonth && $0.providerID == "TOTAL" }!
        #expect(firstTotal.points == first.points)
        #expect(lastTotal.points == second.points)
        #expect(lastTotal.cumulativePoints == first.points + second.points)
        #expect(firstTotal.runs == 1)
        for provider in ["P0001", "P0002", "P0003"] {
            let lines = statement.lines.filter { $0.providerID == provider }
            #expect(lines.map(\.month) == months, "a line every month for \(provider)")
            var running = 0
            for line in lines {
                running += line.points
                #expect(line.cumulativePoints == running)
            }
            #expect(lines.first?.providerName.isEmpty == false)
        }
        // Each month's TOTAL is the sum of its provider lines.
        for month in months {
            let lines = statement.lines.filter { $0.month == month }
            #expect(lines.last?.providerID == "TOTAL")
            #expect(lines.dropLast().reduce(0) { $0 + $1.points } == lines.last!.points)
        }
        // One month only; the running total still counts the months before.
        let one = try ProviderStatement.compute(ledger: fixture.ledger, month: lastMonth)
        #expect(Set(one.lines.map(\.month)) == [lastMonth])
        #expect(one.lines.last?.cumulativePoints == first.points + second.points)
        let rows = parseCSV(one.csv)
        #expect(
            rows[0] == [
                "month", "provider_id", "provider_name", "runs", "files", "records", "granted_records",
                "eligible_amount_yen", "points_claimed", "cumulative_points",
            ])
        #expect(rows.count == 5)
        #expect(rows.dropFirst().allSatisfy { $0.count == 10 })
        // A later month without runs still shows the running totals.
        let later = try ProviderStatement.compute(ledger: fixture.ledger, month: "2099-01")
        #expect(later.lines.count == 4)
        #expect(later.lines.allSatisfy { $0.points == 0 })
        #expect(later.lines.last?.cumulativePoints == first.points + second.points)
        // The JSON keys are those of the CSV header (bar `points_claimed`), as the finance docs name them.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(one)) as! [String: Any]
        let line = (json["lines"] as! [[String: Any]])[0]
        #expect(
            Set(line.keys) == [
                "month", "provider_id", "provider_name", "runs", "files", "records", "granted_records",
                "eligible_amount_yen", "points", "cumulative_points",
            ])
    }
}

@Suite struct RunHistoryTests {
    @Test func listAndDetail() throws {
        let fixture = try OperationsFixture()
        let (first, second) = try fixture.twoMonths()
        let runs = try RunHistory.list(ledger: fixture.ledger)
        #expect(runs.map(\.runID) == [second.runID!, first.runID!])
        #expect(runs[1].quarantinedFiles == first.quarantinedFiles)
        #expect(runs[0].points == second.points)
        #expect(runs.allSatisfy { $0.deliveredAt != nil && $0.version == "unknown" && !$0.host.isEmpty })
        #expect(try RunHistory.list(ledger: fixture.ledger, limit: 1).count == 1)
        let text = RunHistory.listText(runs)
        #expect(text.hasPrefix("RUN"))
        #expect(text.split(separator: "\n").count == 3)

        let detail = try #require(try RunHistory.detail(ledger: fixture.ledger, run: first.runID!))
        #expect(detail.files.count == first.files.count)
        let quarantined = detail.files.filter { $0.outcome == .quarantined }
        #expect(quarantined.count == first.quarantinedFiles)
        #expect(quarantined.allSatisfy { $0.quarantineCode != nil && $0.resultName == nil })
        #expect(detail.outcomes.values.reduce(0, +) == first.records)
        #expect(detail.outcomes["GRANTED"] != nil)
        guard case .object(let parameters) = detail.parameters else {
            Issue.record("parameters are not an object: \(detail.parameters)")
            return
        }
        #expect(parameters["rate_percent"] == .int(25))
        #expect(parameters["rounding"] == .string("per_record"))
        let shown = RunHistory.detailText(detail)
        #expect(shown.contains("run \(first.runID!)"))
        #expect(shown.contains("CHECKSUM_MISMATCH"))
        #expect(shown.contains("rate_percent 25"))
        #expect(try RunHistory.detail(ledger: fixture.ledger, run: 999_999) == nil)

        // `runs --json` keys.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(detail)) as! [String: Any]
        #expect(Set(json.keys) == ["run", "parameters", "files", "outcomes"])
        let run = json["run"] as! [String: Any]
        let optional: Set<String> = detail.run.durationMilliseconds == nil ? ["duration_ms"] : []
        #expect(
            Set(run.keys).union(optional) == [
                "run_id", "started_at", "committed_at", "delivered_at", "duration_ms", "started_by", "host", "version",
                "files", "quarantined_files", "already_settled_files", "records", "granted_records", "points",
            ])
        let files = json["files"] as! [[String: Any]]
        let settled = try #require(files.first { $0["outcome"] as? String == "settled" })
        #expect(
            Set(settled.keys) == [
                "name", "provider_id", "outcome", "records", "granted_records", "points", "eligible_amount",
                "result_name",
            ])
        let held = try #require(files.first { $0["outcome"] as? String == "quarantined" })
        #expect(Set(held.keys).isSuperset(of: ["name", "outcome", "quarantine_code", "quarantine_message"]))
    }
}
