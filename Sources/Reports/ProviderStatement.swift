import Foundation
public import Ledger
import Postgres

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
        public var provider_id: String
        /// The provider's registered name (`all providers` on a total line).
        public var provider_name: String
        /// Runs that settled a file of the provider that month.
        public var runs: Int
        /// Files settled that month.
        public var files: Int
        /// Data lines settled that month.
        public var records: Int
        /// Rows granted that month.
        public var granted_records: Int
        /// Eligible amount of the month's granted rows, yen.
        public var eligible_amount_yen: Int
        /// Points granted by the month's runs: the provisional claim (1 point = 1 yen).
        public var points: Int
        /// Points granted from the first run up to the end of the month.
        public var cumulative_points: Int
    }

    /// The requested month, or nil for every month.
    public var month: String?
    /// The lines, month by month, providers in byte order of their IDs, each month's `TOTAL` last.
    public var lines: [Line]

    /// The statement for `month` (`YYYY-MM`), or for every month from the first run's to the last's when nil.
    public static func compute(ledger: Ledger, month: String?) throws -> ProviderStatement {
        let result = try ledger.connection.query(
            """
            SELECT to_char(r.committed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM') AS month, p.provider_id, p.name,
                   count(DISTINCT r.run_id), count(*), sum(f.records), sum(f.granted_records), sum(f.eligible_amount),
                   sum(f.points)
            FROM files f JOIN runs r ON r.run_id = f.run_id JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.outcome = 'settled'
            GROUP BY 1, 2, 3 ORDER BY month, p.provider_id COLLATE "C"
            """)
        var activity: [String: [String: Line]] = [:]
        var names: [String: String] = [:]
        for row in 0..<result.rowCount {
            let line = Line(
                month: try result[row, 0].string(), provider_id: try result[row, 1].string(),
                provider_name: try result[row, 2].string(), runs: Int(try result[row, 3].int()),
                files: Int(try result[row, 4].int()), records: Int(try result[row, 5].int()),
                granted_records: Int(try result[row, 6].int()), eligible_amount_yen: Int(try result[row, 7].int()),
                points: Int(try result[row, 8].int()), cumulative_points: 0)
            activity[line.month, default: [:]][line.provider_id] = line
            names[line.provider_id] = line.provider_name
        }
        guard let first = activity.keys.min() else { return ProviderStatement(month: month, lines: []) }
        var last = activity.keys.max() ?? first
        if let month, month > last { last = month }
        var lines: [Line] = []
        var cumulative: [String: Int] = [:]
        var current = first
        while current <= last {
            var seen = activity[current] ?? [:]
            for provider in seen.keys { cumulative[provider, default: 0] += seen[provider]!.points }
            for provider in cumulative.keys where seen[provider] == nil {
                seen[provider] = Line(
                    month: current, provider_id: provider, provider_name: names[provider] ?? "", runs: 0, files: 0,
                    records: 0, granted_records: 0, eligible_amount_yen: 0, points: 0, cumulative_points: 0)
            }
            if month == nil || month == current {
                var total = Line(
                    month: current, provider_id: "TOTAL", provider_name: "all providers", runs: 0, files: 0,
                    records: 0, granted_records: 0, eligible_amount_yen: 0, points: 0, cumulative_points: 0)
                for provider in seen.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                    var line = seen[provider]!
                    line.cumulative_points = cumulative[provider] ?? 0
                    lines.append(line)
                    total.files += line.files
                    total.records += line.records
                    total.granted_records += line.granted_records
                    total.eligible_amount_yen += line.eligible_amount_yen
                    total.points += line.points
                    total.cumulative_points += line.cumulative_points
                }
                let runs = try ledger.connection.query(
                    """
                    SELECT count(DISTINCT r.run_id) FROM runs r JOIN files f ON f.run_id = r.run_id
                    WHERE f.outcome = 'settled' AND to_char(r.committed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM') = $1
                    """, [.text(current)])
                total.runs = Int(try runs[0, 0].int())
                lines.append(total)
            }
            current = nextMonth(current)
        }
        return ProviderStatement(month: month, lines: lines)
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

    /// The statement as CSV for a spreadsheet (CRLF, one header row).
    public var csv: String {
        var table = CSVTable()
        table.row(
            [
                "month", "provider_id", "provider_name", "runs", "files", "records", "granted_records",
                "eligible_amount_yen", "points_claimed", "cumulative_points",
            ].map(CSVTable.Cell.text))
        for line in lines {
            table.row([
                .text(line.month), .text(line.provider_id), .text(line.provider_name), .number(line.runs),
                .number(line.files), .number(line.records), .number(line.granted_records),
                .number(line.eligible_amount_yen), .number(line.points), .number(line.cumulative_points),
            ])
        }
        return table.text
    }
}
