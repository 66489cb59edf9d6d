import Foundation
import Ledger
public import Localization

/// The reconciliation report as one self-contained HTML page: inline CSS and SVG charts, no script, no
/// external assets, so it can be mailed, archived and opened offline years later.
public enum ReportHTML {
    /// The page for `report`, its text for people in `language`; figures, codes and IDs are the same in both.
    public static func render(_ report: ReconciliationReport, language: Language = .en) -> String {
        var page = Page(language: language)
        let period = ReportText.period(report, language)
        page.raw(
            """
            <!DOCTYPE html>
            <html lang="\(language.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(page.text(.reportTitle(period: period)))</title>
            <style>\(style)</style>
            </head>
            <body>
            <header>
            <h1>\(page.text(.reportHeading))</h1>
            <p class="meta">\(escape(period)) · \(page.text(.generated(FinanceFormat.time(report.generatedAt, language))))</p>
            </header>

            """)
        let failing = report.checks.filter { !$0.ok }
        page.raw(
            failing.isEmpty
                ? "<p class=\"verdict ok\">\(page.text(.allChecksPass(checks: report.checks.count)))</p>\n"
                : "<p class=\"verdict fail\">"
                    + page.text(
                        .checksFail(
                            failing: failing.count, checks: report.checks.count,
                            names: ReportText.names(of: failing, language))) + "</p>\n")

        page.raw("<section class=\"cards\">\n")
        for (label, value) in [
            (FinanceText.cardPointsOwed, FinanceFormat.points(report.totals.points, language)),
            (.cardEligibleAmount, FinanceFormat.yen(report.eligibleAmountTotal, language)),
            (.cardRecordsSettled, NumberFormatting.grouped(report.totals.records)),
            (.cardRecordsGranted, NumberFormatting.grouped(report.totals.grantedRecords)),
            (.cardFilesSettled, NumberFormatting.grouped(report.totals.files)),
            (.cardFilesQuarantined, NumberFormatting.grouped(report.totals.quarantinedFiles)),
            (.cardHoldersAtCap, NumberFormatting.grouped(report.holdersAtCap)),
        ] {
            page.raw("<div class=\"card\"><div class=\"label\">\(page.text(label))</div>")
            page.raw("<div class=\"value\">\(value)</div></div>\n")
        }
        page.raw("</section>\n")

        checksSection(report, into: &page)
        providerSection(report, into: &page)
        monthSection(report, into: &page)
        rejectionSection(report, into: &page)
        quarantineSection(report, into: &page)
        // The footnote is the catalogue's own markup-free text, written as it is (its apostrophe unescaped).
        page.raw("<footer>\(page.plain(.reportFooter))</footer>\n</body>\n</html>\n")
        return page.text
    }

    // MARK: Sections

    static func checksSection(_ report: ReconciliationReport, into page: inout Page) {
        page.raw("<section id=\"checks\">\n<h2>\(page.text(.checksHeading))</h2>\n<table>\n")
        page.raw("<thead><tr>\(page.headings(.columnCheck, .columnVerdict, .columnDetail))</tr></thead>\n<tbody>\n")
        for check in report.checks {
            let verdict =
                check.ok
                ? "<td class=\"pass\">\(page.text(.verdictPass))</td>"
                : "<td class=\"failed\">\(page.text(.verdictFail))</td>"
            page.raw(
                "<tr><td>\(page.text(.checkName(check.name)))</td>\(verdict)<td class=\"text\">"
                    + "\(escape(check.detail(page.language)))</td></tr>\n")
        }
        page.raw("</tbody>\n</table>\n</section>\n")
    }

    static func providerSection(_ report: ReconciliationReport, into page: inout Page) {
        page.raw("<section id=\"providers\">\n<h2>\(page.text(.providersHeading))</h2>\n")
        page.raw(
            barChart(
                title: page.plain(.chartPointsPerProvider),
                items: report.providers.enumerated().map { ($1.providerID, $1.points, palette[$0 % palette.count]) },
                noData: page.plain(.chartNoData)))
        page.raw("<table>\n<thead><tr>")
        page.raw(page.headings(.columnProvider, .columnFiles, .columnRecords, .columnGranted))
        page.raw(page.headings(.columnRejected, .columnPoints, .columnEligibleAmount) + "</tr></thead>\n<tbody>\n")
        for p in report.providers {
            page.raw(
                "<tr><td>\(escape(p.providerID))</td>" + numbers(p.files, p.records, p.grantedRecords)
                    + numbers(p.records - p.grantedRecords) + page.money(points: p.points, yen: p.eligibleAmount)
                    + "</tr>\n")
        }
        let t = report.totals
        page.raw(
            "</tbody>\n<tfoot><tr><th>\(page.text(.total))</th>" + numbers(t.files, t.records, t.grantedRecords)
                + numbers(t.records - t.grantedRecords) + page.money(points: t.points, yen: report.eligibleAmountTotal)
                + "</tr></tfoot>\n</table>\n</section>\n")
    }

