import Foundation
public import Ledger
import Postgres

/// The committed runs, as `runs list` and `runs show` print them.
///
/// A run that failed or was refused the lock committed nothing and is not here: its trace is its exit code,
/// its log and the metrics file.
public enum RunHistory {
    /// One committed run.
    public struct Run: Sendable, Codable, Equatable {
        /// The run's number.
        public var run_id: Int64
        /// When it started, RFC 3339 in JST.
        public var started_at: String
        /// When it committed, RFC 3339 in JST.
        public var committed_at: String
        /// When its result files and moves were confirmed; nil while not yet delivered.
        public var delivered_at: String?
        /// From its start (the invocation's lock, or the end of the invocation's previous run) through delivery,
        /// milliseconds; nil while it is not delivered, and for a run that a later invocation delivered.
        public var duration_ms: Int?
        /// Operating-system user and host that started it.
        public var started_by: String
        /// The host it ran on.
        public var host: String
        /// The build's version.
        public var version: String
        /// Settled files.
        public var files: Int
        /// Quarantined files.
        public var quarantined_files: Int
        /// Files skipped as already settled.
        public var already_settled_files: Int
        /// Settled data lines.
        public var records: Int
        /// Rows granted.
        public var granted_records: Int
        /// Points granted.
        public var points: Int
    }

    /// One file of a run.
    public struct File: Sendable, Codable, Equatable {
        /// The data file's name.
        public var name: String
        /// The provider, when registered.
        public var provider_id: String?
        /// `settled`, `quarantined` or `already_settled`.
        public var outcome: String
        /// Data lines.
        public var records: Int
        /// Rows granted.
        public var granted_records: Int
        /// Points granted.
        public var points: Int
        /// Eligible amount, yen.
        public var eligible_amount: Int
        /// The result file's name (settled files).
        public var result_name: String?
        /// The quarantine code (quarantined files).
        public var quarantine_code: String?
        /// Why it was quarantined.
        public var quarantine_message: String?
        /// The line that decided it, when one did.
        public var quarantine_line: Int?
    }

    /// A run with its parameters, files and outcomes.
    public struct Detail: Sendable, Codable, Equatable {
        /// The run.
        public var run: Run
        /// The campaign and run options it was made with.
        public var parameters: JSONValue
        /// Its files, in byte order of their names.
        public var files: [File]
        /// Rows by result reason (`GRANTED` for an unqualified grant).
        public var outcomes: [String: Int]
    }

    static let columns = """
        run_id,
        to_char(started_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        to_char(committed_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        to_char(delivered_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        duration_ms, started_by, host, version, files, quarantined_files, already_settled_files, records,
        granted_records, points, parameters::text
        """

    /// The most recent `limit` runs, newest first.
    public static func list(ledger: Ledger, limit: Int = 50) throws -> [Run] {
        let result = try ledger.connection.query(
            "SELECT \(columns) FROM runs ORDER BY run_id DESC LIMIT $1", [.int(Int64(max(0, limit)))])
        return try (0..<result.rowCount).map { try run(result, $0) }
    }

    /// A run in detail; nil when there is no committed run of that number.
    public static func detail(ledger: Ledger, run id: Int64) throws -> Detail? {
        let c = ledger.connection
        let result = try c.query("SELECT \(columns) FROM runs WHERE run_id = $1", [.int(id)])
        guard result.rowCount == 1 else { return nil }
        let header = try run(result, 0)
        let parameters =
            (try? JSONDecoder().decode(JSONValue.self, from: Data(try result[0, 14].string().utf8))) ?? .null
        let rows = try c.query(
            """
            SELECT f.name, p.provider_id, f.outcome, f.records, f.granted_records, f.points, f.eligible_amount,
                   f.result_name, f.quarantine_code, f.quarantine_message, f.quarantine_line
            FROM files f LEFT JOIN providers p ON p.provider_key = f.provider_key
            WHERE f.run_id = $1 ORDER BY f.name COLLATE "C", f.file_id
            """, [.int(id)])
        let files = try (0..<rows.rowCount).map { row in
            File(
                name: try rows[row, 0].string(), provider_id: rows[row, 1].optionalString(),
                outcome: try rows[row, 2].string(), records: Int(try rows[row, 3].int()),
                granted_records: Int(try rows[row, 4].int()), points: Int(try rows[row, 5].int()),
                eligible_amount: Int(try rows[row, 6].int()), result_name: rows[row, 7].optionalString(),
                quarantine_code: rows[row, 8].optionalString(), quarantine_message: rows[row, 9].optionalString(),
                quarantine_line: try rows[row, 10].optionalInt().map { Int($0) })
        }
        return Detail(
            run: header, parameters: parameters, files: files, outcomes: try outcomes(ledger: ledger, run: id))
    }

    /// Rows of a run's settled files by result reason (`GRANTED` for an unqualified grant).
    public static func outcomes(ledger: Ledger, run id: Int64) throws -> [String: Int] {
        let result = try ledger.connection.query(
            """
            SELECT o.reason, sum(o.records) FROM file_outcomes o JOIN files f ON f.file_id = o.file_id
            WHERE f.run_id = $1 GROUP BY o.reason
            """, [.int(id)])
        var outcomes: [String: Int] = [:]
        for row in 0..<result.rowCount {
            let reason = try result[row, 0].string()
            outcomes[reason.isEmpty ? "GRANTED" : reason] = Int(try result[row, 1].int())
        }
        return outcomes
    }

