import Foundation
import Postgres
public import Rules

extension Ledger {
    /// A new run number (from a sequence: numbers of runs that failed are never reused).
    public func nextRunID() throws -> Int64 {
        try connection.query("SELECT nextval('run_ids')")[0, 0].int()
    }

    /// Which of `ranges` hold a key earlier runs settled, by index into `ranges`: one query, a descent of the primary
    /// key per range.
    ///
    /// Providers mostly number their records upwards, so a new file's range of record IDs usually holds no settled
    /// key at all, and its keys need not be sent to ``alreadySettled(_:)``.
    public func rangesHoldingGrants(_ ranges: [KeyRange]) throws -> Set<Int> {
        guard !ranges.isEmpty else { return [] }
        func array(_ values: [String]) -> String {
            "{"
                + values.map {
                    "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                        + "\""
                }
                .joined(separator: ",") + "}"
        }
        let result = try connection.query(
            """
            SELECT r.ordinality - 1
            FROM unnest($1::integer[], $2::text[], $3::text[]) WITH ORDINALITY AS r(provider_key, low, high, ordinality)
            WHERE EXISTS (SELECT 1 FROM grants g WHERE g.provider_key = r.provider_key
                          AND g.record_id >= r.low COLLATE "C" AND g.record_id <= r.high COLLATE "C")
            """,
            [
                .text("{" + ranges.map { String($0.providerKey) }.joined(separator: ",") + "}"),
                .text(array(ranges.map { String(decoding: $0.low, as: UTF8.self) })),
                .text(array(ranges.map { String(decoding: $0.high, as: UTF8.self) })),
            ])
        return Set(try (0..<result.rowCount).map { Int(try result[$0, 0].int()) })
    }

