import Foundation
public import Ledger
import Postgres
import Rules

/// The finance reconciliation report (settlement spec §10): what each provider is owed for the runs
/// finished in a period, and checks, from the database alone, that every line and point is accounted for.
///
/// Its JSON is exactly the §10 shape (`providers`, `totals`, `holders_at_cap`, `checks`); the period, the
/// per-month figures and the quarantined files ride along for the CSV and HTML renderings only.
public struct ReconciliationReport: Sendable, Codable {
    /// One provider's figures.
    public struct Provider: Sendable, Codable, Equatable {
        /// The provider.
        public var provider_id: String
        /// Settled files.
        public var files: Int
        /// Settled data lines (granted + rejected, `MALFORMED` included).
        public var records: Int
        /// Rows with status `GRANTED`.
        public var granted_records: Int
        /// Points owed (1 point = 1 yen).
        public var points: Int
        /// Eligible amount over the granted rows, yen.
        public var eligible_amount: Int
        /// `REJECTED` rows by reason.
        public var rejections: [String: Int]
    }

    /// Totals over providers.
    public struct Totals: Sendable, Codable, Equatable {
        /// Settled files.
        public var files: Int
        /// Quarantined files (of any provider, known or not).
        public var quarantined_files: Int
        /// Settled data lines.
        public var records: Int
        /// Rows with status `GRANTED`.
        public var granted_records: Int
        /// Points owed.
        public var points: Int
    }

    /// One reconciliation check and its verdict.
    public struct Check: Sendable, Codable, Equatable {
        /// Its name: `conservation`, `points` or `cap`.
        public var name: String
        /// True when it holds.
        public var ok: Bool
        /// The figures behind the verdict.
        public var detail: String
    }

    /// One provider's figures for the runs committed in one month (JST).
    public struct MonthRow: Sendable, Equatable {
        /// `YYYY-MM` of the runs' commit, in JST.
        public var month: String
        /// The provider.
        public var provider_id: String
        /// Runs that settled a file of the provider that month.
        public var runs: Int
        /// Settled files.
        public var files: Int
        /// Settled data lines.
        public var records: Int
        /// Rows with status `GRANTED`.
        public var granted_records: Int
        /// Points.
        public var points: Int
        /// Eligible amount, yen.
        public var eligible_amount: Int
    }

    /// A quarantined file of the period.
    public struct Quarantine: Sendable, Equatable {
        /// The run that quarantined it.
        public var run_id: Int64
        /// The data file's name.
        public var file: String
        /// The §3.4 code.
        public var code: String
        /// Why.
        public var message: String
    }

    /// First date (JST) of the period, when limited.
    public var from: String?
    /// Last date (JST) of the period, when limited.
    public var to: String?
    /// Per provider, in byte order of their IDs.
    public var providers: [Provider]
    /// Totals.
    public var totals: Totals
    /// Holders whose points reached the cap (over the whole campaign).
    public var holders_at_cap: Int
    /// The §10 checks.
    public var checks: [Check]
    /// Per month and provider, months ascending (not part of the JSON).
    public var months: [MonthRow] = []
    /// Quarantined files of the period (not part of the JSON).
    public var quarantines: [Quarantine] = []
    /// When the report was made, RFC 3339 in JST (not part of the JSON).
    public var generated_at = ""

    enum CodingKeys: String, CodingKey {
        case providers, totals, holders_at_cap, checks
    }

    /// True when every check holds.
    public var allChecksPass: Bool { checks.allSatisfy(\.ok) }

    /// `REJECTED` rows by reason over all providers.
    public var rejectionTotals: [String: Int] {
        var totals: [String: Int] = [:]
        for provider in providers {
            for (reason, count) in provider.rejections { totals[reason, default: 0] += count }
        }
        return totals
    }

    /// The eligible amount over all providers, yen.
    public var eligibleAmountTotal: Int { providers.reduce(0) { $0 + $1.eligible_amount } }

    /// The months of the report, ascending.
    public var monthList: [String] { Array(Set(months.map(\.month))).sorted() }

    /// The rejection codes of §4, in the spec's order (the stable columns of the CSV).
    public static let rejectionCodes: [String] = Reason.allCases.filter(\.isRejection).map(\.code)

    /// The SQL condition selecting runs committed on dates `$1`…`$2` (JST, inclusive; NULL: open).
    static let period = """
        r.run_id IN (SELECT run_id FROM runs
                     WHERE ($1::date IS NULL OR (committed_at AT TIME ZONE 'Asia/Tokyo')::date >= $1::date)
                       AND ($2::date IS NULL OR (committed_at AT TIME ZONE 'Asia/Tokyo')::date <= $2::date))
        """

