public import Foundation
public import Postgres
public import Rules

/// What a run registers about one complete file, whatever its outcome.
public struct FileRegistration: Sendable {
    /// How the file ended.
    public enum Outcome: String, Sendable {
        case settled
        case quarantined
        case alreadySettled = "already_settled"
    }

    /// The data file's name.
    public var name: String
    /// The provider's database key, when the provider is registered.
    public var providerKey: Int32?
    /// SHA-256 of the compressed file (empty when it was not read: not a regular file).
    public var sha256: [UInt8]
    /// SHA-256 of the control file (empty when none was read).
    public var controlSHA256: [UInt8] = []
    /// The inbox name's bytes, when they are not valid UTF-8 (`name` then shows them as `\xHH`).
    public var rawName: [UInt8]?
    /// How the file ended.
    public var outcome: Outcome
    /// The quarantine code, message and line, for a quarantined file.
    public var quarantine: (code: String, message: String, line: Int?)?
    /// Data lines (= granted + rejected).
    public var records = 0
    /// Rows with status GRANTED.
    public var grantedRecords = 0
    /// Points granted.
    public var points = 0
    /// Eligible amount over the granted rows, yen.
    public var eligibleAmount = 0
    /// Sum of amounts over the five-field lines, yen.
    public var amountTotal = 0
    /// The result file's name, bytes and control JSON, for a settled file.
    public var result: (name: String, bytes: [UInt8], sha256: [UInt8], control: String)?
    /// Rows and points by reason code ("" for an unqualified grant).
    public var outcomes: [(reason: String, records: Int, points: Int)] = []

    /// A file's registration.
    public init(name: String, providerKey: Int32?, sha256: [UInt8], outcome: Outcome) {
        self.name = name
        self.providerKey = providerKey
        self.sha256 = sha256
        self.outcome = outcome
    }
}

/// A run's header: who, when, with which code and parameters.
public struct RunHeader: Sendable {
    /// The run's number.
    public var runID: Int64
    /// When it started: when the invocation took the settlement lock, or, for a later run of the same
    /// invocation, when the previous run ended.
    public var startedAt: Date
    /// Who started it.
    public var startedBy: String
    /// The host it ran on.
    public var host: String
    /// The build's version.
    public var version: String
    /// The campaign and run options, as JSON.
    public var parametersJSON: String

    /// A run header.
    public init(runID: Int64, startedAt: Date, startedBy: String, host: String, version: String, parametersJSON: String)
    {
        self.runID = runID
        self.startedAt = startedAt
        self.startedBy = startedBy
        self.host = host
        self.version = version
        self.parametersJSON = parametersJSON
    }
}

/// A holder's new balance after a run.
public struct BalanceChange: Sendable {
    /// The holder's key.
    public var holderKey: Int64
    /// The balance the run started from (checked against the database at commit).
    public var before: Balance
    /// The balance after the run.
    public var after: Balance
    /// Settled eligible records after the run.
    public var records: Int

    /// A balance change.
    public init(holderKey: Int64, before: Balance, after: Balance, records: Int) {
        self.holderKey = holderKey
        self.before = before
        self.after = after
        self.records = records
    }
}

extension Ledger {
    /// A new run number (from a sequence: numbers of runs that failed are never reused).
    public func nextRunID() throws -> Int64 {
        try connection.query("SELECT nextval('run_ids')")[0, 0].int()
    }

    /// Positions (as given) of the keys already settled in earlier runs: one set-based query, never one per record.
    ///
    /// `write` streams the run's keys as binary COPY rows `(position int8, provider_key int4, record_id text)`.
    public func alreadySettled(write: (inout PostgresBinaryCopyWriter) throws -> Void) throws -> [UInt64] {
        let any = try connection.query("SELECT EXISTS (SELECT 1 FROM grants)")
        guard try any[0, 0].bool() else { return [] }
        return try connection.transaction { connection in
            try connection.execute(
                "CREATE TEMPORARY TABLE run_keys (position bigint, provider_key integer, record_id text) ON COMMIT DROP"
            )
            _ = try connection.copyIn(
                "COPY run_keys (position, provider_key, record_id) FROM STDIN (FORMAT binary)", write)
            var positions: [UInt64] = []
            try connection.copyOut(
                """
                COPY (SELECT k.position FROM run_keys k
                      JOIN grants g ON g.provider_key = k.provider_key AND g.record_id = k.record_id) TO STDOUT
                """
            ) { raw in
                if let value = TextCopyRow(raw).int(0) { positions.append(UInt64(value)) }
            }
            return positions
        }
    }

