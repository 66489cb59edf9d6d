import ArgumentParser
import DropFormat
import Foundation
import Localization
import Rules
import Settlement

/// The campaign window and limits `check` and `pack` judge by: the configuration's, overridden like `settle`'s.
struct PreflightArguments: ParsableArguments {
    @Option(help: Configuration.optionHelp)
    var config: String?
    @Option(name: .customLong("window-start"), help: "First instant a record may occur (RFC 3339).")
    var windowStart: String?
    @Option(name: .customLong("window-end"), help: "End of the window, exclusive (RFC 3339).") var windowEnd: String?
    @OptionGroup var fileLimits: FileLimitOptions
    @Option(help: "Reading threads (default: the machine's cores).") var workers: Int?

    func validate() throws {
        if let windowStart, RFC3339.parse(windowStart) == nil {
            throw ValidationError("--window-start must be RFC 3339 with seconds and offset")
        }
        if let windowEnd, RFC3339.parse(windowEnd) == nil {
            throw ValidationError("--window-end must be RFC 3339 with seconds and offset")
        }
        if let workers, workers < 1 || workers > 256 { throw ValidationError("--workers must be 1–256") }
    }

    /// The options, or exit 64 (unusable parameters) after one line on standard error; the explanations are in the
    /// language `--lang` names, else the configuration's `provider_language`.
    func options() throws -> Preflight.Options {
        do {
            let file = try Configuration.load(path: config)?.0 ?? Configuration()
            var options = Preflight.Options(
                campaign: try file.resolvedCampaign(), limits: fileLimits.applied(to: file.limits ?? Limits()))
            if let windowStart { options.campaign.windowStart = RFC3339.parse(windowStart)! }
            if let windowEnd { options.campaign.windowEnd = RFC3339.parse(windowEnd)! }
            options.workers = workers ?? file.workers ?? ProcessInfo.processInfo.activeProcessorCount
            if let option = LanguageArgument.option {
                options.providerLanguage = try Language.named(option, source: "--lang")
            } else {
                options.providerLanguage = try file.resolvedProviderLanguage()
            }
            return options
        } catch {
            throw Output.fail("\(error)", code: 64)
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks drop files as settle would, without a database, and moves nothing.",
        discussion: """
            PATH is a data file (.csv.zst), a control file (.ctl) or a folder; a file is checked with its other half.
            Every check that needs neither the registry nor earlier runs: names, entry types, control file, checksum,
            compression, limits, header, control totals, every field's form, duplicates within the files given (in
            name order, as one run), the campaign window. Not known here: UNKNOWN_PROVIDER, NAME_REUSED,
            ALREADY_SETTLED, duplicates of earlier runs, and the reasons that need the registry.
            The explanations are in the language --lang names, else the configuration's provider_language (default
            ja); --format json is the same in every language.
            Exit codes: 0 every file would be settled; 3 some file would be quarantined or is waiting; 64 usage.
            """)

    @Argument(help: "Data files, control files or folders.") var paths: [String]
    @Option(help: "text or json.") var format = "text"
    @Option(name: .customLong("max-problems"), help: "Line problems shown per file (default 10).")
    var maxProblems = 10
    @OptionGroup var preflight: PreflightArguments

    func validate() throws {
        guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
        guard maxProblems >= 0 else { throw ValidationError("--max-problems must not be negative") }
        guard !paths.isEmpty else { throw ValidationError("name at least one data file, control file or folder") }
    }

    func run() throws {
        var options = try preflight.options()
        options.maxProblems = maxProblems
        let report = try Self.check(paths, options: options)
        if format == "json" {
            try Output.printJSON(CheckJSON(report))
        } else {
            print(Self.text(report, language: options.providerLanguage), terminator: "")
        }
        if !report.allAccepted { throw ExitCode(3) }
    }

    /// The report, or exit 64 (unusable paths) or 1 (a file that cannot be read) after one line.
    static func check(_ paths: [String], options: Preflight.Options) throws -> PreflightReport {
        do {
            return try Preflight.check(paths, options: options)
        } catch let error as SettlementError where error.code == .configuration {
            throw Output.fail(error.message, code: 64)
        } catch {
            throw Output.fail("check failed: \(error)")
        }
    }

    /// One paragraph per file, then a total line, in `language`.
    static func text(_ report: PreflightReport, language: Language) -> String {
        var out = ""
        for file in report.files { out += text(file, language: language) }
        if !report.ignored.isEmpty {
            out += ProviderMessage.checkIgnored(names: report.ignored.joined(separator: ", ")).text(language) + "\n"
        }
        let count = { (verdict: PreflightFile.Verdict) in report.files.filter { $0.verdict == verdict }.count }
        let total = ProviderMessage.checkTotal(
            files: report.files.count, accepted: count(.accept), quarantined: count(.quarantine),
            waiting: count(.waiting))
        return out + total.text(language) + "\n"
    }

    /// A file's verdict line and its first problems, in `language`.
    static func text(_ file: PreflightFile, language: Language) -> String {
        switch file.verdict {
        case .accept:
            let reasons = file.reasons.sorted { $0.key < $1.key }.map { "\($0.key.code) \($0.value)" }
            var out =
                ProviderMessage.checkAccepted(
                    file: file.file, records: file.records, rejected: reasons.joined(separator: ", ")
                ).text(language) + "\n"
            for problem in file.problems {
                let line = ProviderMessage.checkProblem(
                    line: problem.line, record: problem.record, code: problem.reason.code, field: problem.field,
                    advice: problem.explanation)
                out += "  " + line.text(language) + "\n"
            }
            let shown = file.problems.count
            let total = file.reasons.values.reduce(0, +)
            if total > shown { out += "  " + ProviderMessage.checkMore(count: total - shown).text(language) + "\n" }
            return out
        case .quarantine:
            guard let quarantine = file.quarantine else { return "" }
            return ProviderMessage.checkQuarantined(
                file: file.file, code: quarantine.code.rawValue, line: quarantine.line, reason: quarantine.reason
            ).text(language) + "\n"
        case .waiting:
            guard let explanation = file.explanation else { return "" }
            return ProviderMessage.checkWaiting(file: file.file, reason: explanation).text(language) + "\n"
        }
    }
}

/// `check --format json`: `{"files": [{"file", "verdict", "code", "line", "records", "reasons", …}]}`.
struct CheckJSON: Encodable {
    struct File: Encodable {
        var file: PreflightFile