    static func monthSection(_ report: ReconciliationReport, into page: inout Page) {
        page.raw("<section id=\"months\">\n<h2>\(page.text(.monthsHeading))</h2>\n")
        let months = report.monthList
        let providers = report.providers.map(\.providerID)
        var series: [(String, String, [Int])] = []
        for (i, provider) in providers.enumerated() {
            let values = months.map { month in
                report.months.first { $0.month == month && $0.providerID == provider }?.points ?? 0
            }
            series.append((provider, palette[i % palette.count], values))
        }
        page.raw(
            stackedColumns(
                title: page.plain(.chartPointsPerMonth),
                categories: months.map { FinanceFormat.month($0, page.language) }, series: series,
                noRuns: page.plain(.chartNoRuns)))
        page.raw("<table>\n<thead><tr>")
        page.raw(page.headings(.columnMonth, .columnProvider, .columnRuns, .columnFiles, .columnRecords))
        page.raw(page.headings(.columnGranted, .columnPoints, .columnEligibleAmount) + "</tr></thead>\n<tbody>\n")
        for month in months {
            let rows = report.months.filter { $0.month == month }
            let shown = escape(FinanceFormat.month(month, page.language))
            for m in rows {
                page.raw(
                    "<tr><td>\(shown)</td><td class=\"text\">\(escape(m.providerID))</td>"
                        + numbers(m.runs, m.files, m.records) + numbers(m.grantedRecords)
                        + page.money(points: m.points, yen: m.eligibleAmount) + "</tr>\n")
            }
            page.raw(
                "<tr class=\"subtotal\"><td>\(shown)</td><td class=\"text\">\(page.text(.allProvidersRow))</td><td></td>"
                    + numbers(
                        rows.reduce(0) { $0 + $1.files }, rows.reduce(0) { $0 + $1.records },
                        rows.reduce(0) { $0 + $1.grantedRecords })
                    + page.money(
                        points: rows.reduce(0) { $0 + $1.points }, yen: rows.reduce(0) { $0 + $1.eligibleAmount })
                    + "</tr>\n")
        }
        page.raw("</tbody>\n</table>\n</section>\n")
    }

    static func rejectionSection(_ report: ReconciliationReport, into page: inout Page) {
        page.raw("<section id=\"rejections\">\n<h2>\(page.text(.rejectionsHeading))</h2>\n")
        let totals = report.rejectionTotals
        let reasons = ReconciliationReport.rejectionCodes.filter { totals[$0] != nil }
        if reasons.isEmpty {
            page.raw("<p>\(page.text(.noRejections))</p>\n</section>\n")
            return
        }
        page.raw(
            barChart(
                title: page.plain(.chartRejections),
                items: reasons.map { ($0, totals[$0] ?? 0, "#c0504d") }, noData: page.plain(.chartNoData)))
        // A column per provider: with many providers the table scrolls inside its box instead of widening the page.
        page.raw("<div class=\"wide\">\n<table>\n<thead><tr>\(page.headings(.columnReason))")
        for p in report.providers { page.raw("<th>\(escape(p.providerID))</th>") }
        page.raw("\(page.headings(.total))</tr></thead>\n<tbody>\n")
        for reason in reasons {
            page.raw("<tr><td>\(escape(reason))</td>")
            page.raw(numbers(report.providers.map { $0.rejections[reason] ?? 0 } + [totals[reason] ?? 0]))
            page.raw("</tr>\n")
        }
        page.raw("</tbody>\n</table>\n</div>\n</section>\n")
    }

    static func quarantineSection(_ report: ReconciliationReport, into page: inout Page) {
        page.raw("<section id=\"quarantine\">\n<h2>\(page.text(.quarantineHeading))</h2>\n")
        if report.quarantines.isEmpty {
            page.raw("<p>\(page.text(.noQuarantine))</p>\n</section>\n")
            return
        }
        page.raw("<table>\n<thead><tr>\(page.headings(.columnRun, .columnFile, .columnCode, .columnReason))")
        page.raw("</tr></thead>\n<tbody>\n")
        for q in report.quarantines {
            page.raw(
                "<tr>\(numbers(Int(q.runID)))<td class=\"text\">\(escape(q.file))</td><td class=\"text\">\(escape(q.code))</td>"
                    + "<td class=\"text\">\(escape(q.message))</td></tr>\n")
        }
        page.raw("</tbody>\n</table>\n</section>\n")
    }