    /// Computes the report for runs committed on dates `from`…`to` (JST, inclusive; YYYY-MM-DD; nil: open).
    public static func compute(ledger: Ledger, from: String?, to: String?) throws -> ReconciliationReport {
        let c = ledger.connection
        let bounds: [PostgresBind] = [from.map { .text($0) } ?? .null, to.map { .text($0) } ?? .null]
        let perProvider = try c.query(
            """
            SELECT p.provider_id, count(*), sum(f.records), sum(f.granted_records), sum(f.points), sum(f.eligible_amount)
            FROM files f JOIN runs r ON r.run_id = f.run_id JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.outcome = 'settled' AND \(period)
            GROUP BY p.provider_id ORDER BY p.provider_id COLLATE "C"
            """, bounds)
        var providers: [Provider] = []
        var index: [String: Int] = [:]
        for row in 0..<perProvider.rowCount {
            let id = try perProvider[row, 0].string()
            index[id] = providers.count
            providers.append(
                Provider(
                    provider_id: id, files: Int(try perProvider[row, 1].int()),
                    records: Int(try perProvider[row, 2].int()), granted_records: Int(try perProvider[row, 3].int()),
                    points: Int(try perProvider[row, 4].int()), eligible_amount: Int(try perProvider[row, 5].int()),
                    rejections: [:]))
        }
        let rejections = try c.query(
            """
            SELECT p.provider_id, o.reason, sum(o.records)
            FROM file_outcomes o JOIN files f ON f.file_id = o.file_id JOIN runs r ON r.run_id = f.run_id
            JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.outcome = 'settled' AND o.reason NOT IN ('', 'CAP_PARTIAL', 'CAP_REACHED') AND \(period)
            GROUP BY p.provider_id, o.reason
            """, bounds)
        for row in 0..<rejections.rowCount {
            if let i = index[try rejections[row, 0].string()] {
                providers[i].rejections[try rejections[row, 1].string()] = Int(try rejections[row, 2].int())
            }
        }
        let quarantined = try c.query(
            """
            SELECT r.run_id, f.name, f.quarantine_code, coalesce(f.quarantine_message, '')
            FROM files f JOIN runs r ON r.run_id = f.run_id
            WHERE f.outcome = 'quarantined' AND \(period) ORDER BY r.run_id, f.name COLLATE "C"
            """, bounds)
        var quarantines: [Quarantine] = []
        for row in 0..<quarantined.rowCount {
            quarantines.append(
                Quarantine(
                    run_id: try quarantined[row, 0].int(), file: try quarantined[row, 1].string(),
                    code: try quarantined[row, 2].string(), message: try quarantined[row, 3].string()))
        }
        let totals = Totals(
            files: providers.reduce(0) { $0 + $1.files }, quarantined_files: quarantines.count,
            records: providers.reduce(0) { $0 + $1.records },
            granted_records: providers.reduce(0) { $0 + $1.granted_records },
            points: providers.reduce(0) { $0 + $1.points })
        let atCap = try c.query("SELECT count(*) FROM ledger WHERE points = cap_points AND cap_points > 0")
        var report = ReconciliationReport(
            from: from, to: to, providers: providers, totals: totals, holders_at_cap: Int(try atCap[0, 0].int()),
            checks: try checks(c))
        report.months = try monthRows(c, bounds: bounds)
        report.quarantines = quarantines
        let now = try c.query(
            "SELECT to_char(now() AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+09:00\"')")
        report.generated_at = try now[0, 0].string()
        return report
    }

    /// Per month (of the run's commit, JST) and provider, for the runs of the period.
    static func monthRows(_ c: PostgresConnection, bounds: [PostgresBind]) throws -> [MonthRow] {
        let result = try c.query(
            """
            SELECT to_char(r.committed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM') AS month, p.provider_id,
                   count(DISTINCT r.run_id), count(*), sum(f.records), sum(f.granted_records), sum(f.points),
                   sum(f.eligible_amount)
            FROM files f JOIN runs r ON r.run_id = f.run_id JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.outcome = 'settled' AND \(period)
            GROUP BY 1, 2 ORDER BY month, p.provider_id COLLATE "C"
            """, bounds)
        return try (0..<result.rowCount).map { row in
            MonthRow(
                month: try result[row, 0].string(), provider_id: try result[row, 1].string(),
                runs: Int(try result[row, 2].int()), files: Int(try result[row, 3].int()),
                records: Int(try result[row, 4].int()), granted_records: Int(try result[row, 5].int()),
                points: Int(try result[row, 6].int()), eligible_amount: Int(try result[row, 7].int()))
        }
    }