        enum CodingKeys: String, CodingKey {
            case file, verdict, code, line, records, reasons, message, problems
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(file.file, forKey: .file)
            try c.encode(file.verdict.rawValue, forKey: .verdict)
            // Explicit nulls: a reader finds every key in every entry.
            try c.encode(file.quarantine?.code.rawValue, forKey: .code)
            try c.encode(file.quarantine?.line, forKey: .line)
            try c.encode(file.records, forKey: .records)
            try c.encode(
                Dictionary(uniqueKeysWithValues: file.reasons.map { ($0.key.code, $0.value) }), forKey: .reasons)
            // JSON is the same in every language: the English sentence.
            try c.encode(file.explanation?.english, forKey: .message)
            try c.encode(file.problems.map(Problem.init), forKey: .problems)
        }
    }

    struct Problem: Encodable {
        var line: Int
        var record: Int
        var reason: String
        var field: String?
        var advice: String

        init(_ problem: LineProblem) {
            line = problem.line
            record = problem.record
            reason = problem.reason.code
            field = problem.field
            advice = problem.explanation.english
        }

        enum CodingKeys: String, CodingKey { case line, record, reason, field, advice }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(line, forKey: .line)
            try c.encode(record, forKey: .record)
            try c.encode(reason, forKey: .reason)
            try c.encode(field, forKey: .field)
            try c.encode(advice, forKey: .advice)
        }
    }

    var files: [File]

    init(_ report: PreflightReport) { files = report.files.map(File.init) }
}

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Makes a drop pair from a plain CSV: zstd data file and control file, checked as settle would.",
        discussion: """
            Compresses CSV (zstd, with frame checksums), counts its data lines and amount total as settlement does,
            writes the control file, and runs check on the pair. Only when check accepts it are the files renamed into
            --out under their final names: data file first, control file last. A pair check would quarantine is
            refused with check's explanation, and nothing is written.
            Exit codes: 0 written; 3 refused (nothing written); 1 the input cannot be read, a file of that name
            exists, or the folder cannot be written; 64 usage.
            """)

    @Argument(help: "The CSV file: header record_id,mykey_id,kind,amount_yen,occurred_at, then one record a line.")
    var csv: String
    @Option(help: "Provider ID (1–16 of A–Z 0–9).") var provider: String
    @Option(help: "Date in the file name (YYYYMMDD).") var date: String
    @Option(help: "Sequence number of the day (1–9999, written with 4 digits).") var seq: Int
    @Option(help: "Folder to write the pair to (default: the current folder).") var out = "."
    @OptionGroup var preflight: PreflightArguments

    func run() throws {
        let name = Pack.name(provider: provider, date: date, sequence: seq)
        let outcome: Pack.Outcome
        let options = try preflight.options()
        do {
            outcome = try Pack.make(csv: csv, name: name, folder: out, options: options)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw Output.fail("pack failed, nothing was written: \(error)")
        }
        switch outcome {
        case .refused(let verdict):
            let refused = ProviderMessage.packRefused.text(options.providerLanguage)
            FileHandle.standardError.write(
                Data(("mynapoint: \(refused): " + Check.text(verdict, language: options.providerLanguage)).utf8))
            throw ExitCode(3)
        case .packed(let control, let verdict):
            let stem = String(name.dropLast(".csv.zst".count))
            let wrote = ProviderMessage.packWrote(
                data: "\(out)/\(name)", control: "\(out)/\(stem).ctl", records: control.records,
                amountTotal: control.amountTotal)
            print(wrote.text(options.providerLanguage))
            print(Check.text(verdict, language: options.providerLanguage), terminator: "")
        }
    }
}

/// The per-file limits as flags (`--max-line-bytes`, `--max-file-bytes`, `--max-file-records`), shared by `settle`,
/// `check` and `pack` so that all three judge a file alike.
struct FileLimitOptions: ParsableArguments {
    @Option(name: .customLong("max-line-bytes"), help: "Longest line of a data file (default 4096).")
    var maxLineBytes: Int?
    @Option(name: .customLong("max-file-bytes"), help: "Most decompressed bytes of one data file (default 8 GiB).")
    var maxFileBytes: Int?
    @Option(name: .customLong("max-file-records"), help: "Most data lines of one file (default 20000000).")
    var maxFileRecords: Int?

    func validate() throws {
        for (name, value) in [
            ("max-line-bytes", maxLineBytes), ("max-file-bytes", maxFileBytes), ("max-file-records", maxFileRecords),
        ] {
            if let value, value < 1 { throw ValidationError("--\(name) must be a positive whole number") }
        }
    }

    /// `limits` with the values given on the command line.
    func applied(to limits: Limits) -> Limits {
        var result = limits
        if let maxLineBytes { result.maxLineBytes = maxLineBytes }
        if let maxFileBytes { result.maxFileBytes = maxFileBytes }
        if let maxFileRecords { result.maxFileRecords = maxFileRecords }
        return result
    }
}