    // MARK: Charts

    /// Horizontal bars, one per item, value at the bar's end.
    static func barChart(
        title: String, items: [(label: String, value: Int, color: String)], noData: String = "no data"
    ) -> String {
        let width = 720
        let labelWidth = 170
        let row = 28
        let top = 30
        let height = top + max(1, items.count) * row + 10
        let maximum = max(1, items.map(\.value).max() ?? 1)
        let span = Double(width - labelWidth - 110)
        var svg = svgOpen(title: title, width: width, height: height)
        svg += "<text x=\"0\" y=\"18\" class=\"title\">\(escape(title))</text>\n"
        if items.isEmpty {
            svg += "<text x=\"0\" y=\"\(top + 18)\">\(escape(noData))</text>\n"
        }
        for (i, item) in items.enumerated() {
            let y = top + i * row
            let length = max(item.value > 0 ? 1 : 0, Int((Double(item.value) / Double(maximum) * span).rounded()))
            svg += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 18)\" text-anchor=\"end\">\(escape(item.label))</text>"
            svg +=
                "<rect x=\"\(labelWidth)\" y=\"\(y + 4)\" width=\"\(length)\" height=\"\(row - 8)\" fill=\"\(item.color)\">"
            let value = NumberFormatting.grouped(item.value)
            svg += "<title>\(escape(item.label)): \(value)</title></rect>"
            svg += "<text x=\"\(labelWidth + length + 6)\" y=\"\(y + 18)\">\(value)</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Columns per category, stacked by series, with a legend and a value axis.
    static func stackedColumns(
        title: String, categories: [String], series: [(name: String, color: String, values: [Int])],
        noRuns: String = "no runs in the period"
    ) -> String {
        let width = 720
        let legend = legendLayout(names: series.map(\.name), width: width)
        // The plot moves down by the legend's extra lines and right by the widest axis label, so neither is cut.
        let top = 54 + legendLine * (legend.lines - 1)
        let height = 300 + legendLine * (legend.lines - 1)
        let bottom = 40
        let plotHeight = height - top - bottom
        var totals = Array(repeating: 0, count: categories.count)
        for s in series {
            for (i, value) in s.values.enumerated() where i < totals.count { totals[i] += value }
        }
        let maximum = niceCeiling(max(1, totals.max() ?? 1))
        let left = max(90, textWidth(NumberFormatting.grouped(maximum)) + 14)
        var svg = svgOpen(title: title, width: width, height: height)
        svg += "<text x=\"0\" y=\"18\" class=\"title\">\(escape(title))</text>\n"
        for (s, position) in zip(series, legend.positions) {
            svg += "<rect x=\"\(position.x)\" y=\"\(position.y)\" width=\"12\" height=\"12\" fill=\"\(s.color)\"/>"
            svg += "<text x=\"\(position.x + 16)\" y=\"\(position.y + 11)\">\(escape(s.name))</text>\n"
        }
        for step in 0...4 {
            let value = maximum / 4 * step
            let y = top + plotHeight - plotHeight * step / 4
            svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width)\" y2=\"\(y)\" class=\"grid\"/>"
            svg +=
                "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(NumberFormatting.grouped(value))</text>\n"
        }
        guard !categories.isEmpty else {
            return svg + "<text x=\"\(left + 10)\" y=\"\(top + plotHeight / 2)\">\(escape(noRuns))</text>\n</svg>\n"
        }
        let slot = Double(width - left) / Double(categories.count)
        let barWidth = max(4, min(60, Int(slot * 0.6)))
        for (i, category) in categories.enumerated() {
            let x = left + Int(slot * Double(i) + (slot - Double(barWidth)) / 2)
            var base = top + plotHeight
            for s in series where i < s.values.count && s.values[i] > 0 {
                let h = max(1, Int((Double(s.values[i]) / Double(maximum) * Double(plotHeight)).rounded()))
                base -= h
                svg += "<rect x=\"\(x)\" y=\"\(base)\" width=\"\(barWidth)\" height=\"\(h)\" fill=\"\(s.color)\">"
                let value = NumberFormatting.grouped(s.values[i])
                svg += "<title>\(escape(category)) \(escape(s.name)): \(value)</title></rect>"
            }
            svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + plotHeight + 18)\" text-anchor=\"middle\">"
            svg += "\(escape(category))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Height of one legend line.
    static let legendLine = 18

    /// Where each legend entry (a 12-pixel swatch, then its name) goes: left to right, starting a new line before
    /// an entry would pass the chart's right edge, so that with many providers no name is cut off.
    static func legendLayout(names: [String], width: Int) -> (positions: [(x: Int, y: Int)], lines: Int) {
        var positions: [(x: Int, y: Int)] = []
        var x = 0
        var line = 0
        for name in names {
            let entry = 16 + textWidth(name)
            if x > 0 && x + entry > width {
                x = 0
                line += 1
            }
            positions.append((x, 28 + line * legendLine))
            x += entry + 12
        }
        return (positions, line + 1)
    }

    /// A generous estimate of the width of chart text (12 px sans-serif): 8 pixels per character, wider than
    /// the digits and capitals of common sans-serif fonts, since SVG text does not wrap or shrink to fit.
    static func textWidth(_ text: String) -> Int { 8 * text.count }

    static func svgOpen(title: String, width: Int, height: Int) -> String {
        "<svg class=\"chart\" role=\"img\" aria-label=\"\(escape(title))\" viewBox=\"0 0 \(width) \(height)\" "
            + "width=\"\(width)\" height=\"\(height)\">\n"
    }

    /// A round axis maximum at or above `value`: four steps of 1, 2, 2.5 or 5 times a power of ten.
    static func niceCeiling(_ value: Int) -> Int {
        let target = max(1, (value + 3) / 4)
        var magnitude = 1
        while magnitude * 10 <= target { magnitude *= 10 }
        var steps = [1, 2, 5, 10].map { $0 * magnitude }
        if magnitude >= 10 { steps.insert(magnitude * 5 / 2, at: 2) }
        let step = steps.first { $0 >= target } ?? target
        return step * 4
    }

    // MARK: Text

    /// Numeric table cells.
    static func numbers(_ values: Int...) -> String { numbers(values) }

    /// Numeric table cells.
    static func numbers(_ values: [Int]) -> String {
        values.map { "<td>\(NumberFormatting.grouped($0))</td>" }.joined()
    }

    /// Text escaped for HTML content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    struct Page {
        let language: Language
        var text = ""
        mutating func raw(_ html: String) { text += html }

        /// A message in the page's language, as it is (for the charts, which escape their text).
        func plain(_ message: FinanceText) -> String { message.text(language) }

        /// A message in the page's language, escaped.
        func text(_ message: FinanceText) -> String { escape(message.text(language)) }

        /// Header cells.
        func headings(_ messages: FinanceText...) -> String { messages.map { "<th>\(text($0))</th>" }.joined() }

        /// A points cell and a yen cell, with their units in Japanese.
        func money(points: Int, yen: Int) -> String {
            "<td>\(FinanceFormat.points(points, language))</td><td>\(FinanceFormat.yen(yen, language))</td>"
        }
    }

