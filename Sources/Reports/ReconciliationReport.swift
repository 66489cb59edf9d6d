public import Ledger
import Foundation
import Postgres

/// The finance reconciliation report (settlement spec §10): what each provider is owed for the runs
/// finished in a period, and checks, from the database alone, that every line and point is accounted for.
public struct ReconciliationReport: Sendable, Codable {
    /// One provider's figures.
    public struct Provider: Sendable, Codable {
        public var provider_id: String
        public var files: Int
        public var records: Int
        public var granted_records: Int
        public var points: Int
        public var eligible_amount: Int
        public var rejections: [String: Int]
    }

    /// Totals over providers.
    public struct Totals: Sendable, Codable {
        public var files: Int
        public var quarantined_files: Int
        public var records: Int
        public var granted_records: Int
        public var points: Int
    }

    /// One reconciliation check and its verdict.
    public struct Check: Sendable, Codable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    public var from: String?
    public var to: String?
    public var providers: [Provider]
    public var totals: Totals
    public var holders_at_cap: Int
    public var checks: [Check]

    /// True when every check holds.
    public var allChecksPass: Bool { checks.allSatisfy(\.ok) }

    /// Computes the report for runs committed on dates `from`…`to` (JST, inclusive; YYYY-MM-DD; nil: open).
    public static func compute(ledger: Ledger, from: String?, to: String?) throws -> ReconciliationReport {
        let c = ledger.connection
        let period = """
            r.run_id IN (SELECT run_id FROM runs
                         WHERE ($1::date IS NULL OR (committed_at AT TIME ZONE 'Asia/Tokyo')::date >= $1::date)
                           AND ($2::date IS NULL OR (committed_at AT TIME ZONE 'Asia/Tokyo')::date <= $2::date))
            """
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
                    provider_id: id, files: Int(try perProvider[row, 1].int()), records: Int(try perProvider[row, 2].int()),
                    granted_records: Int(try perProvider[row, 3].int()), points: Int(try perProvider[row, 4].int()),
                    eligible_amount: Int(try perProvider[row, 5].int()), rejections: [:]))
        }
        let rejections = try c.query(
            """
            SELECT p.provider_id, o.reason, sum(o.records)
            FROM file_outcomes o JOIN files f ON f.file_id = o.file_id JOIN runs r ON r.run_id = f.run_id
            JOIN providers p ON p.provider_key = f.provider_key
            WHERE o.reason NOT IN ('', 'CAP_PARTIAL', 'CAP_REACHED') AND \(period)
            GROUP BY p.provider_id, o.reason
            """, bounds)
        for row in 0..<rejections.rowCount {
            if let i = index[try rejections[row, 0].string()] {
                providers[i].rejections[try rejections[row, 1].string()] = Int(try rejections[row, 2].int())
            }
        }
        let quarantined = try c.query(
            "SELECT count(*) FROM files f JOIN runs r ON r.run_id = f.run_id WHERE f.outcome = 'quarantined' AND \(period)",
            bounds)
        let totals = Totals(
            files: providers.reduce(0) { $0 + $1.files }, quarantined_files: Int(try quarantined[0, 0].int()),
            records: providers.reduce(0) { $0 + $1.records }, granted_records: providers.reduce(0) { $0 + $1.granted_records },
            points: providers.reduce(0) { $0 + $1.points })
        let atCap = try c.query("SELECT count(*) FROM ledger WHERE points = cap_points AND cap_points > 0")
        return ReconciliationReport(
            from: from, to: to, providers: providers, totals: totals, holders_at_cap: Int(try atCap[0, 0].int()),
            checks: try checks(c))
    }

    /// The §10 checks over the whole database.
    static func checks(_ c: PostgresConnection) throws -> [Check] {
        var checks: [Check] = []
        let conservation = try c.query(
            """
            SELECT count(*), coalesce(sum(f.records), 0) FROM files f
            LEFT JOIN (SELECT file_id, sum(records) AS n FROM file_outcomes GROUP BY file_id) o ON o.file_id = f.file_id
            WHERE f.outcome = 'settled'
              AND (f.records <> f.granted_records + f.rejected_records OR f.records <> coalesce(o.n, 0))
            """)
        let badFiles = try conservation[0, 0].int()
        checks.append(
            Check(
                name: "conservation", ok: badFiles == 0,
                detail: badFiles == 0
                    ? "every settled file: lines = granted + rejected, and every line has one outcome"
                    : "\(badFiles) settled files where lines ≠ granted + rejected"))
        let sums = try c.query(
            """
            SELECT (SELECT coalesce(sum(points), 0) FROM grants),
                   (SELECT coalesce(sum(points), 0) FROM ledger),
                   (SELECT coalesce(sum((result_control::jsonb ->> 'points_total')::bigint), 0) FROM files WHERE outcome = 'settled'),
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
        let above = try c.query("SELECT count(*) FROM ledger WHERE points > cap_points OR points < 0")
        let aboveCap = try above[0, 0].int()
        checks.append(
            Check(
                name: "cap", ok: aboveCap == 0,
                detail: aboveCap == 0 ? "no holder above the cap" : "\(aboveCap) holders above the cap"))
        return checks
    }

    /// The report as CSV for a spreadsheet: one row per provider, then the totals and checks.
    public var csv: String {
        var reasons = Set<String>()
        for p in providers { reasons.formUnion(p.rejections.keys) }
        let reasonColumns = reasons.sorted()
        var out = "provider_id,files,records,granted_records,points,eligible_amount"
        out += reasonColumns.map { ",rejected_\($0)" }.joined() + "\r\n"
        for p in providers {
            out += "\(p.provider_id),\(p.files),\(p.records),\(p.granted_records),\(p.points),\(p.eligible_amount)"
            out += reasonColumns.map { ",\(p.rejections[$0] ?? 0)" }.joined() + "\r\n"
        }
        out += "TOTAL,\(totals.files),\(totals.records),\(totals.granted_records),\(totals.points),"
        out += "\(providers.reduce(0) { $0 + $1.eligible_amount })" + String(repeating: ",", count: reasonColumns.count) + "\r\n"
        out += "\r\ncheck,ok,detail\r\n"
        for check in checks {
            out += "\(check.name),\(check.ok),\"\(check.detail.replacingOccurrences(of: "\"", with: "\"\""))\"\r\n"
        }
        return out
    }
}
