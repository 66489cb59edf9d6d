import ArgumentParser
import Foundation
import Ledger
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
                Periods are dates of the runs' commit in JST, inclusive; without --from/--to, all runs. json is the
                settlement spec's §10 shape; csv opens in a spreadsheet (CRLF, RFC 4180); html is one self-contained
                page with charts, per provider and per month. Exit 0 even when a check fails: the verdicts are in the
                report (use `mynapoint verify` for an exit code).
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "First date (JST, YYYY-MM-DD) of runs to include.") var from: String?
        @Option(help: "Last date (JST, YYYY-MM-DD) of runs to include.") var to: String?
        @Option(help: "json, csv or html.") var format: String = "json"
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func validate() throws {
            guard ["json", "csv", "html"].contains(format) else {
                throw ValidationError("--format must be json, csv or html")
            }
            for date in [from, to].compactMap({ $0 }) { try Report.checkDate(date) }
            if let from, let to, from > to { throw ValidationError("--from \(from) is after --to \(to)") }
        }

        func run() throws {
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
            case "html": text = ReportHTML.render(report)
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
                One line per provider and month (JST month of the run's commit) with the points granted that month —
                the provisional subsidy claim — and the provider's running total since the first run; each month ends
                with a TOTAL line. With --month, only that month's lines (running totals still count every earlier
                month).
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The month (YYYY-MM, JST); default: every month.") var month: String?
        @Option(help: "csv or json.") var format: String = "csv"
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func validate() throws {
            guard ["csv", "json"].contains(format) else { throw ValidationError("--format must be csv or json") }
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
            try Output.write(format == "json" ? try Output.json(statement) : statement.csv, to: output)
        }
    }
}
