import Crypto
import Foundation
@_spi(Verification) public import Ledger
public import Localization
import Postgres
import Rules
import Zstd

/// An independent audit of the settlement database (and, when given, the outbox): every holder's ledger
/// recomputed from the grants, every settled file's conservation re-derived, every result file's control
/// totals compared with the grants and with the bytes actually stored and delivered.
///
/// It only reads; any difference is listed, one line each, with the holder or file, the field, what was
/// expected and what was found.
public struct Verification: Sendable {
    // The audit reads the raw rows with its own SQL, through Ledger's `Verification` SPI rather than the queries
    // the reports use: a mistake in those queries must show up here as a difference, not be repeated.

    /// One difference.
    public struct Difference: Sendable, Equatable, CustomStringConvertible {
        /// The holder or file it concerns: `holder AAAA0009 (holder_key 9)`, `file P0001_….csv.zst`.
        public var subject: String
        /// The field compared, such as `ledger.points`, `grants.rows` or `outbox control points_total`.
        public var field: String
        /// The value the other records imply.
        public var expected: String
        /// The value found.
        public var found: String

        /// `subject: field: expected X, found Y`.
        public var description: String { text(.en) }

        /// The line in `language`: the subject's kind and the words around the values change, the field and the
        /// figures do not.
        public func text(_ language: Language) -> String {
            FinanceText.difference(subject: subject, field: field, expected: expected, found: found).text(language)
        }
    }

    /// The differences, holders first (by key), then files (by name).
    public var differences: [Difference] = []
    /// Holders with a ledger row or an eligible grant.
    public var holders = 0
    /// Settled files.
    public var files = 0
    /// Data lines of the settled files.
    public var lines = 0
    /// Rows in the grants table.
    public var grants = 0
    /// Result files compared on disk.
    public var resultFilesOnDisk = 0
    /// Runs whose result files are not delivered yet (their files were not looked for on disk).
    public var undeliveredRuns: [Int64] = []

    /// True when nothing differs.
    public var ok: Bool { differences.isEmpty }

    /// One line for the operator when nothing differs.
    public var summary: String { summary(.en) }

    /// The summary line in `language`.
    public func summary(_ language: Language) -> String {
        FinanceText.verifySummary(
            holders: holders, files: files, lines: lines, grants: grants, resultFilesOnDisk: resultFilesOnDisk,
            differences: differences.count, undeliveredRuns: undeliveredRuns
        ).text(language)
    }

    /// Verifies the database, and the result files under `outbox` (`{outbox}/{provider_id}/…`) when given.
    ///
    /// Refuses, with the sentence to act on, while a crash has left a run's grant streams prepared: until the next
    /// settle completes or rolls them back, the grants are not yet what the runs recorded.
    public static func run(ledger: Ledger, outbox: String?) throws -> Verification {
        if let interrupted = try ledger.interruptedCommits().first {
            throw LedgerError(
                "run \(interrupted.run)'s commit was interrupted and \(interrupted.preparedStreams) of its grant streams are still prepared — run settle first (it \(interrupted.decided ? "completes" : "rolls back") them), then verify"
            )
        }
        let connection = ledger.verificationConnection
        var verification = Verification()
        try verification.countRows(connection)
        for recount in try HolderRecount.differing(connection) { verification.compare(recount) }
        try verification.verifyFiles(connection, outbox: outbox)
        return verification
    }

    /// Reason codes (as stored in `grants.reason`) of rows that are granted.
    static let grantedReasons = Reason.allCases.filter { !$0.isRejection }.map { String($0.rawValue) }
        .joined(separator: ", ")

    /// Appends a difference.
    mutating func differ(_ subject: String, _ field: String, expected: String, found: String) {
        differences.append(Difference(subject: subject, field: field, expected: expected, found: found))
    }

    /// Appends a difference when `expected` and `found` differ.
    mutating func differ(_ subject: String, _ field: String, _ expected: Int, _ found: Int) {
        if expected != found { differ(subject, field, expected: "\(expected)", found: "\(found)") }
    }

    // MARK: Holders

