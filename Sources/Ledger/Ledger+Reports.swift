public import Postgres

/// The runs whose commit falls on dates `from`…`to` in JST, inclusive; a nil bound leaves that side open.
public struct CommitPeriod: Sendable, Equatable {
    /// The first date, `YYYY-MM-DD` (JST), or nil for no lower bound.
    public var from: String?
    /// The last date, `YYYY-MM-DD` (JST), or nil for no upper bound.
    public var to: String?

    /// A period from `from` to `to` (JST dates, inclusive).
    public init(from: String?, to: String?) {
        self.from = from
        self.to = to
    }

    /// Every run.
    public static let all = CommitPeriod(from: nil, to: nil)

    /// The bounds as `$1` and `$2` of ``condition``.
    var parameters: [PostgresBind] { [from.map { .text($0) } ?? .null, to.map { .text($0) } ?? .null] }

    /// The SQL condition selecting runs `r` of the period, over parameters `$1` and `$2`.
    static let condition = """
        r.run_id IN (SELECT run_id FROM runs
                     WHERE ($1::date IS NULL OR (committed_at AT TIME ZONE 'Asia/Tokyo')::date >= $1::date)
                       AND ($2::date IS NULL OR (committed_at AT TIME ZONE 'Asia/Tokyo')::date <= $2::date))
        """
}

/// One provider's settled files in a period; encoded with the keys of the reconciliation report's `providers`.
public struct ProviderSettlement: Sendable, Equatable, Codable {
    /// The provider.
    public var providerID: String
    /// Settled files.
    public var files: Int
    /// Settled data lines (granted + rejected, `MALFORMED` included).
    public var records: Int
    /// Rows with status `GRANTED`.
    public var grantedRecords: Int
    /// Points granted (1 point = 1 yen).
    public var points: Int
    /// Eligible amount over the granted rows, yen.
    public var eligibleAmount: Int
    /// `REJECTED` rows by reason (filled from ``Ledger/rejectionsByProvider(in:)``; empty as the query returns it).
    public var rejections: [String: Int] = [:]

    enum CodingKeys: String, CodingKey {
        case providerID = "provider_id"
        case files, records
        case grantedRecords = "granted_records"
        case points
        case eligibleAmount = "eligible_amount"
        case rejections
    }
}

/// The settled lines of one provider rejected for one reason in a period.
public struct ProviderRejections: Sendable, Equatable {
    /// The provider.
    public var providerID: String
    /// The rejection's reason code.
    public var reason: String
    /// Lines rejected for it.
    public var records: Int
}

/// One provider's settled files for the runs committed in one month (JST).
public struct MonthlySettlement: Sendable, Equatable {
    /// `YYYY-MM` of the runs' commit, in JST.
    public var month: String
    /// The provider.
    public var providerID: String
    /// The provider's registered name.
    public var providerName: String
    /// Runs that settled a file of the provider that month.
    public var runs: Int
    /// Settled files.
    public var files: Int
    /// Settled data lines.
    public var records: Int
    /// Rows with status `GRANTED`.
    public var grantedRecords: Int
    /// Points granted.
    public var points: Int
    /// Eligible amount over the granted rows, yen.
    public var eligibleAmount: Int
}

/// A file a run quarantined.
public struct QuarantinedFile: Sendable, Equatable {
    /// The run that quarantined it.
    public var runID: Int64
    /// The data file's name.
    public var name: String
    /// The quarantine code (settlement spec §3.4).
    public var code: String
    /// Why it was quarantined (empty when nothing was recorded).
    public var message: String
}

/// The figures behind the reconciliation checks (settlement spec §10), over the whole database.
public struct ReconciliationFigures: Sendable, Equatable {
    /// Settled files whose lines differ from granted + rejected, or from the sum of their outcome rows.
    public var unbalancedFiles: Int
    /// Settled files.
    public var settledFiles: Int
    /// Data lines of the settled files.
    public var settledLines: Int
    /// Points over the grant rows.
    public var grantPoints: Int
    /// Points over the holders' ledger rows.
    public var ledgerPoints: Int
    /// `points_total` over the result control files stored with the settled files.
    public var resultControlPoints: Int
    /// Points over the settled files' rows.
    public var filePoints: Int
    /// Holders whose points are above their cap or below zero.
    public var holdersOutsideCap: Int
    /// The recorded campaign's cap, when a campaign is recorded.
    public var capPoints: Int?
}

