import Crypto
import Foundation
public import Ledger
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
    /// One difference.
    public struct Difference: Sendable, Equatable, CustomStringConvertible {
        /// The holder or file it concerns: `holder AAAA0009 (holder_key 9)`, `file P0001_….csv.zst`.
        public var subject: String
        /// The field: `ledger.points`, `grants.rows`, `outbox control points_total` …
        public var field: String
        /// The value the other records imply.
        public var expected: String
        /// The value found.
        public var found: String

        /// `subject: field: expected X, found Y`.
        public var description: String { "\(subject): \(field): expected \(expected), found \(found)" }
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
    public var summary: String {
        var text =
            "verified \(holders) holders, \(files) settled files (\(lines) lines, \(grants) grant rows)"
        if resultFilesOnDisk > 0 { text += ", \(resultFilesOnDisk) result files in the outbox" }
        text +=
            ok ? ": no differences" : differences.count == 1 ? ": 1 difference" : ": \(differences.count) differences"
        if !undeliveredRuns.isEmpty {
            text += " (run \(undeliveredRuns.map(String.init).joined(separator: ", ")) not delivered yet: run settle)"
        }
        return text
    }

    /// Verifies the database, and the result files under `outbox` (`{outbox}/{provider_id}/…`) when given.
    public static func run(ledger: Ledger, outbox: String?) throws -> Verification {
        var verification = Verification()
        try verification.verifyHolders(ledger.connection)
        try verification.verifyFiles(ledger.connection, outbox: outbox)
        return verification
    }

    /// Reason codes (as stored in `grants.reason`) of rows that are granted.
    static let grantedReasons = Reason.allCases.filter { !$0.isRejection }.map { String($0.rawValue) }
        .joined(separator: ", ")

    mutating func verifyHolders(_ c: PostgresConnection) throws {
        let counts = try c.query(
            """
            SELECT (SELECT count(*) FROM grants),
                   (SELECT count(*) FROM (SELECT holder_key FROM ledger UNION
                                          SELECT holder_key FROM grants
                                          WHERE holder_key IS NOT NULL AND reason IN (\(Self.grantedReasons))) h)
            """)
        grants = Int(try counts[0, 0].int())
        holders = Int(try counts[0, 1].int())
        // Only the holders that differ come back: the comparison runs in the database, in one pass.
        let result = try c.query(
            """
            WITH g AS (
                SELECT holder_key, sum(points) AS points, sum(amount) AS amount, count(*) AS records
                FROM grants WHERE holder_key IS NOT NULL AND reason IN (\(Self.grantedReasons))
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
        for row in 0..<result.rowCount {
            let key = try result[row, 0].int()
            let subject = "holder \(result[row, 1].optionalString() ?? "(no current MyKey ID)") (holder_key \(key))"
            let expected = (
                points: try result[row, 2].int(), amount: try result[row, 3].int(), records: try result[row, 4].int()
            )
            guard try result[row, 5].bool() else {
                differences.append(
                    Difference(
                        subject: subject, field: "ledger row",
                        expected:
                            "points \(expected.points), eligible_amount \(expected.amount), records \(expected.records)",
                        found: "none"))
                continue
            }
            let found = (
                points: try result[row, 6].int(), amount: try result[row, 7].int(), records: try result[row, 8].int()
            )
            if expected.points != found.points {
                differences.append(
                    Difference(
                        subject: subject, field: "ledger.points", expected: "\(expected.points)",
                        found: "\(found.points)"))
            }
            if expected.amount != found.amount {
                differences.append(
                    Difference(
                        subject: subject, field: "ledger.eligible_amount", expected: "\(expected.amount)",
                        found: "\(found.amount)"))
            }
            if expected.records != found.records {
                differences.append(
                    Difference(
                        subject: subject, field: "ledger.records", expected: "\(expected.records)",
                        found: "\(found.records)"))
            }
            let cap = try result[row, 10].optionalInt() ?? (try result[row, 9].int())
            if max(expected.points, found.points) > cap {
                differences.append(
                    Difference(
                        subject: subject, field: "points within the cap", expected: "≤ \(cap)",
                        found: "\(max(expected.points, found.points))"))
            }
        }
    }

    mutating func verifyFiles(_ c: PostgresConnection, outbox: String?) throws {
        let result = try c.query(
            """
            WITH o AS (
                SELECT file_id, sum(records) AS records, sum(points) AS points,
                       coalesce(sum(records) FILTER (WHERE reason IN ('', 'CAP_PARTIAL', 'CAP_REACHED')), 0) AS granted,
                       coalesce(sum(records) FILTER (WHERE reason IN ('MALFORMED', 'DUPLICATE')), 0) AS unsettled
                FROM file_outcomes GROUP BY file_id),
            g AS (
                SELECT file_id, count(*) AS rows, sum(points) AS points,
                       count(*) FILTER (WHERE reason IN (\(Self.grantedReasons))) AS granted,
                       coalesce(sum(amount) FILTER (WHERE reason IN (\(Self.grantedReasons))), 0) AS amount
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
        files = result.rowCount
        var undelivered = Set<Int64>()
        for row in 0..<result.rowCount {
            let fileID = try result[row, 0].int()
            let name = try result[row, 1].string()
            let provider = result[row, 2].optionalString() ?? "_"
            let delivered = try result[row, 4].bool()
            if !delivered { undelivered.insert(try result[row, 3].int()) }
            let file = StoredFile(
                records: Int(try result[row, 5].int()), granted: Int(try result[row, 6].int()),
                rejected: Int(try result[row, 7].int()), points: Int(try result[row, 8].int()),
                eligibleAmount: Int(try result[row, 9].int()))
            lines += file.records
            let subject = "file \(name)"
            func differ(_ field: String, _ expected: Int, _ found: Int) {
                if expected != found {
                    differences.append(
                        Difference(subject: subject, field: field, expected: "\(expected)", found: "\(found)"))
                }
            }
            // Conservation: every line has exactly one outcome.
            differ("files.records (granted + rejected)", file.granted + file.rejected, file.records)
            differ("file_outcomes.records", file.records, Int(try result[row, 10].int()))
            differ("file_outcomes.points", file.points, Int(try result[row, 11].int()))
            differ("file_outcomes granted records", file.granted, Int(try result[row, 12].int()))
            // Grants: one row per settled line, i.e. every line but MALFORMED and DUPLICATE.
            let unsettled = Int(try result[row, 13].int())
            differ(
                "grants.rows (records − MALFORMED − DUPLICATE)", file.records - unsettled,
                Int(try result[row, 14].int()))
            differ("grants.points", file.points, Int(try result[row, 15].int()))
            differ("grants granted rows", file.granted, Int(try result[row, 16].int()))
            differ("grants eligible amount", file.eligibleAmount, Int(try result[row, 17].int()))

            // The result control stored with the file, and the result bytes it describes.
            guard let resultName = result[row, 18].optionalString(), let control = result[row, 19].optionalString(),
                let digest = try result[row, 20].optionalBytes()
            else {
                differences.append(
                    Difference(
                        subject: subject, field: "result file in the database", expected: "present", found: "none"))
                continue
            }
            compareControl(
                control, source: "stored control", subject: subject, name: resultName, digest: digest, file: file)
            let bytes = try c.query("SELECT result_csv_zst FROM files WHERE file_id = $1", [.int(fileID)])
            if let stored = try bytes[0, 0].optionalBytes() {
                let storedDigest = SHA256.hash(stored)
                if storedDigest != digest {
                    differences.append(
                        Difference(
                            subject: subject, field: "stored result SHA-256", expected: digest.hexString,
                            found: storedDigest.hexString))
                }
                do {
                    let tally = try ResultTally.count(stored)
                    differ("stored result rows", file.records, tally.rows)
                    differ("stored result GRANTED rows", file.granted, tally.granted)
                    differ("stored result points", file.points, tally.points)
                } catch {
                    differences.append(
                        Difference(
                            subject: subject, field: "stored result file", expected: "a valid zstd CSV",
                            found: "\(error)"))
                }
            } else {
                differences.append(
                    Difference(subject: subject, field: "stored result bytes", expected: "present", found: "none"))
            }

            // The files delivered to the provider.
            guard let outbox, delivered else { continue }
            resultFilesOnDisk += 1
            let folder = outbox + "/" + provider + "/"
            let dataPath = folder + resultName
            let controlPath = folder + String(resultName.dropLast(".csv.zst".count)) + ".ctl"
            guard let diskControl = FileManager.default.contents(atPath: controlPath) else {
                differences.append(
                    Difference(subject: subject, field: "outbox \(controlPath)", expected: "present", found: "missing"))
                if !FileManager.default.fileExists(atPath: dataPath) {
                    differences.append(
                        Difference(subject: subject, field: "outbox \(dataPath)", expected: "present", found: "missing")
                    )
                }
                continue
            }
            let controlText = String(decoding: diskControl, as: UTF8.self)
            let claimed = compareControl(
                controlText, source: "outbox control", subject: subject, name: resultName, digest: digest, file: file)
            guard let diskDigest = Self.sha256(ofFileAt: dataPath) else {
                differences.append(
                    Difference(subject: subject, field: "outbox \(dataPath)", expected: "present", found: "missing"))
                continue
            }
            if let claimed, diskDigest.hexString != claimed {
                differences.append(
                    Difference(
                        subject: subject, field: "outbox \(resultName) SHA-256 (vs its control file)",
                        expected: claimed,
                        found: diskDigest.hexString))
            }
            if diskDigest != digest {
                differences.append(
                    Difference(
                        subject: subject, field: "outbox \(resultName) SHA-256 (vs the database)",
                        expected: digest.hexString,
                        found: diskDigest.hexString))
            }
        }
        undeliveredRuns = undelivered.sorted()
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