    /// Counts the grant rows and the holders with a ledger row or an eligible grant.
    mutating func countRows(_ c: PostgresConnection) throws {
        let counts = try c.query(
            """
            SELECT (SELECT count(*) FROM grants),
                   (SELECT count(*) FROM (SELECT holder_key FROM ledger UNION
                                          SELECT holder_key FROM grants
                                          WHERE holder_key IS NOT NULL AND reason IN (\(Self.grantedReasons))) h)
            """)
        grants = Int(try counts[0, 0].int())
        holders = Int(try counts[0, 1].int())
    }

    /// A holder's points, eligible amount and records.
    struct HolderFigures: Equatable {
        var points: Int
        var amount: Int
        var records: Int
    }

    /// A holder whose ledger row differs from its grants, or whose points pass the cap.
    struct HolderRecount {
        /// `holder AAAA0009 (holder_key 9)`.
        var subject: String
        /// The figures summed from the holder's eligible grants.
        var expected: HolderFigures
        /// The figures of the holder's ledger row; nil when it has none.
        var found: HolderFigures?
        /// The campaign's cap, or the ledger row's when no campaign is recorded.
        var cap: Int

        /// The holders that differ: the comparison runs in the database, in one pass, so only they come back.
        static func differing(_ c: PostgresConnection) throws -> [HolderRecount] {
            let result = try c.query(
                """
                WITH g AS (
                    SELECT holder_key, sum(points) AS points, sum(amount) AS amount, count(*) AS records
                    FROM grants WHERE holder_key IS NOT NULL AND reason IN (\(Verification.grantedReasons))
                    GROUP BY holder_key),
                d AS (
                    SELECT coalesce(g.holder_key, l.holder_key) AS holder_key,
                           coalesce(g.points, 0) AS g_points, coalesce(g.amount, 0) AS g_amount,
                           coalesce(g.records, 0) AS g_records,
                           l.holder_key IS NOT NULL AS has_ledger, l.points, l.eligible_amount, l.records, l.cap_points
                    FROM g FULL JOIN ledger l ON l.holder_key = g.holder_key)
                SELECT d.holder_key, (SELECT m.mykey_id FROM mykey_ids m
                                      WHERE m.holder_key = d.holder_key AND m.retired_at_ns IS NULL),
                       d.g_points, d.g_amount, d.g_records, d.has_ledger, d.points, d.eligible_amount, d.records,
                       d.cap_points, (SELECT cap_points FROM campaign WHERE id = 1)
                FROM d
                WHERE NOT d.has_ledger
                   OR d.g_points <> d.points OR d.g_amount <> d.eligible_amount OR d.g_records <> d.records
                   OR d.points > d.cap_points OR d.g_points > coalesce((SELECT cap_points FROM campaign WHERE id = 1), d.g_points)
                ORDER BY d.holder_key
                """)
            return try (0..<result.rowCount).map { row in
                let key = try result[row, 0].int()
                let expected = HolderFigures(
                    points: Int(try result[row, 2].int()), amount: Int(try result[row, 3].int()),
                    records: Int(try result[row, 4].int()))
                var found: HolderFigures?
                var cap = 0
                if try result[row, 5].bool() {
                    found = HolderFigures(
                        points: Int(try result[row, 6].int()), amount: Int(try result[row, 7].int()),
                        records: Int(try result[row, 8].int()))
                    cap = Int(try result[row, 10].optionalInt() ?? (try result[row, 9].int()))
                }
                return HolderRecount(
                    subject: "holder \(result[row, 1].optionalString() ?? "(no current MyKey ID)") (holder_key \(key))",
                    expected: expected, found: found, cap: cap)
            }
        }
    }

