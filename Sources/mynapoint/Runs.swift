import ArgumentParser
import Foundation
import Ledger
import Localization
import Reports

struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists committed settlement runs and shows one in detail.", subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The most recent committed runs, newest first: files, records, points, duration, who.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "How many runs.") var limit: Int = 50
        @Flag(help: "JSON instead of a table.") var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be positive") }
        }

        func run() throws {
            let language = try Output.languageOfInstalledConfiguration()
            let runs: [RunHistory.Run]
            do {
                let ledger = try Ledger(url: database.url)
                try ledger.requireCurrentSchema()
                runs = try RunHistory.list(ledger: ledger, limit: limit)
            } catch {
                throw Output.fail("runs list failed: \(error)")
            }
            if json {
                try Output.write(try Output.json(runs), to: nil)
            } else {
                try Output.write(RunHistory.listText(runs, language: language), to: nil)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One committed run: parameters, who, where, version, duration, and each file's outcome.")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The run's number.") var id: Int64
        @Flag(help: "JSON instead of text.") var json = false

        func run() throws {
            let language = try Output.languageOfInstalledConfiguration()
            let detail: RunHistory.Detail?
            do {
                let ledger = try Ledger(url: database.url)
                try ledger.requireCurrentSchema()
                detail = try RunHistory.detail(ledger: ledger, run: id)
            } catch {
                throw Output.fail("runs show failed: \(error)")
            }
            guard let detail else {
                throw Output.fail("there is no committed run \(id); `mynapoint runs list` shows the committed runs")
            }
            try Output.write(
                json ? try Output.json(detail) : RunHistory.detailText(detail, language: language), to: nil)
        }
    }
}