    /// Commits a run in one transaction: run, files, outcomes, grants, ledger balances, audit.
    ///
    /// `writeGrants` receives the file IDs (in the order of `files`) and streams the grant rows
    /// `(provider_key, record_id, holder_key, run_id, file_id, line, occurred_at_ns, amount, points, reason)`.
    /// Fails, committing nothing, if any balance in the database differs from the one the run started from.
    /// When `campaign` is given and none is recorded yet, the same transaction records it: the first run that
    /// commits fixes the campaign, never an invocation that settles nothing (settlement spec §2).
    public func commitRun(
        _ header: RunHeader, files: [FileRegistration], balances: [BalanceChange], cap: Int, campaign: Campaign? = nil,
        writeGrants: ([Int64], inout PostgresBinaryCopyWriter) throws -> Void
    ) throws {
        try connection.transaction { connection in
            if let campaign { try self.recordCampaignIfNone(campaign, actor: header.startedBy) }
            let settled = files.filter { $0.outcome == .settled }
            try connection.query(
                """
                INSERT INTO runs (run_id, started_at, started_by, host, version, parameters, files, quarantined_files,
                                  already_settled_files, records, granted_records, points)
                VALUES ($1, to_timestamp($2::double precision), $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12)
                """,
                [
                    .int(header.runID), .text(String(header.startedAt.timeIntervalSince1970)), .text(header.startedBy),
                    .text(header.host), .text(header.version), .text(header.parametersJSON), .int(Int64(settled.count)),
                    .int(Int64(files.filter { $0.outcome == .quarantined }.count)),
                    .int(Int64(files.filter { $0.outcome == .alreadySettled }.count)),
                    .int(Int64(settled.reduce(0) { $0 + $1.records })),
                    .int(Int64(settled.reduce(0) { $0 + $1.grantedRecords })),
                    .int(Int64(settled.reduce(0) { $0 + $1.points })),
                ])
            CrashPoint.reach("run-row")
            var fileIDs: [Int64] = []
            for file in files {
                let result = try connection.query(
                    """
                    INSERT INTO files (run_id, name, provider_key, sha256, outcome, quarantine_code, quarantine_message,
                                       quarantine_line, records, granted_records, rejected_records, points, eligible_amount,
                                       amount_total, result_name, result_sha256, result_control, result_csv_zst,
                                       control_sha256, raw_name)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
                    RETURNING file_id
                    """,
                    [
                        .int(header.runID), .text(file.name), file.providerKey.map { .int(Int64($0)) } ?? .null,
                        .bytes(file.sha256), .text(file.outcome.rawValue),
                        file.quarantine.map { .text($0.code) } ?? .null,
                        file.quarantine.map { .text($0.message) } ?? .null,
                        file.quarantine?.line.map { .int(Int64($0)) } ?? .null,
                        .int(Int64(file.records)), .int(Int64(file.grantedRecords)),
                        .int(Int64(file.records - file.grantedRecords)), .int(Int64(file.points)),
                        .int(Int64(file.eligibleAmount)), .int(Int64(file.amountTotal)),
                        file.result.map { .text($0.name) } ?? .null, file.result.map { .bytes($0.sha256) } ?? .null,
                        file.result.map { .text($0.control) } ?? .null, file.result.map { .bytes($0.bytes) } ?? .null,
                        file.controlSHA256.isEmpty ? .null : .bytes(file.controlSHA256),
                        file.rawName.map { .bytes($0) } ?? .null,
                    ])
                let fileID = try result[0, 0].int()
                fileIDs.append(fileID)
                for outcome in file.outcomes where outcome.records > 0 {
                    try connection.query(
                        "INSERT INTO file_outcomes (file_id, reason, records, points) VALUES ($1, $2, $3, $4)",
                        [
                            .int(fileID), .text(outcome.reason), .int(Int64(outcome.records)),
                            .int(Int64(outcome.points)),
                        ])
                }
            }

            CrashPoint.reach("file-rows")
            _ = try connection.copyIn(
                """
                COPY grants (provider_key, record_id, holder_key, run_id, file_id, line, occurred_at_ns, amount, points, reason)
                FROM STDIN (FORMAT binary)
                """
            ) { writer in try writeGrants(fileIDs, &writer) }

            CrashPoint.reach("grants")
            // Holders settled for the first time get their row by COPY; the others are updated only if their
            // row still holds the balance the run started from, so a concurrent change cannot be overwritten.
            let firstTime = balances.filter { $0.before.eligibleAmount == 0 && $0.before.points == 0 }
            let earlier = balances.filter { !($0.before.eligibleAmount == 0 && $0.before.points == 0) }
            if !firstTime.isEmpty {
                try connection.copyIn(
                    "COPY ledger (holder_key, cap_points, points, eligible_amount, records, run_id) FROM STDIN (FORMAT binary)"
                ) { writer in
                    for change in firstTime {
                        writer.beginRow(fieldCount: 6)
                        writer.writeInt64(change.holderKey)
                        writer.writeInt32(Int32(cap))
                        writer.writeInt32(Int32(change.after.points))
                        writer.writeInt64(Int64(change.after.eligibleAmount))
                        writer.writeInt32(Int32(change.records))
                        writer.writeInt64(header.runID)
                    }
                }
            }
            if !earlier.isEmpty {
                try connection.execute(
                    """
                    CREATE TEMPORARY TABLE ledger_changes (
                        holder_key bigint, old_points integer, old_amount bigint, points integer, eligible_amount bigint,
                        records integer) ON COMMIT DROP
                    """)
                try connection.copyIn("COPY ledger_changes FROM STDIN (FORMAT binary)") { writer in
                    for change in earlier {
                        writer.beginRow(fieldCount: 6)
                        writer.writeInt64(change.holderKey)
                        writer.writeInt32(Int32(change.before.points))
                        writer.writeInt64(Int64(change.before.eligibleAmount))
                        writer.writeInt32(Int32(change.after.points))
                        writer.writeInt64(Int64(change.after.eligibleAmount))
                        writer.writeInt32(Int32(change.records))
                    }
                }
                let updated = try connection.query(
                    """
                    UPDATE ledger l SET points = c.points, eligible_amount = c.eligible_amount, records = c.records,
                        run_id = $1
                    FROM ledger_changes c
                    WHERE l.holder_key = c.holder_key AND l.points = c.old_points AND l.eligible_amount = c.old_amount
                    """,
                    [.int(header.runID)])
                guard updated.affectedRows == earlier.count else {
                    throw LedgerError(
                        "holder balances changed in the database while the run was settling; nothing was committed — run settle again"
                    )
                }
            }
            CrashPoint.reach("ledger")
            try connection.query(
                """
                INSERT INTO audit_log (actor, action, subject, detail)
                VALUES ($1, 'run.commit', 'run ' || $2, $3::jsonb)
                """,
                [.text(header.startedBy), .text(String(header.runID)), .text(header.parametersJSON)])
            CrashPoint.reach("before-commit")
        }
    }

