import Foundation
public import Ledger
import Localization

/// The monthly provider statement for finance: per provider and month, the points granted by the runs
/// committed that month (JST) — the provisional subsidy claim — and the running total since the first run.
///
/// Every provider with a settled file by a month gets a row for that month, with zeros when it had no
/// run then, so the running total is visible every month; each month ends with a `TOTAL` row.
public struct ProviderStatement: Sendable, Codable {
    /// One provider's line for one month.
    public struct Line: Sendable, Codable, Equatable {
        /// `YYYY-MM` of the runs' commit, in JST.
        public var month: String
        /// The provider, or `TOTAL` on a month's total line.
        public var providerID: String
        /// The provider's registered name (`all providers` on a total line).
        public var providerName: String
        /// Runs that settled a file of the provider that month.
        public var runs: Int
        /// Files settled that month.
        public var files: Int
        /// Data lines settled that month.
        public var records: Int
        /// Rows granted that month.
        public var grantedRecords: Int
        /// Eligible amount of the month's granted rows, yen.
        public var eligibleAmountYen: Int
        /// Points granted by the month's runs: the provisional claim (1 point = 1 yen).
        public var points: Int
        /// Points granted from the first run up to the end of the month.
        public var cumulativePoints: Int

        enum CodingKeys: String, CodingKey {
            case month
            case providerID = "provider_id"
            case providerName = "provider_name"
            case runs, files, records
            case grantedRecords = "granted_records"
            case eligibleAmountYen = "eligible_amount_yen"
            case points
            case cumulativePoints = "cumulative_points"
        }
    }

    /// The requested month, or nil for every month.
    public var month: String?
    /// The lines, month by month, providers in byte order of their IDs, each month's `TOTAL` last.
    public var lines: [Line]

    /// The statement for `month` (`YYYY-MM`), or for every month from the first run's to the last's when nil.
    public static func compute(ledger: Ledger, month: String?) throws -> ProviderStatement {
        let activity = Activity(try ledger.monthlySettlements(in: .all))
        guard let first = activity.lines.keys.min() else { return ProviderStatement(month: month, lines: []) }
        var last = activity.lines.keys.max() ?? first
        if let month, month > last { last = month }
        var lines: [Line] = []
        var cumulative: [String: Int] = [:]
        var current = first
        while current <= last {
            let seen = activity.month(current, adding: &cumulative)
            if month == nil || month == current {
                lines += seen
                lines.append(total(of: seen, month: current, runs: try ledger.settlingRunCount(month: current)))
            }
            current = nextMonth(current)
        }
        return ProviderStatement(month: month, lines: lines)
    }

    /// The settled figures by month and provider, as the ledger returns them.
    struct Activity {
        /// Lines by month, then provider; `cumulativePoints` still zero.
        var lines: [String: [String: Line]] = [:]
        /// Provider names by ID.
        var names: [String: String] = [:]

        init(_ settlements: [MonthlySettlement]) {
            for settlement in settlements {
                lines[settlement.month, default: [:]][settlement.providerID] = Line(
                    month: settlement.month, providerID: settlement.providerID,
                    providerName: settlement.providerName, runs: settlement.runs, files: settlement.files,
                    records: settlement.records, grantedRecords: settlement.grantedRecords,
                    eligibleAmountYen: settlement.eligibleAmount, points: settlement.points, cumulativePoints: 0)
                names[settlement.providerID] = settlement.providerName
            }
        }

        /// The lines of `month`, a zero line for each provider seen before without a run then, in byte order of
        /// the provider IDs; adds the month's points to `cumulative`, which then gives each line's running total.
        func month(_ month: String, adding cumulative: inout [String: Int]) -> [Line] {
            var seen = lines[month] ?? [:]
            for (provider, line) in seen { cumulative[provider, default: 0] += line.points }
            for provider in cumulative.keys where seen[provider] == nil {
                seen[provider] = Line(
                    month: month, providerID: provider, providerName: names[provider] ?? "", runs: 0, files: 0,
                    records: 0, grantedRecords: 0, eligibleAmountYen: 0, points: 0, cumulativePoints: 0)
            }
            return seen.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).map { provider in
                var line = seen[provider]!
                line.cumulativePoints = cumulative[provider] ?? 0
                return line
            }
        }
    }

    /// A month's `TOTAL` line over its provider lines; `runs` counts runs, not runs per provider.
    static func total(of lines: [Line], month: String, runs: Int) -> Line {
        var total = Line(
            month: month, providerID: "TOTAL", providerName: "all providers", runs: runs, files: 0, records: 0,
            grantedRecords: 0, eligibleAmountYen: 0, points: 0, cumulativePoints: 0)
        for line in lines {
            total.files += line.files
            total.records += line.records
            total.grantedRecords += line.grantedRecords
            total.eligibleAmountYen += line.eligibleAmountYen
            total.points += line.points
            total.cumulativePoints += line.cumulativePoints
        }
        return total
    }

    /// The month after `YYYY-MM`.
    static func nextMonth(_ month: String) -> String {
        let parts = month.split(separator: "-")
        guard parts.count == 2, var year = Int(parts[0]), var number = Int(parts[1]) else { return "9999-99" }
        number += 1
        if number > 12 {
            number = 1
            year += 1
        }
        return String(format: "%04d-%02d", year, number)
    }

    /// The header row of the statement's CSV.
    public enum Header: String, Sendable, CaseIterable {
        /// The column keys (`month`, `provider_id` …): the same in every language, for programs.
        case machine
        /// Column names in English, for people.
        case en
        /// Column names in Japanese, for people; the total lines read 合計 / 全事業者.
        case ja
    }

    /// The column keys, in the order of the columns.
    public static let columnKeys = [
        "month", "provider_id", "provider_name", "runs", "files", "records", "granted_records",
        "eligible_amount_yen", "points_claimed", "cumulative_points",
    ]

    /// The statement as CSV for a spreadsheet (CRLF, one header row of column keys).
    public var csv: String { csv(header: .machine) }

    /// The statement as CSV for a spreadsheet (CRLF, one header row as `header` says); the figures are plain
    /// numbers whatever the header, so a spreadsheet can sum them.
    public func csv(header: Header) -> String {
        var table = CSVTable()
        let language: Language? =
            switch header {
            case .machine: nil
            case .en: .en
            case .ja: .ja
            }
        if let language {
            let columns: [FinanceText] = [
                .columnMonth, .columnProviderID, .columnProviderName, .columnRuns, .columnFiles, .columnRecords,
                .columnGranted, .columnEligibleAmount, .columnPointsClaimed, .columnCumulativePoints,
            ]
            table.row(columns.map { .text($0.text(language)) })
        } else {
            table.row(Self.columnKeys.map(CSVTable.Cell.text))
        }
        for line in lines {
            let isTotal = line.providerID == "TOTAL" && line.providerName == "all providers"
            let (id, name) =
                header == .ja && isTotal
                ? (FinanceText.total.japanese, FinanceText.allProvidersRow.japanese)
                : (line.providerID, line.providerName)
            table.row([
                .text(line.month), .text(id), .text(name), .number(line.runs),
                .number(line.files), .number(line.records), .number(line.grantedRecords),
                .number(line.eligibleAmountYen), .number(line.points), .number(line.cumulativePoints),
            ])
        }
        return table.text
    }
}
