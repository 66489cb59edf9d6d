import ArgumentParser
import Foundation
import Ledger
import Localization
import Reports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Finance reports: the reconciliation report (default) and the monthly provider statement.",
        subcommands: [Reconciliation.self, Statement.self], defaultSubcommand: Reconciliation.self)

    /// Validates a JST date option.
    static func checkDate(_ date: String) throws {
        guard date.range(of: #"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"#, options: .regularExpression) != nil
        else {
            throw ValidationError("dates are YYYY-MM-DD (JST): \(date)")
        }
    }

    struct Reconciliation: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What each provider is owed for the runs committed in a period, and the checks that prove it.",
            discussion: """
                Periods are dates of the runs' commit in JST, inclusive; without --from/--to, all runs. json is the \
                settlement spec's §10 shape; csv opens in a spreadsheet (CRLF, RFC 4180); html is one self-contained \
                page with charts, per provider and per month; text is a summary for a terminal or a mail. Exit 0 even \
                when a check fails: the verdicts are in the report (use `mynapoint verify` for an exit code).

                html and text are in the language for people (--lang ja|en, else the locale: ja_JP.UTF-8 is \
                Japanese, with amounts as 12,345円, points as 1,250ポイント and dates as 2021年3月31日); json and \
                csv are the same in every language.
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "First date (JST, YYYY-MM-DD) of runs to include.") var from: String?
        @Option(help: "Last date (JST, YYYY-MM-DD) of runs to include.") var to: String?
        @Option(help: "json, csv, html or text.") var format: String = "json"
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func validate() throws {
            guard ["json", "csv", "html", "text"].contains(format) else {
                throw ValidationError("--format must be json, csv, html or text")
            }
            for date in [from, to].compactMap({ $0 }) { try Report.checkDate(date) }
            if let from, let to, from > to { throw ValidationError("--from \(from) is after --to \(to)") }
        }

        func run() throws {
            let language = try Output.languageOfInstalledConfiguration()
            let report: ReconciliationReport
            do {
                let ledger = try Ledger(url: database.url)
                try ledger.requireCurrentSchema()
                report = try ReconciliationReport.compute(ledger: ledger, from: from, to: to)
            } catch {
                throw Output.fail("report failed: \(error)")
            }
            let text: String
            switch format {
            case "csv": text = report.csv
            case "html": text = ReportHTML.render(report, language: language)
            case "text": text = ReportText.render(report, language: language)
            default: text = try Output.json(report)
            }
            try Output.write(text, to: output)
        }
    }

    struct Statement: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Monthly provider statement: points granted by the runs committed each month, and running totals.",
            discussion: """
                One line per provider and month (JST month of the run's commit) with the points granted that month — \
                the provisional subsidy claim — and the provider's running total since the first run; each month ends \
                with a TOTAL line. With --month, only that month's lines (running totals still count every earlier \
                month).

                The CSV's header row is the column keys (month, provider_id, …) by default, the same in every \
                language; --header ja gives column names in Japanese (and 合計 / 全事業者 on the total lines), \
                --header en in English, for people reading it in a spreadsheet. The figures are plain numbers \
                whatever the header.
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The month (YYYY-MM, JST); default: every month.") var month: String?
        @Option(help: "csv or json.") var format: String = "csv"
        @Option(help: "The CSV's header row: machine (column keys, the default), ja or en (column names for people).")
        var header: String = "machine"
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func validate() throws {
            guard ["csv", "json"].contains(format) else { throw ValidationError("--format must be csv or json") }
            guard ProviderStatement.Header(rawValue: header) != nil else {
                throw ValidationError("--header must be machine, ja or en")
            }
            if format == "json" && header != "machine" {
                throw ValidationError("--header is for the CSV; JSON keys are the same in every language")
            }
            if let month, month.range(of: #"^\d{4}-(0[1-9]|1[0-2])$"#, options: .regularExpression) == nil {
                throw ValidationError("--month is YYYY-MM: \(month)")
            }
        }

        func run() throws {
            let statement: ProviderStatement
            do {
                let ledger = try Ledger(url: database.url)
                try ledger.requireCurrentSchema()
                statement = try ProviderStatement.compute(ledger: ledger, month: month)
            } catch {
                throw Output.fail("statement failed: \(error)")
            }
            let csvHeader = ProviderStatement.Header(rawValue: header) ?? .machine
            try Output.write(
                format == "json" ? try Output.json(statement) : statement.csv(header: csvHeader), to: output)
        }
    }
}