    /// Lists how a holder's ledger row differs from its grants and from the cap.
    mutating func compare(_ recount: HolderRecount) {
        let subject = recount.subject
        let expected = recount.expected
        guard let found = recount.found else {
            differ(
                subject, "ledger row",
                expected: "points \(expected.points), eligible_amount \(expected.amount), records \(expected.records)",
                found: "none")
            return
        }
        differ(subject, "ledger.points", expected.points, found.points)
        differ(subject, "ledger.eligible_amount", expected.amount, found.amount)
        differ(subject, "ledger.records", expected.records, found.records)
        let points = max(expected.points, found.points)
        if points > recount.cap {
            differ(subject, "points within the cap", expected: "≤ \(recount.cap)", found: "\(points)")
        }
    }

    // MARK: Files

    /// Checks every settled file: its conservation, its stored result, and (from `outbox`, when given) the files
    /// delivered for it.
    mutating func verifyFiles(_ c: PostgresConnection, outbox: String?) throws {
        let rows = try SettledFile.all(c)
        files = rows.count
        var undelivered = Set<Int64>()
        for file in rows {
            lines += file.stored.records
            if !file.delivered { undelivered.insert(file.runID) }
            checkConservation(file)
            guard let result = file.result else {
                differ(file.subject, "result file in the database", expected: "present", found: "none")
                continue
            }
            compareControl(
                result.control, source: "stored control", subject: file.subject, name: result.name,
                digest: result.sha256, file: file.stored)
            try checkStoredResult(file, result, c)
            if let outbox, file.delivered { checkOutbox(file, result, outbox: outbox) }
        }
        undeliveredRuns = undelivered.sorted()
    }

    /// A settled file's row, with the sums over its outcome rows and its grant rows.
    struct SettledFile {
        /// The result file a settled file's row records.
        struct StoredResult {
            /// The result file's name.
            var name: String
            /// The result control JSON.
            var control: String
            /// The SHA-256 of the result file.
            var sha256: [UInt8]
        }

        var fileID: Int64
        /// `file P0001_….csv.zst`.
        var subject: String
        /// The provider's ID, `_` when unregistered (the outbox folder).
        var provider: String
        var runID: Int64
        /// Whether its run's result files are delivered.
        var delivered: Bool
        var stored: StoredFile
        /// Lines, points and granted lines over its `file_outcomes` rows.
        var outcomes: (records: Int, points: Int, granted: Int)
        /// Its `MALFORMED` and `DUPLICATE` lines, which have no grant row.
        var unsettled: Int
        /// Rows, points, granted rows and the granted rows' amount over its `grants` rows.
        var grants: (rows: Int, points: Int, granted: Int, amount: Int)
        /// Nil when the row lacks its result name, control or digest.
        var result: StoredResult?

        /// Every settled file, in byte order of their names.
        static func all(_ c: PostgresConnection) throws -> [SettledFile] {
            let result = try c.query(
                """
                WITH o AS (
                    SELECT file_id, sum(records) AS records, sum(points) AS points,
                           coalesce(sum(records) FILTER (WHERE reason IN ('', 'CAP_PARTIAL', 'CAP_REACHED')), 0) AS granted,
                           coalesce(sum(records) FILTER (WHERE reason IN ('MALFORMED', 'DUPLICATE')), 0) AS unsettled
                    FROM file_outcomes GROUP BY file_id),
                g AS (
                    SELECT file_id, count(*) AS rows, sum(points) AS points,
                           count(*) FILTER (WHERE reason IN (\(Verification.grantedReasons))) AS granted,
                           coalesce(sum(amount) FILTER (WHERE reason IN (\(Verification.grantedReasons))), 0) AS amount
                    FROM grants GROUP BY file_id)
                SELECT f.file_id, f.name, p.provider_id, r.run_id, r.delivered_at IS NOT NULL,
                       f.records, f.granted_records, f.rejected_records, f.points, f.eligible_amount,
                       coalesce(o.records, 0), coalesce(o.points, 0), coalesce(o.granted, 0), coalesce(o.unsettled, 0),
                       coalesce(g.rows, 0), coalesce(g.points, 0), coalesce(g.granted, 0), coalesce(g.amount, 0),
                       f.result_name, f.result_control, f.result_sha256
                FROM files f JOIN runs r ON r.run_id = f.run_id
                LEFT JOIN providers p ON p.provider_key = f.provider_key
                LEFT JOIN o ON o.file_id = f.file_id LEFT JOIN g ON g.file_id = f.file_id
                WHERE f.outcome = 'settled'
                ORDER BY f.name COLLATE "C"
                """)
            return try (0..<result.rowCount).map { row in
                func int(_ column: Int) throws -> Int { Int(try result[row, column].int()) }
                var stored: StoredResult?
                if let name = result[row, 18].optionalString(), let control = result[row, 19].optionalString(),
                    let digest = try result[row, 20].optionalBytes()
                {
                    stored = StoredResult(name: name, control: control, sha256: digest)
                }
                return SettledFile(
                    fileID: try result[row, 0].int(), subject: "file \(try result[row, 1].string())",
                    provider: result[row, 2].optionalString() ?? "_", runID: try result[row, 3].int(),
                    delivered: try result[row, 4].bool(),
                    stored: StoredFile(
                        records: try int(5), granted: try int(6), rejected: try int(7), points: try int(8),
                        eligibleAmount: try int(9)),
                    outcomes: (try int(10), try int(11), try int(12)), unsettled: try int(13),
                    grants: (try int(14), try int(15), try int(16), try int(17)), result: stored)
            }
        }
    }