    static func run(_ result: PostgresResult, _ row: Int) throws -> Run {
        Run(
            run_id: try result[row, 0].int(), started_at: try result[row, 1].string(),
            committed_at: try result[row, 2].string(), delivered_at: result[row, 3].optionalString(),
            duration_ms: try result[row, 4].optionalInt().map { Int($0) }, started_by: try result[row, 5].string(),
            host: try result[row, 6].string(), version: try result[row, 7].string(),
            files: Int(try result[row, 8].int()),
            quarantined_files: Int(try result[row, 9].int()), already_settled_files: Int(try result[row, 10].int()),
            records: Int(try result[row, 11].int()), granted_records: Int(try result[row, 12].int()),
            points: Int(try result[row, 13].int()))
    }

    // MARK: Text

    /// `runs list` as a table for a terminal.
    public static func listText(_ runs: [Run]) -> String {
        guard !runs.isEmpty else { return "no committed runs\n" }
        var table: [[String]] = [
            [
                "RUN", "COMMITTED (JST)", "FILES", "QUAR", "SKIP", "RECORDS", "GRANTED", "POINTS", "DURATION",
                "DELIVERED",
                "STARTED BY",
            ]
        ]
        for run in runs {
            table.append([
                String(run.run_id), String(run.committed_at.prefix(19)).replacingOccurrences(of: "T", with: " "),
                String(run.files), String(run.quarantined_files), String(run.already_settled_files),
                NumberFormatting.grouped(run.records), NumberFormatting.grouped(run.granted_records),
                NumberFormatting.grouped(run.points),
                duration(run), run.delivered_at == nil ? "NO" : "yes", run.started_by,
            ])
        }
        return aligned(table, leftColumns: [1, 9, 10])
    }

    /// `runs show` as text for a terminal.
    public static func detailText(_ detail: Detail) -> String {
        let run = detail.run
        var out = "run \(run.run_id)\n"
        let fields: [(String, String)] = [
            ("started", run.started_at), ("committed", run.committed_at),
            ("delivered", run.delivered_at ?? "not yet — the next settle delivers its result files"),
            ("duration", durationDetail(run)), ("started by", run.started_by), ("host", run.host),
            ("version", run.version), ("parameters", detail.parameters.compactText),
            (
                "files",
                "\(run.files) settled, \(run.quarantined_files) quarantined, \(run.already_settled_files) already settled"
            ),
            (
                "records",
                "\(NumberFormatting.grouped(run.records)) (granted \(NumberFormatting.grouped(run.granted_records)))"
            ),
            ("points", NumberFormatting.grouped(run.points)),
        ]
        for (label, value) in fields {
            out += "  " + (label + ":").padding(toLength: 12, withPad: " ", startingAt: 0) + value + "\n"
        }
        if !detail.outcomes.isEmpty {
            out += "  outcomes:   "
            out +=
                detail.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + "\n"
        }
        out += "\n"
        var table: [[String]] = [["FILE", "PROVIDER", "OUTCOME", "RECORDS", "GRANTED", "POINTS", "NOTE"]]
        for file in detail.files {
            var note = file.result_name ?? ""
            if let code = file.quarantine_code {
                note =
                    code + (file.quarantine_line.map { " line \($0)" } ?? "") + ": " + (file.quarantine_message ?? "")
            }
            table.append([
                file.name, file.provider_id ?? "-", file.outcome, NumberFormatting.grouped(file.records),
                NumberFormatting.grouped(file.granted_records), NumberFormatting.grouped(file.points), note,
            ])
        }
        return out + aligned(table, leftColumns: [0, 1, 2, 6])
    }

    /// A run's duration for the table: `pending` until it is delivered, `-` when a later invocation delivered it.
    static func duration(_ run: Run) -> String {
        if let milliseconds = run.duration_ms { return duration(milliseconds) }
        return run.delivered_at == nil ? "pending" : "-"
    }

    /// A run's duration for `runs show`, saying why there is none.
    static func durationDetail(_ run: Run) -> String {
        if let milliseconds = run.duration_ms { return duration(milliseconds) + " (from the lock through delivery)" }
        return run.delivered_at == nil
            ? "pending — known once the run is delivered"
            : "unknown — a later settle delivered the run after its own invocation stopped"
    }

    static func duration(_ milliseconds: Int) -> String {
        let seconds = Double(milliseconds) / 1000
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        return String(format: "%d min %02d s", Int(seconds) / 60, Int(seconds) % 60)
    }

    /// Columns padded to their widest cell; numbers right-aligned, the listed columns left-aligned.
    static func aligned(_ rows: [[String]], leftColumns: Set<Int>) -> String {
        var widths: [Int] = []
        for row in rows {
            for (i, cell) in row.enumerated() {
                if i >= widths.count { widths.append(0) }
                widths[i] = max(widths[i], cell.count)
            }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                let last = i == row.count - 1
                line += leftColumns.contains(i) ? cell + (last ? "" : pad) : pad + cell
                if !last { line += "  " }
            }
            out += line + "\n"
        }
        return out
    }
}

/// A JSON value of any shape (a run's recorded parameters).
public enum JSONValue: Sendable, Codable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A number with a fraction.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value as it is.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// `key value, key value` for an object (keys sorted); the plain value otherwise.
    public var compactText: String {
        switch self {
        case .null: "-"
        case .bool(let value): String(value)
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .string(let value): value
        case .array(let values): values.map(\.compactText).joined(separator: ", ")
        case .object(let values):
            values.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.compactText)" }.joined(separator: ", ")
        }
    }
}
