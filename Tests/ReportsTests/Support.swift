import Foundation
import Generator
import Ledger
import Logging
import Postgres
import Registry
import Reports
import Rules
import Settlement
import TestSupport
import Testing
import Zstd

/// A migrated database with a generated registry, a workspace, and settlement runs over generated drops.
final class OperationsFixture {
    let database: TemporaryDatabase
    /// The ledger's connection, kept here to damage and inspect the tables directly.
    let connection: PostgresConnection
    let ledger: Ledger
    let workspace: DropWorkspace
    let seed: UInt64 = 11

    init(records: Int = 3000, faults: Bool = true) throws {
        database = try TemporaryDatabase.create(prefix: "reports")
        connection = try database.connect()
        ledger = Ledger(connection: connection)
        try ledger.migrate()
        workspace = try DropWorkspace(prefix: "reports")
        _ = try DropGenerator.generate(
            registry: workspace.registry, inbox: workspace.inbox, options: options(records, faults))
        _ = try ledger.importRegistry(try RegistryReader.read(directory: workspace.registry))
    }

    deinit {
        connection.close()
        database.drop()
        workspace.remove()
    }

    func options(_ records: Int, _ faults: Bool, date: String = "20210105") -> GeneratorOptions {
        var options = GeneratorOptions()
        options.seed = seed
        options.holders = 400
        options.records = records
        options.providers = 3
        options.filesPerProvider = 2
        options.fileDate = date
        options.faults = faults
        return options
    }

    /// Drops more files for the same holders (new record IDs through the date in their names).
    func dropMore(records: Int, date: String) throws {
        let scratch = try DropWorkspace(prefix: "reports-more")
        defer { scratch.remove() }
        _ = try DropGenerator.generate(
            registry: scratch.registry, inbox: scratch.inbox, options: options(records, false, date: date))
        try workspace.copyIntoInbox(from: scratch.inbox)
    }

    @discardableResult
    func settle() throws -> RunSummary {
        let folders = DropFolders(
            inbox: workspace.inbox, outbox: workspace.outbox, archive: workspace.archive,
            quarantine: workspace.quarantine)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try SettlementRun.run(
            ledger: ledger, options: SettlementOptions(folders: folders, campaign: .mynapoint2020, workers: 2),
            logger: logger)
    }

    /// Two runs a month apart (the first moved back 40 days): 2020-12 and 2021-01 or later.
    func twoMonths() throws -> (first: RunSummary, second: RunSummary) {
        let first = try settle()
        try connection.execute("UPDATE runs SET committed_at = committed_at - interval '40 days'")
        try dropMore(records: 1500, date: "20210206")
        let second = try settle()
        return (first, second)
    }

    func int(_ sql: String, _ parameters: [PostgresBind] = []) throws -> Int {
        Int(try connection.query(sql, parameters)[0, 0].int())
    }

    func text(_ sql: String, _ parameters: [PostgresBind] = []) throws -> String {
        try connection.query(sql, parameters)[0, 0].string()
    }
}

/// What the result files in the outbox say, counted independently of the database: per provider, files,
/// rows, GRANTED rows, points, REJECTED rows by reason, and the eligible amount (from the archived inputs).
struct OutboxCount: Equatable {
    struct Provider: Equatable {
        var files = 0
        var records = 0
        var granted = 0
        var points = 0
        var eligibleAmount = 0
        var rejections: [String: Int] = [:]
    }

    var providers: [String: Provider] = [:]

    static func count(_ workspace: DropWorkspace) throws -> OutboxCount {
        var count = OutboxCount()
        let fm = FileManager.default
        for provider in try fm.contentsOfDirectory(atPath: workspace.outbox).sorted() {
            var figures = Provider()
            let folder = workspace.outbox + "/" + provider
            for name in try fm.contentsOfDirectory(atPath: folder).sorted() where name.hasSuffix(".result.csv.zst") {
                let stem = String(name.dropLast(".result.csv.zst".count))
                let result = try lines(folder + "/" + name)
                let input = try lines(workspace.archive + "/" + provider + "/" + stem + ".csv.zst")
                #expect(result.first == "record_id,mykey_id,status,points,reason")
                let rows = Array(result.dropFirst())
                let data = Array(input.dropFirst())
                #expect(rows.count == data.count, "\(name): one result row per data line")
                figures.files += 1
                for (row, line) in zip(rows, data) {
                    let fields = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                    figures.records += 1
                    if fields[2] == "GRANTED" {
                        figures.granted += 1
                        figures.points += Int(fields[3])!
                        let inputFields = line.split(separator: ",", omittingEmptySubsequences: false)
                        figures.eligibleAmount += Int(inputFields[3].replacingOccurrences(of: "\"", with: ""))!
                    } else {
                        figures.rejections[fields[4], default: 0] += 1
                    }
                }
            }
            count.providers[provider] = figures
        }
        return count
    }