    /// Positions (as given) of the run's keys that earlier runs settled: one set-based query, never one per record.
    public func alreadySettled(_ keys: RunKeys) throws -> [UInt64] {
        let any = try connection.query("SELECT EXISTS (SELECT 1 FROM grants)")
        guard try any[0, 0].bool() else { return [] }
        return try connection.transaction { connection in
            try connection.execute(
                "CREATE TEMPORARY TABLE run_keys (position bigint, provider_key integer, record_id text COLLATE \"C\") ON COMMIT DROP"
            )
            _ = try connection.copyIn(
                "COPY run_keys (position, provider_key, record_id) FROM STDIN (FORMAT binary)"
            ) { writer in
                try keys { key, recordID in
                    writer.beginRow(fieldCount: 3)
                    writer.writeInt64(Int64(key.position))
                    writer.writeInt32(key.providerKey)
                    writer.writeText(bytes: recordID)
                }
            }
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

    /// Begins a run's commit: draws the run's number, reserves the `file_id`s of its `files` registrations, and
    /// starts streaming `grants`, each element on a connection of its own (see ``RunCommit``).
    ///
    /// More than one stream needs a ledger that can connect again and a server that can prepare transactions:
    /// ask ``grantStreams(requested:)`` how many to make.
    public func beginRunCommit(files: Int, grants: [GrantRows]) throws -> RunCommit {
        precondition(grants.count <= 1 || canConnectAgain, "several grant streams need a ledger that can connect again")
        return try RunCommit(ledger: self, files: files, grants: grants)
    }

    /// Commits a run with its grants copied in one stream; the same as beginning a commit and finishing it at once.
    public func commitRun(
        _ header: RunHeader, files: [FileRegistration], balances: [BalanceChange], campaign: Campaign,
        grants: @escaping GrantRows
    ) throws {
        let commit = try RunCommit(ledger: self, files: files.count, grants: [grants], runID: header.runID)
        try commit.finish(header, files: files, balances: balances, campaign: campaign)
    }

    /// The run's entry in the audit log.
    func recordAudit(_ header: RunHeader) throws {
        try connection.query(
            """
            INSERT INTO audit_log (actor, action, subject, detail)
            VALUES ($1, 'run.commit', 'run ' || $2, $3::jsonb)
            """,
            [.text(header.startedBy), .text(String(header.runID)), .text(header.parametersJSON)])
    }

    /// Commits the transaction the ledger's connection has open; throws when the server rolled it back instead.
    func commitOpenTransaction() throws {
        let result = try connection.query("COMMIT")
        guard result.commandTag == "COMMIT" else {
            throw PostgresError(
                code: .queryFailed, message: "the transaction was rolled back because a statement in it failed")
        }
    }

    /// Rolls back whatever transaction the ledger's connection has open (nothing when none is).
    func rollbackQuietly() {
        try? connection.execute("ROLLBACK")
    }

    /// The `runs` row, its totals summed from the settled files.
    func insertRun(_ header: RunHeader, files: [FileRegistration]) throws {
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
    }

    /// One `files` row per registration, with the `file_id`s reserved for them, and its `file_outcomes`.
    func insertFiles(_ files: [FileRegistration], run: Int64, fileIDs: [Int64]) throws {
        for (file, fileID) in zip(files, fileIDs) {
            try connection.query(
                """
                INSERT INTO files (file_id, run_id, name, provider_key, sha256, outcome, quarantine_code, quarantine_message,
                                   quarantine_line, records, granted_records, rejected_records, points, eligible_amount,
                                   amount_total, result_name, result_sha256, result_control, result_csv_zst,
                                   control_sha256, raw_name)
                OVERRIDING SYSTEM VALUE
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                        $21)
                """,
                [
                    .int(fileID), .int(run), .text(file.name), file.providerKey.map { .int(Int64($0)) } ?? .null,
                    .bytes(file.sha256), .text(file.outcome.rawValue),
                    file.quarantine.map { .text($0.code) } ?? .null,
                    file.quarantine.map { .text($0.message) } ?? .null,
                    file.quarantine?.line.map { .int(Int64($0)) } ?? .null,
                    .int(Int64(file.records)), .int(Int64(file.grantedRecords)), .int(Int64(file.rejectedRecords)),
                    .int(Int64(file.points)), .int(Int64(file.eligibleAmount)), .int(Int64(file.amountTotal)),
                    file.result.map { .text($0.name) } ?? .null, file.result.map { .bytes($0.sha256) } ?? .null,
                    file.result.map { .text($0.control) } ?? .null, file.result.map { .bytes($0.bytes) } ?? .null,
                    file.controlSHA256.isEmpty ? .null : .bytes(file.controlSHA256),
                    file.rawName.map { .bytes($0) } ?? .null,
                ])
            for tally in file.tallies where tally.records > 0 {
                try connection.query(
                    "INSERT INTO file_outcomes (file_id, reason, records, points) VALUES ($1, $2, $3, $4)",
                    [.int(fileID), .text(tally.reason.code), .int(Int64(tally.records)), .int(Int64(tally.points))])
            }
        }
    }

    /// Streams grant rows by binary COPY on `connection`; the primary key refuses a key granted twice.
    ///
    /// Stops, copying
    /// nothing, once `stop` says so (it is asked now and then).
    static func copyGrants(
        _ grants: GrantRows, run: Int64, fileIDs: [Int64], on connection: PostgresConnection,
        stop: @escaping () -> Bool
    ) throws {
        var count = 0
        _ = try connection.copyIn(
            """
            COPY grants (provider_key, record_id, holder_key, run_id, file_id, line, occurred_at_ns, amount, points, reason)
            FROM STDIN (FORMAT binary)
            """
        ) { writer in
            try grants { row, recordID in
                count &+= 1
                if count & 0xFFFF == 0, stop() { throw CopyStopped() }
                writer.beginRow(fieldCount: 10)
                writer.writeInt32(row.providerKey)
                writer.writeText(bytes: recordID)
                if let holder = row.holderKey { writer.writeInt64(holder) } else { writer.writeNull() }
                writer.writeInt64(run)
                writer.writeInt64(fileIDs[row.file])
                writer.writeInt32(row.line)
                writer.writeInt64(row.occurredAt)
                writer.writeInt32(row.amount)
                writer.writeInt32(row.points)
                writer.writeInt16(Int16(row.reason.rawValue))
            }
        }
    }

    /// Writes the holders' new balances.
    ///
    /// Holders settled for the first time get their row by COPY; the others are
    /// updated only if their row still holds the balance the run started from, so a concurrent change cannot be
    /// overwritten (then nothing of the run commits).
    func writeBalances(_ balances: [BalanceChange], run: Int64, cap: Int) throws {
        let firstTime = balances.filter(\.isFirst)
        let earlier = balances.filter { !$0.isFirst }
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
                    writer.writeInt64(run)
                }
            }
        }
        guard !earlier.isEmpty else { return }
        // The hash join that applies the changes holds about 40 bytes a holder: in memory it takes a third less time
        // than in batches spilled to disk (PostgreSQL's default work_mem is 4 MB).
        try connection.execute(
            """
            SET LOCAL work_mem = '256MB';
            CREATE TEMPORARY TABLE ledger_changes (
                holder_key bigint, old_points integer, old_amount bigint, points integer, eligible_amount bigint,
                records integer) ON COMMIT DROP
            """)
        try connection.copyIn(
            """
            COPY ledger_changes (holder_key, old_points, old_amount, points, eligible_amount, records)
            FROM STDIN (FORMAT binary)
            """
        ) { writer in
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
            [.int(run)])
        guard updated.affectedRows == earlier.count else {
            throw LedgerError(
                "holder balances changed in the database while the run was settling; nothing was committed — run settle again"
            )
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
        /// The file's row in `files`, to read its result bytes by (`resultBytes(of:)`).
        public var fileID: Int64 = 0
        /// The result file's name and control file (settled files); its bytes are read apart.
        public var result: (name: String, control: String)?
        /// The quarantine verdict (quarantined files).
        public var quarantine: FileRegistration.Quarantine?
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

    /// The files of a run for (re)delivery, without their result bytes (`resultBytes(of:)` reads them one file at a
    /// time: a run's results together are a hundred megabytes per 10 million records).
    public func deliveryFiles(run: Int64) throws -> [DeliveryFile] {
        let result = try connection.query(
            """
            SELECT f.name, f.outcome, p.provider_id, f.result_name, f.file_id, f.result_control,
                   f.quarantine_code, f.quarantine_message, f.quarantine_line, f.sha256, f.control_sha256, f.raw_name
            FROM files f LEFT JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.run_id = $1 ORDER BY f.name COLLATE "C", f.file_id
            """, [.int(run)])
        return try (0..<result.rowCount).map { row in
            let outcome = FileRegistration.Outcome(rawValue: try result[row, 1].string()) ?? .quarantined
            var file = DeliveryFile(name: try result[row, 0].string(), outcome: outcome, providerID: nil)
            file.fileID = try result[row, 4].int()
            if !result[row, 2].isNull { file.providerID = try result[row, 2].string() }
            if !result[row, 3].isNull {
                file.result = (try result[row, 3].string(), try result[row, 5].string())
            }
            if !result[row, 6].isNull {
                let line = result[row, 8].isNull ? nil : Int(try result[row, 8].int())
                file.quarantine = FileRegistration.Quarantine(
                    code: try result[row, 6].string(), message: try result[row, 7].string(), line: line)
            }
            file.sha256 = try result[row, 9].bytes()
            if !result[row, 10].isNull { file.controlSHA256 = try result[row, 10].bytes() }
            if !result[row, 11].isNull { file.rawName = try result[row, 11].bytes() }
            return file
        }
    }

    /// The result file's bytes of a file `deliveryFiles` listed, as its run committed them.
    public func resultBytes(of file: DeliveryFile) throws -> [UInt8] {
        let result = try connection.query(
            "SELECT result_csv_zst FROM files WHERE file_id = $1 AND result_csv_zst IS NOT NULL", [.int(file.fileID)])
        guard result.rowCount == 1 else {
            throw LedgerError("the result file of \(file.name) is not in the ledger")
        }
        return try result[0, 0].bytes()
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
