import ArgumentParser
import Foundation
import Ledger
import Reports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Finance reconciliation report: what each provider is owed, and the checks that prove it.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "First date (JST, YYYY-MM-DD) of runs to include.") var from: String?
    @Option(help: "Last date (JST, YYYY-MM-DD) of runs to include.") var to: String?
    @Option(help: "json or csv.") var format: String = "json"

    func validate() throws {
        guard ["json", "csv"].contains(format) else { throw ValidationError("--format must be json or csv") }
        for date in [from, to].compactMap({ $0 }) {
            guard date.range(of: #"^\d{4}-\d{2}-\d{2}$"#, options: .regularExpression) != nil else {
                throw ValidationError("dates are YYYY-MM-DD (JST): \(date)")
            }
        }
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
        switch format {
        case "csv": FileHandle.standardOutput.write(Data(report.csv.utf8))
        default: try Output.printJSON(report)
        }
    }
}