    /// A zstd CSV file's non-empty lines, without a BOM or line ends.
    static func lines(_ path: String) throws -> [String] {
        let bytes = try Zstd.decompress(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        // "\r\n" is one Character in Swift: split on any line end.
        return text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
    }
}

/// An RFC 4180 parser for checking the CSV renderings: rows of fields, CRLF line ends required.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var index = text.unicodeScalars.startIndex
    let scalars = text.unicodeScalars
    while index < scalars.endIndex {
        let c = scalars[index]
        if quoted {
            if c == "\"" {
                let next = scalars.index(after: index)
                if next < scalars.endIndex && scalars[next] == "\"" {
                    field.unicodeScalars.append("\"")
                    index = next
                } else {
                    quoted = false
                }
            } else {
                field.unicodeScalars.append(c)
            }
        } else if c == "\"" && field.isEmpty {
            quoted = true
        } else if c == "," {
            row.append(field)
            field = ""
        } else if c == "\r" {
            let next = scalars.index(after: index)
            #expect(next < scalars.endIndex && scalars[next] == "\n", "a bare CR in the CSV")
            row.append(field)
            rows.append(row)
            row = []
            field = ""
            index = next
        } else if c == "\n" {
            Issue.record("a bare LF line end in the CSV")
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        } else {
            field.unicodeScalars.append(c)
        }
        index = scalars.index(after: index)
    }
    if !field.isEmpty || !row.isEmpty {
        row.append(field)
        rows.append(row)
    }
    return rows
}

/// The blocks of a CSV rendering (separated by empty lines), each a header row and its data rows.
func csvBlocks(_ text: String) -> [[[String]]] {
    var blocks: [[[String]]] = [[]]
    for row in parseCSV(text) {
        if row == [""] {
            blocks.append([])
        } else {
            blocks[blocks.count - 1].append(row)
        }
    }
    return blocks.filter { !$0.isEmpty }
}

/// A Prometheus text-format parser strict enough to catch what node_exporter would reject.
struct PrometheusText {
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var types: [String: String] = [:]
    var help: [String: String] = [:]
    var samples: [Sample] = []

    enum Failure: Error, CustomStringConvertible {
        case line(Int, String)
        var description: String {
            switch self {
            case .line(let n, let why): "line \(n): \(why)"
            }
        }
    }

    static func parse(_ text: String) throws -> PrometheusText {
        var parsed = PrometheusText()
        guard text.hasSuffix("\n") else { throw Failure.line(0, "the text must end with a line feed") }
        let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
        var seen = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let line = String(raw)
            let n = i + 1
            if line.isEmpty { continue }
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                guard parts.count == 4, parts[2].range(of: "^\(name)$", options: .regularExpression) != nil else {
                    throw Failure.line(n, "bad comment \(line)")
                }
                if parts[1] == "TYPE" {
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw Failure.line(n, "unknown type \(parts[3])")
                    }
                    guard parsed.types[parts[2]] == nil else { throw Failure.line(n, "second TYPE for \(parts[2])") }
                    guard !parsed.samples.contains(where: { $0.name == parts[2] }) else {
                        throw Failure.line(n, "TYPE after samples of \(parts[2])")
                    }
                    parsed.types[parts[2]] = parts[3]
                } else {
                    parsed.help[parts[2]] = parts[3]
                }
                continue
            }
            if line.hasPrefix("#") { continue }
            let pattern = "^(\(name))(\\{[^}]*\\})? ([^ ]+)( -?[0-9]+)?$"
            guard let regex = try? NSRegularExpression(pattern: pattern),
                let match = regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line))
            else { throw Failure.line(n, "not a sample: \(line)") }
            func group(_ k: Int) -> String? {
                Range(match.range(at: k), in: line).map { String(line[$0]) }
            }
            let metric = group(1)!
            guard let value = Double(group(3)!) else { throw Failure.line(n, "bad value in \(line)") }
            var labels: [String: String] = [:]
            if let block = group(2) {
                let inner = block.dropFirst().dropLast()
                let labelRegex = try NSRegularExpression(pattern: #"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#)
                var rebuilt: [String] = []
                let innerText = String(inner)
                for m in labelRegex.matches(in: innerText, range: NSRange(innerText.startIndex..., in: innerText)) {
                    let key = String(innerText[Range(m.range(at: 1), in: innerText)!])
                    let val = String(innerText[Range(m.range(at: 2), in: innerText)!])
                    guard labels[key] == nil else { throw Failure.line(n, "label \(key) twice") }
                    labels[key] = val
                    rebuilt.append("\(key)=\"\(val)\"")
                }
                guard rebuilt.joined(separator: ",") == innerText else { throw Failure.line(n, "bad labels \(block)") }
            }
            guard parsed.types[metric] != nil else { throw Failure.line(n, "sample of \(metric) before its TYPE") }
            let key = metric + labels.sorted { $0.key < $1.key }.map { "|\($0.key)=\($0.value)" }.joined()
            guard seen.insert(key).inserted else { throw Failure.line(n, "duplicate series \(key)") }
            parsed.samples.append(Sample(name: metric, labels: labels, value: value))
        }
        return parsed
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