    /// Conservation: every line has exactly one outcome, and every settled line one grant row.
    mutating func checkConservation(_ file: SettledFile) {
        let subject = file.subject
        let stored = file.stored
        differ(subject, "files.records (granted + rejected)", stored.granted + stored.rejected, stored.records)
        differ(subject, "file_outcomes.records", stored.records, file.outcomes.records)
        differ(subject, "file_outcomes.points", stored.points, file.outcomes.points)
        differ(subject, "file_outcomes granted records", stored.granted, file.outcomes.granted)
        // Grants: one row per settled line, i.e. every line but MALFORMED and DUPLICATE.
        differ(
            subject, "grants.rows (records − MALFORMED − DUPLICATE)", stored.records - file.unsettled, file.grants.rows)
        differ(subject, "grants.points", stored.points, file.grants.points)
        differ(subject, "grants granted rows", stored.granted, file.grants.granted)
        differ(subject, "grants eligible amount", stored.eligibleAmount, file.grants.amount)
    }

    /// The result bytes stored with the file: their digest and their rows against the file's row.
    mutating func checkStoredResult(
        _ file: SettledFile, _ result: SettledFile.StoredResult, _ c: PostgresConnection
    ) throws {
        let subject = file.subject
        let bytes = try c.query("SELECT result_csv_zst FROM files WHERE file_id = $1", [.int(file.fileID)])
        guard let stored = try bytes[0, 0].optionalBytes() else {
            differ(subject, "stored result bytes", expected: "present", found: "none")
            return
        }
        let storedDigest = SHA256.hash(stored)
        if storedDigest != result.sha256 {
            differ(
                subject, "stored result SHA-256", expected: result.sha256.hexString, found: storedDigest.hexString)
        }
        do {
            let tally = try ResultTally.count(stored)
            differ(subject, "stored result rows", file.stored.records, tally.rows)
            differ(subject, "stored result GRANTED rows", file.stored.granted, tally.granted)
            differ(subject, "stored result points", file.stored.points, tally.points)
        } catch {
            differ(subject, "stored result file", expected: "a valid zstd CSV", found: "\(error)")
        }
    }