    static let palette = ["#4f81bd", "#9bbb59", "#f79646", "#8064a2", "#4bacc6", "#c0504d", "#2c4d75", "#77933c"]

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif;margin:24px auto;
        max-width:1000px;padding:0 16px;color:#1f2933;background:#fff}
        h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 8px;border-bottom:1px solid #d9e2ec;
        padding-bottom:4px}.meta{color:#52606d;margin:0 0 16px}
        .verdict{padding:10px 14px;border-radius:6px;font-weight:600}.verdict.ok{background:#e3f9e5;color:#05400a}
        .verdict.fail{background:#ffe3e3;color:#610404}
        .cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}.card{border:1px solid #d9e2ec;border-radius:6px;
        padding:8px 12px;min-width:120px}.card .label{font-size:.8rem;color:#52606d}.card .value{font-size:1.2rem;
        font-weight:600;font-variant-numeric:tabular-nums}
        table{border-collapse:collapse;margin:8px 0 16px;font-size:.9rem}th,td{border:1px solid #d9e2ec;
        padding:4px 10px}th{background:#f0f4f8;text-align:left}td{text-align:right;font-variant-numeric:tabular-nums}
        td:first-child,td.text{text-align:left}td.text{overflow-wrap:anywhere}tfoot th,tr.subtotal td{background:#f5f7fa;font-weight:600}
        td.pass{color:#05400a;text-align:left}td.failed{color:#a61b1b;font-weight:700;text-align:left}
        svg.chart{display:block;max-width:100%;height:auto;margin:8px 0;font-size:12px}svg.chart text{fill:#1f2933}
        svg.chart text.title{font-weight:600;font-size:13px}svg.chart line.grid{stroke:#d9e2ec;stroke-width:1}
        .wide{overflow-x:auto;max-width:100%}.wide table{margin-bottom:8px}
        footer{margin-top:32px;color:#7b8794;font-size:.8rem}
        @media print{body{margin:0;max-width:none}section{break-inside:avoid}.wide{overflow:visible}}
        """
}