/// A committed run as the `runs` table records it; encoded with the keys `runs --json` prints (its parameters apart).
public struct CommittedRun: Sendable, Equatable, Codable {
    /// The run's number.
    public var runID: Int64
    /// When it started, RFC 3339 in JST to the second.
    public var startedAt: String
    /// When it committed, RFC 3339 in JST to the second.
    public var committedAt: String
    /// When its result files and moves were confirmed, RFC 3339 in JST; nil while not yet delivered.
    public var deliveredAt: String?
    /// From its start through delivery, milliseconds; nil while pending or when a later invocation delivered it.
    public var durationMilliseconds: Int?
    /// Operating-system user and host that started it.
    public var startedBy: String
    /// The host it ran on.
    public var host: String
    /// The build's version.
    public var version: String
    /// Settled files.
    public var files: Int
    /// Quarantined files.
    public var quarantinedFiles: Int
    /// Files skipped as already settled.
    public var alreadySettledFiles: Int
    /// Settled data lines.
    public var records: Int
    /// Rows granted.
    public var grantedRecords: Int
    /// Points granted.
    public var points: Int
    /// The campaign and run options it was made with, as JSON (not encoded: `runs show` prints them parsed).
    public var parametersJSON: String = "{}"

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case startedAt = "started_at"
        case committedAt = "committed_at"
        case deliveredAt = "delivered_at"
        case durationMilliseconds = "duration_ms"
        case startedBy = "started_by"
        case host, version, files
        case quarantinedFiles = "quarantined_files"
        case alreadySettledFiles = "already_settled_files"
        case records
        case grantedRecords = "granted_records"
        case points
    }
}

/// One file of a committed run.
public struct CommittedRunFile: Sendable, Equatable, Codable {
    /// The data file's name.
    public var name: String
    /// The provider, when registered.
    public var providerID: String?
    /// How the file ended.
    public var outcome: FileRegistration.Outcome
    /// Data lines.
    public var records: Int
    /// Rows granted.
    public var grantedRecords: Int
    /// Points granted.
    public var points: Int
    /// Eligible amount over the granted rows, yen.
    public var eligibleAmount: Int
    /// The result file's name (settled files).
    public var resultName: String?
    /// The quarantine code (quarantined files).
    public var quarantineCode: String?
    /// Why it was quarantined.
    public var quarantineMessage: String?
    /// The line that decided the quarantine, when one did.
    public var quarantineLine: Int?

    enum CodingKeys: String, CodingKey {
        case name
        case providerID = "provider_id"
        case outcome, records
        case grantedRecords = "granted_records"
        case points
        case eligibleAmount = "eligible_amount"
        case resultName = "result_name"
        case quarantineCode = "quarantine_code"
        case quarantineMessage = "quarantine_message"
        case quarantineLine = "quarantine_line"
    }
}

// The finance reports and the run history read the settled figures through these queries, so the schema stays
// Ledger's own.
extension Ledger {
    // MARK: Reconciliation and statements

    /// Per provider, the files settled by the runs of `period`, in byte order of the provider IDs.
    public func settlementsByProvider(in period: CommitPeriod) throws -> [ProviderSettlement] {
        let result = try connection.query(
            """
            SELECT p.provider_id, count(*), sum(f.records), sum(f.granted_records), sum(f.points),
                   sum(f.eligible_amount)
            FROM files f JOIN runs r ON r.run_id = f.run_id JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.outcome = 'settled' AND \(CommitPeriod.condition)
            GROUP BY p.provider_id ORDER BY p.provider_id COLLATE "C"
            """, period.parameters)
        return try (0..<result.rowCount).map { row in
            ProviderSettlement(
                providerID: try result[row, 0].string(), files: Int(try result[row, 1].int()),
                records: Int(try result[row, 2].int()), grantedRecords: Int(try result[row, 3].int()),
                points: Int(try result[row, 4].int()), eligibleAmount: Int(try result[row, 5].int()))
        }
    }

    /// Per provider and rejection reason, the rejected lines of the files settled by the runs of `period`.
    public func rejectionsByProvider(in period: CommitPeriod) throws -> [ProviderRejections] {
        let result = try connection.query(
            """
            SELECT p.provider_id, o.reason, sum(o.records)
            FROM file_outcomes o JOIN files f ON f.file_id = o.file_id JOIN runs r ON r.run_id = f.run_id
            JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.outcome = 'settled' AND o.reason NOT IN ('', 'CAP_PARTIAL', 'CAP_REACHED')
              AND \(CommitPeriod.condition)
            GROUP BY p.provider_id, o.reason
            """, period.parameters)
        return try (0..<result.rowCount).map { row in
            ProviderRejections(
                providerID: try result[row, 0].string(), reason: try result[row, 1].string(),
                records: Int(try result[row, 2].int()))
        }
    }