    /// A file of a committed run, as delivery needs it.
    public struct DeliveryFile: Sendable {
        /// The data file's name.
        public var name: String
        /// How it ended.
        public var outcome: FileRegistration.Outcome
        /// The provider ID, when known.
        public var providerID: String?
        /// The result file (settled files).
        public var result: (name: String, bytes: [UInt8], control: String)?
        /// The quarantine verdict (quarantined files).
        public var quarantine: (code: String, message: String, line: Int?)?
        /// SHA-256 of the data file the run decided on (empty when it was not a regular file).
        public var sha256: [UInt8] = []
        /// SHA-256 of the control file the run read (empty when none).
        public var controlSHA256: [UInt8] = []
        /// The inbox name's bytes, when they are not valid UTF-8.
        public var rawName: [UInt8]?
    }

    /// Runs committed whose result files and moves are not yet confirmed, oldest first.
    public func undeliveredRuns() throws -> [Int64] {
        let result = try connection.query("SELECT run_id FROM runs WHERE delivered_at IS NULL ORDER BY run_id")
        return try (0..<result.rowCount).map { try result[$0, 0].int() }
    }

    /// The files of a run, with their result bytes, for (re)delivery.
    public func deliveryFiles(run: Int64) throws -> [DeliveryFile] {
        let result = try connection.query(
            """
            SELECT f.name, f.outcome, p.provider_id, f.result_name, f.result_csv_zst, f.result_control,
                   f.quarantine_code, f.quarantine_message, f.quarantine_line, f.sha256, f.control_sha256, f.raw_name
            FROM files f LEFT JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.run_id = $1 ORDER BY f.name COLLATE "C", f.file_id
            """, [.int(run)])
        return try (0..<result.rowCount).map { row in
            let outcome = FileRegistration.Outcome(rawValue: try result[row, 1].string()) ?? .quarantined
            var file = DeliveryFile(name: try result[row, 0].string(), outcome: outcome, providerID: nil)
            if !result[row, 2].isNull { file.providerID = try result[row, 2].string() }
            if !result[row, 3].isNull {
                file.result = (try result[row, 3].string(), try result[row, 4].bytes(), try result[row, 5].string())
            }
            if !result[row, 6].isNull {
                let line = result[row, 8].isNull ? nil : Int(try result[row, 8].int())
                file.quarantine = (try result[row, 6].string(), try result[row, 7].string(), line)
            }
            file.sha256 = try result[row, 9].bytes()
            if !result[row, 10].isNull { file.controlSHA256 = try result[row, 10].bytes() }
            if !result[row, 11].isNull { file.rawName = try result[row, 11].bytes() }
            return file
        }
    }

    /// Confirms that a run's result files are written and its inputs moved, and records how long the run took
    /// when `durationMilliseconds` is given.
    ///
    /// A run's duration runs from its start through this delivery, so it is unknown at the commit (`NULL`: pending).
    /// The process that committed the run measures it with its own clock (the database's may be another
    /// machine's); a run delivered by a later invocation, after a crash or a failed delivery, gets none, since the
    /// time until then is the outage's, not the run's.
    public func markDelivered(run: Int64, durationMilliseconds: Int64? = nil) throws {
        try connection.query(
            """
            UPDATE runs SET delivered_at = clock_timestamp(), duration_ms = coalesce($2::bigint, duration_ms)
            WHERE run_id = $1
            """,
            [.int(run), durationMilliseconds.map { .int($0) } ?? .null])
    }
}