    /// The §10 checks over the whole database.
    static func checks(_ c: PostgresConnection) throws -> [Check] {
        var checks: [Check] = []
        let conservation = try c.query(
            """
            SELECT count(*) FILTER (WHERE f.records <> f.granted_records + f.rejected_records
                                       OR f.records <> coalesce(o.n, 0)),
                   count(*), coalesce(sum(f.records), 0)
            FROM files f
            LEFT JOIN (SELECT file_id, sum(records) AS n FROM file_outcomes GROUP BY file_id) o ON o.file_id = f.file_id
            WHERE f.outcome = 'settled'
            """)
        let badFiles = try conservation[0, 0].int()
        let settledFiles = try conservation[0, 1].int()
        let lines = try conservation[0, 2].int()
        checks.append(
            Check(
                name: "conservation", ok: badFiles == 0,
                detail: badFiles == 0
                    ? "all \(settledFiles) settled files (\(lines) lines): lines = granted + rejected, one outcome per line"
                    : "\(badFiles) of \(settledFiles) settled files where lines ≠ granted + rejected or ≠ their outcomes"
            ))
        let sums = try c.query(
            """
            SELECT (SELECT coalesce(sum(points), 0) FROM grants),
                   (SELECT coalesce(sum(points), 0) FROM ledger),
                   (SELECT coalesce(sum((result_control::jsonb ->> 'points_total')::bigint), 0)
                    FROM files WHERE outcome = 'settled'),
                   (SELECT coalesce(sum(points), 0) FROM files WHERE outcome = 'settled')
            """)
        let grants = try sums[0, 0].int()
        let ledger = try sums[0, 1].int()
        let results = try sums[0, 2].int()
        let files = try sums[0, 3].int()
        let same = grants == ledger && ledger == results && results == files
        checks.append(
            Check(
                name: "points", ok: same,
                detail: "grants \(grants), holder ledger \(ledger), result control totals \(results), files \(files)"))
        let above = try c.query(
            "SELECT count(*), (SELECT cap_points FROM campaign WHERE id = 1) FROM ledger WHERE points > cap_points OR points < 0"
        )
        let aboveCap = try above[0, 0].int()
        let cap = try above[0, 1].optionalInt().map { " of \($0) points" } ?? ""
        checks.append(
            Check(
                name: "cap", ok: aboveCap == 0,
                detail: aboveCap == 0 ? "no holder above the cap\(cap)" : "\(aboveCap) holders above the cap\(cap)"))
        return checks
    }

    /// The report as CSV for a spreadsheet (RFC 4180, CRLF): providers with a total row, the period's figures,
    /// the months, and the checks, each block with its own header row and a blank line between blocks.
    public var csv: String {
        var table = CSVTable()
        let reasons = Self.rejectionCodes
        table.row(
            ["provider_id", "files", "records", "granted_records", "points", "eligible_amount"].map(CSVTable.Cell.text)
                + reasons.map { .text("rejected_\($0)") })
        for p in providers {
            table.row(
                [
                    .text(p.provider_id), .number(p.files), .number(p.records), .number(p.granted_records),
                    .number(p.points),
                    .number(p.eligible_amount),
                ] + reasons.map { .number(p.rejections[$0] ?? 0) })
        }
        let rejected = rejectionTotals
        table.row(
            [
                .text("TOTAL"), .number(totals.files), .number(totals.records), .number(totals.granted_records),
                .number(totals.points), .number(eligibleAmountTotal),
            ] + reasons.map { .number(rejected[$0] ?? 0) })
        table.blank()
        table.row(["from", "to", "quarantined_files", "holders_at_cap", "generated_at"].map(CSVTable.Cell.text))
        table.row(
            [
                .text(from ?? ""), .text(to ?? ""), .number(totals.quarantined_files), .number(holders_at_cap),
                .text(generated_at),
            ])
        table.blank()
        table.row(
            ["month", "provider_id", "runs", "files", "records", "granted_records", "points", "eligible_amount"].map(
                CSVTable.Cell.text))
        for m in months {
            table.row(
                [
                    .text(m.month), .text(m.provider_id), .number(m.runs), .number(m.files), .number(m.records),
                    .number(m.granted_records), .number(m.points), .number(m.eligible_amount),
                ])
        }
        table.blank()
        table.row(["check", "ok", "detail"].map(CSVTable.Cell.text))
        for check in checks {
            table.row([.text(check.name), .text(check.ok ? "true" : "false"), .text(check.detail)])
        }
        return table.text
    }
}
