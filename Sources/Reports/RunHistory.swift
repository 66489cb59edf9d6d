import Foundation
public import Ledger
public import Localization

/// The committed runs, as `runs list` and `runs show` print them.
///
/// A run that failed or was refused the lock committed nothing and is not here: its trace is its exit code,
/// its log and the metrics file.
public enum RunHistory {
    /// One committed run: the ledger's own value, encoded with the keys of `runs --json`.
    public typealias Run = CommittedRun

    /// One file of a run: the ledger's own value, encoded with the keys of `runs show --json`.
    public typealias File = CommittedRunFile

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

    /// The most recent `limit` runs, newest first.
    public static func list(ledger: Ledger, limit: Int = 50) throws -> [Run] {
        try ledger.committedRuns(limit: limit)
    }

    /// A run in detail; nil when there is no committed run of that number.
    public static func detail(ledger: Ledger, run id: Int64) throws -> Detail? {
        guard let run = try ledger.committedRun(id) else { return nil }
        let parameters = (try? JSONDecoder().decode(JSONValue.self, from: Data(run.parametersJSON.utf8))) ?? .null
        return Detail(
            run: run, parameters: parameters, files: try ledger.committedRunFiles(run: id),
            outcomes: try outcomes(ledger: ledger, run: id))
    }

    /// Rows of a run's settled files by result reason (`GRANTED` for an unqualified grant).
    public static func outcomes(ledger: Ledger, run id: Int64) throws -> [String: Int] {
        var outcomes: [String: Int] = [:]
        for (reason, records) in try ledger.runOutcomes(run: id) {
            outcomes[reason.isEmpty ? "GRANTED" : reason] = records
        }
        return outcomes
    }

    // MARK: Text

    /// `runs list` as a table for a terminal, in `language`.
    public static func listText(_ runs: [Run], language: Language = .en) -> String {
        func say(_ message: FinanceText) -> String { message.text(language) }
        guard !runs.isEmpty else { return say(.noRuns) + "\n" }
        var table: [[String]] = [
            [
                say(.columnRun).uppercased(), say(.columnCommitted), say(.columnFiles).uppercased(),
                say(.columnQuarantinedShort), say(.columnSkippedShort), say(.columnRecords).uppercased(),
                say(.columnGranted).uppercased(), say(.columnPoints).uppercased(), say(.columnDuration),
                say(.columnDelivered), say(.columnStartedBy),
            ]
        ]
        for run in runs {
            let committed =
                language == .ja
                ? FinanceFormat.time(run.committedAt, language)
                : String(run.committedAt.prefix(19)).replacingOccurrences(of: "T", with: " ")
            table.append([
                String(run.runID), committed, String(run.files), String(run.quarantinedFiles),
                String(run.alreadySettledFiles), NumberFormatting.grouped(run.records),
                NumberFormatting.grouped(run.grantedRecords), FinanceFormat.points(run.points, language),
                duration(run, language), say(run.deliveredAt == nil ? .notDelivered : .delivered), run.startedBy,
            ])
        }
        return aligned(table, leftColumns: [1, 9, 10])
    }

    /// `runs show` as text for a terminal, in `language`.
    public static func detailText(_ detail: Detail, language: Language = .en) -> String {
        func say(_ message: FinanceText) -> String { message.text(language) }
        let run = detail.run
        var out = say(.runHeading(run.runID)) + "\n"
        let fields: [(FinanceText.RunField, String)] = [
            (.started, FinanceFormat.time(run.startedAt, language)),
            (.committed, FinanceFormat.time(run.committedAt, language)),
            (.delivered, run.deliveredAt.map { FinanceFormat.time($0, language) } ?? say(.notDeliveredYet)),
            (.duration, durationDetail(run, language)), (.startedBy, run.startedBy), (.host, run.host),
            (.version, run.version), (.parameters, detail.parameters.compactText),
            (
                .files,
                say(
                    .runFiles(
                        settled: run.files, quarantined: run.quarantinedFiles, alreadySettled: run.alreadySettledFiles))
            ),
            (
                .records,
                say(
                    .runRecords(
                        records: NumberFormatting.grouped(run.records),
                        granted: NumberFormatting.grouped(run.grantedRecords)))
            ),
            (.points, FinanceFormat.points(run.points, language)),
        ]
        for (field, value) in fields { out += label(field, language) + value + "\n" }
        if !detail.outcomes.isEmpty {
            out += label(.outcomes, language)
            out +=
                detail.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + "\n"
        }
        out += "\n"
        var table: [[String]] = [
            [
                say(.columnFile), say(.columnProvider), say(.columnOutcome), say(.columnRecords), say(.columnGranted),
                say(.columnPoints), say(.columnNote),
            ].map { language == .en ? $0.uppercased() : $0 }
        ]
        for file in detail.files {
            var note = file.resultName ?? ""
            if let code = file.quarantineCode {
                note =
                    code + (file.quarantineLine.map { say(.quarantineLine($0)) } ?? "") + ": "
                    + (file.quarantineMessage ?? "")
            }
            table.append([
                file.name, file.providerID ?? "-", say(.fileOutcome(file.outcome.rawValue)),
                NumberFormatting.grouped(file.records),
                NumberFormatting.grouped(file.grantedRecords), FinanceFormat.points(file.points, language), note,
            ])
        }
        return out + aligned(table, leftColumns: [0, 1, 2, 6])
    }

    /// A field's label in `runs show`, indented and padded so that the values line up (12 columns in English).
    static func label(_ field: FinanceText.RunField, _ language: Language) -> String {
        let text = FinanceText.runField(field).text(language) + (language == .ja ? "：" : ":")
        let width = language == .ja ? 14 : 12
        return "  " + text + String(repeating: " ", count: max(0, width - FinanceFormat.width(text)))
    }

    /// A run's duration for the table: `pending` until it is delivered, `-` when a later invocation delivered it.
    static func duration(_ run: Run, _ language: Language) -> String {
        if let milliseconds = run.durationMilliseconds {
            return FinanceText.duration(milliseconds: milliseconds).text(language)
        }
        return run.deliveredAt == nil ? FinanceText.durationPending.text(language) : "-"
    }

    /// A run's duration for `runs show`, saying why there is none.
    static func durationDetail(_ run: Run, _ language: Language) -> String {
        let message: FinanceText
        if let milliseconds = run.durationMilliseconds {
            message = .durationThroughDelivery(FinanceText.duration(milliseconds: milliseconds).text(language))
        } else {
            message = run.deliveredAt == nil ? .durationPendingDetail : .durationUnknown
        }
        return message.text(language)
    }

    /// Columns padded to their widest cell; numbers right-aligned, the listed columns left-aligned.
    static func aligned(_ rows: [[String]], leftColumns: Set<Int>) -> String {
        var widths: [Int] = []
        for row in rows {
            for (i, cell) in row.enumerated() {
                if i >= widths.count { widths.append(0) }
                widths[i] = max(widths[i], FinanceFormat.width(cell))
            }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - FinanceFormat.width(cell))
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