    /// Per month of the runs' commit (JST) and provider, the files settled by the runs of `period`: months
    /// ascending, providers in byte order of their IDs.
    public func monthlySettlements(in period: CommitPeriod) throws -> [MonthlySettlement] {
        let result = try connection.query(
            """
            SELECT to_char(r.committed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM') AS month, p.provider_id, p.name,
                   count(DISTINCT r.run_id), count(*), sum(f.records), sum(f.granted_records), sum(f.points),
                   sum(f.eligible_amount)
            FROM files f JOIN runs r ON r.run_id = f.run_id JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.outcome = 'settled' AND \(CommitPeriod.condition)
            GROUP BY 1, 2, 3 ORDER BY month, p.provider_id COLLATE "C"
            """, period.parameters)
        return try (0..<result.rowCount).map { row in
            MonthlySettlement(
                month: try result[row, 0].string(), providerID: try result[row, 1].string(),
                providerName: try result[row, 2].string(), runs: Int(try result[row, 3].int()),
                files: Int(try result[row, 4].int()), records: Int(try result[row, 5].int()),
                grantedRecords: Int(try result[row, 6].int()), points: Int(try result[row, 7].int()),
                eligibleAmount: Int(try result[row, 8].int()))
        }
    }

    /// The runs committed in `month` (`YYYY-MM`, JST) that settled at least one file.
    public func settlingRunCount(month: String) throws -> Int {
        let result = try connection.query(
            """
            SELECT count(DISTINCT r.run_id) FROM runs r JOIN files f ON f.run_id = r.run_id
            WHERE f.outcome = 'settled' AND to_char(r.committed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM') = $1
            """, [.text(month)])
        return Int(try result[0, 0].int())
    }

    /// The files quarantined by the runs of `period`, by run, then in byte order of their names.
    public func quarantinedFiles(in period: CommitPeriod) throws -> [QuarantinedFile] {
        let result = try connection.query(
            """
            SELECT r.run_id, f.name, f.quarantine_code, coalesce(f.quarantine_message, '')
            FROM files f JOIN runs r ON r.run_id = f.run_id
            WHERE f.outcome = 'quarantined' AND \(CommitPeriod.condition) ORDER BY r.run_id, f.name COLLATE "C"
            """, period.parameters)
        return try (0..<result.rowCount).map { row in
            QuarantinedFile(
                runID: try result[row, 0].int(), name: try result[row, 1].string(), code: try result[row, 2].string(),
                message: try result[row, 3].string())
        }
    }

    /// Holders whose points reached a positive cap, over the whole campaign.
    public func holdersAtCap() throws -> Int {
        let result = try connection.query("SELECT count(*) FROM ledger WHERE points = cap_points AND cap_points > 0")
        return Int(try result[0, 0].int())
    }

    /// The figures the reconciliation checks compare, over the whole database.
    public func reconciliationFigures() throws -> ReconciliationFigures {
        let conservation = try connection.query(
            """
            SELECT count(*) FILTER (WHERE f.records <> f.granted_records + f.rejected_records
                                       OR f.records <> coalesce(o.n, 0)),
                   count(*), coalesce(sum(f.records), 0)
            FROM files f
            LEFT JOIN (SELECT file_id, sum(records) AS n FROM file_outcomes GROUP BY file_id) o ON o.file_id = f.file_id
            WHERE f.outcome = 'settled'
            """)
        let points = try connection.query(
            """
            SELECT (SELECT coalesce(sum(points), 0) FROM grants),
                   (SELECT coalesce(sum(points), 0) FROM ledger),
                   (SELECT coalesce(sum((result_control::jsonb ->> 'points_total')::bigint), 0)
                    FROM files WHERE outcome = 'settled'),
                   (SELECT coalesce(sum(points), 0) FROM files WHERE outcome = 'settled')
            """)
        let cap = try connection.query(
            """
            SELECT count(*), (SELECT cap_points FROM campaign WHERE id = 1) FROM ledger
            WHERE points > cap_points OR points < 0
            """)
        return ReconciliationFigures(
            unbalancedFiles: Int(try conservation[0, 0].int()), settledFiles: Int(try conservation[0, 1].int()),
            settledLines: Int(try conservation[0, 2].int()), grantPoints: Int(try points[0, 0].int()),
            ledgerPoints: Int(try points[0, 1].int()), resultControlPoints: Int(try points[0, 2].int()),
            filePoints: Int(try points[0, 3].int()), holdersOutsideCap: Int(try cap[0, 0].int()),
            capPoints: try cap[0, 1].optionalInt().map { Int($0) })
    }