    /// The files delivered to the provider: present, the control file as the database has it, the data file's
    /// digest as the control file and the database say.
    mutating func checkOutbox(_ file: SettledFile, _ result: SettledFile.StoredResult, outbox: String) {
        resultFilesOnDisk += 1
        let subject = file.subject
        let folder = outbox + "/" + file.provider + "/"
        let dataPath = folder + result.name
        let controlPath = folder + String(result.name.dropLast(".csv.zst".count)) + ".ctl"
        guard let diskControl = FileManager.default.contents(atPath: controlPath) else {
            differ(subject, "outbox \(controlPath)", expected: "present", found: "missing")
            if !FileManager.default.fileExists(atPath: dataPath) {
                differ(subject, "outbox \(dataPath)", expected: "present", found: "missing")
            }
            return
        }
        let claimed = compareControl(
            String(decoding: diskControl, as: UTF8.self), source: "outbox control", subject: subject,
            name: result.name, digest: result.sha256, file: file.stored)
        guard let diskDigest = Self.sha256(ofFileAt: dataPath) else {
            differ(subject, "outbox \(dataPath)", expected: "present", found: "missing")
            return
        }
        if let claimed, diskDigest.hexString != claimed {
            differ(
                subject, "outbox \(result.name) SHA-256 (vs its control file)", expected: claimed,
                found: diskDigest.hexString)
        }
        if diskDigest != result.sha256 {
            differ(
                subject, "outbox \(result.name) SHA-256 (vs the database)", expected: result.sha256.hexString,
                found: diskDigest.hexString)
        }
    }

    /// Figures of a settled file as its row records them.
    struct StoredFile {
        var records: Int
        var granted: Int
        var rejected: Int
        var points: Int
        var eligibleAmount: Int
    }

    /// Compares a result control file's JSON with the file's row; returns the SHA-256 it claims.
    @discardableResult
    mutating func compareControl(
        _ text: String, source: String, subject: String, name: String, digest: [UInt8], file: StoredFile
    ) -> String? {
        guard let data = text.data(using: .utf8),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else {
            differences.append(
                Difference(subject: subject, field: source, expected: "a JSON object", found: "unreadable"))
            return nil
        }
        func number(_ key: String, _ expected: Int) {
            let found = (object[key] as? NSNumber)?.intValue
            if found != expected {
                differences.append(
                    Difference(
                        subject: subject, field: "\(source) \(key)", expected: "\(expected)",
                        found: found.map(String.init) ?? "none"))
            }
        }
        func string(_ key: String, _ expected: String) {
            let found = object[key] as? String
            if found != expected {
                differences.append(
                    Difference(subject: subject, field: "\(source) \(key)", expected: expected, found: found ?? "none"))
            }
        }
        string("format", "mynapoint-results/1")
        string("file", name)
        string("sha256", digest.hexString)
        number("records", file.records)
        number("granted_records", file.granted)
        number("points_total", file.points)
        return object["sha256"] as? String
    }

    /// The SHA-256 of a file's bytes, read in pieces; nil when it cannot be read.
    static func sha256(ofFileAt path: String) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let hash = SHA256()
        while true {
            let piece: Data?
            do {
                piece = try handle.read(upToCount: 1 << 20)
            } catch {
                return nil
            }
            // End of file is nil or empty, depending on the platform.
            guard let piece, !piece.isEmpty else { break }
            hash.update(Array(piece))
        }
        return hash.finalize()
    }
}

/// Counts of a result file's rows (§6): rows after the header, `GRANTED` rows, and the sum of points.
struct ResultTally {
    var rows = 0
    var granted = 0
    var points = 0
    private var line: [UInt8] = []
    private var sawHeader = false

    /// Decompresses a result file and counts its rows.
    static func count(_ compressed: [UInt8]) throws -> ResultTally {
        var tally = ResultTally()
        let decompressor = try ZstdDecompressor()
        try compressed.withUnsafeBytes { raw in
            try decompressor.decompress(raw) { chunk in
                for byte in chunk {
                    if byte == UInt8(ascii: "\n") {
                        tally.endLine()
                    } else {
                        tally.line.append(byte)
                    }
                }
            }
        }
        try decompressor.finish()
        if !tally.line.isEmpty { tally.endLine() }
        return tally
    }

    private mutating func endLine() {
        defer { line.removeAll(keepingCapacity: true) }
        guard sawHeader else {
            sawHeader = true
            return
        }
        rows += 1
        // record_id and mykey_id never hold a comma (they are echoed only in their valid form).
        let fields = line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard fields.count == 5 else { return }
        if fields[2].elementsEqual("GRANTED".utf8) {
            granted += 1
            points += Int(String(decoding: fields[3], as: UTF8.self)) ?? 0
        }
    }
}