    /// The database's current time, RFC 3339 in JST to the second.
    public func currentTimeInJST() throws -> String {
        let result = try connection.query(
            "SELECT to_char(now() AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+09:00\"')")
        return try result[0, 0].string()
    }

    // MARK: Run history

    /// The columns ``committedRun(_:_:)`` reads, in its order.
    private static let committedRunColumns = """
        run_id,
        to_char(started_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        to_char(committed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        to_char(delivered_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        duration_ms, started_by, host, version, files, quarantined_files, already_settled_files, records,
        granted_records, points, parameters::text
        """

    /// The most recent `limit` committed runs, newest first.
    public func committedRuns(limit: Int) throws -> [CommittedRun] {
        let result = try connection.query(
            "SELECT \(Self.committedRunColumns) FROM runs ORDER BY run_id DESC LIMIT $1", [.int(Int64(max(0, limit)))])
        return try (0..<result.rowCount).map { try Self.committedRun(result, $0) }
    }

    /// The committed run numbered `id`; nil when there is none.
    public func committedRun(_ id: Int64) throws -> CommittedRun? {
        let result = try connection.query("SELECT \(Self.committedRunColumns) FROM runs WHERE run_id = $1", [.int(id)])
        guard result.rowCount == 1 else { return nil }
        return try Self.committedRun(result, 0)
    }

    /// A row of ``committedRunColumns``.
    private static func committedRun(_ result: PostgresResult, _ row: Int) throws -> CommittedRun {
        CommittedRun(
            runID: try result[row, 0].int(), startedAt: try result[row, 1].string(),
            committedAt: try result[row, 2].string(), deliveredAt: result[row, 3].optionalString(),
            durationMilliseconds: try result[row, 4].optionalInt().map { Int($0) },
            startedBy: try result[row, 5].string(), host: try result[row, 6].string(),
            version: try result[row, 7].string(), files: Int(try result[row, 8].int()),
            quarantinedFiles: Int(try result[row, 9].int()), alreadySettledFiles: Int(try result[row, 10].int()),
            records: Int(try result[row, 11].int()), grantedRecords: Int(try result[row, 12].int()),
            points: Int(try result[row, 13].int()), parametersJSON: try result[row, 14].string())
    }

    /// The files of run `id`, in byte order of their names.
    public func committedRunFiles(run id: Int64) throws -> [CommittedRunFile] {
        let result = try connection.query(
            """
            SELECT f.name, p.provider_id, f.outcome, f.records, f.granted_records, f.points, f.eligible_amount,
                   f.result_name, f.quarantine_code, f.quarantine_message, f.quarantine_line
            FROM files f LEFT JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.run_id = $1 ORDER BY f.name COLLATE "C", f.file_id
            """, [.int(id)])
        return try (0..<result.rowCount).map { row in
            let outcome = try result[row, 2].string()
            guard let known = FileRegistration.Outcome(rawValue: outcome) else {
                throw LedgerError("run \(id) records a file with the unknown outcome \(outcome)")
            }
            return CommittedRunFile(
                name: try result[row, 0].string(), providerID: result[row, 1].optionalString(), outcome: known,
                records: Int(try result[row, 3].int()), grantedRecords: Int(try result[row, 4].int()),
                points: Int(try result[row, 5].int()), eligibleAmount: Int(try result[row, 6].int()),
                resultName: result[row, 7].optionalString(), quarantineCode: result[row, 8].optionalString(),
                quarantineMessage: result[row, 9].optionalString(),
                quarantineLine: try result[row, 10].optionalInt().map { Int($0) })
        }
    }

    /// Lines of run `id`'s files by result reason code (`""` for an unqualified grant).
    public func runOutcomes(run id: Int64) throws -> [String: Int] {
        let result = try connection.query(
            """
            SELECT o.reason, sum(o.records) FROM file_outcomes o JOIN files f ON f.file_id = o.file_id
            WHERE f.run_id = $1 GROUP BY o.reason
            """, [.int(id)])
        var outcomes: [String: Int] = [:]
        for row in 0..<result.rowCount { outcomes[try result[row, 0].string()] = Int(try result[row, 1].int()) }
        return outcomes
    }

    // MARK: Verification

    /// The connection itself, so that `verify` can check the ledger against its raw rows without trusting
    /// Ledger's own queries; nothing else should read through it.
    @_spi(Verification) public var verificationConnection: PostgresConnection { connection }
}
