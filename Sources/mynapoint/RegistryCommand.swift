import ArgumentParser
import Foundation
import Ledger
import Settlement

struct RegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry", abstract: "Bulk registry operations.", subcommands: [Import.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Loads providers, holders, certificates and MyKey ID changes from CSV files (all or nothing).",
            discussion: """
                DIR holds providers.csv, holders.csv, certificates.csv and optionally mykey_changes.csv, each plain or
                .csv.zst. Every line is checked before anything is written; a bad line stops the import with its file,
                line and reason, and nothing is loaded.
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The folder with the registry CSV files.") var directory: String

        func run() throws {
            do {
                let load = try RegistryReader.read(directory: directory)
                let ledger = try Ledger(url: database.url)
                try ledger.requireCurrentSchema()
                let counts = try ledger.importRegistry(load)
                print(
                    "registry imported: \(counts.providers) providers, \(counts.new_holders) new holders, "
                        + "\(counts.updated_holders) holders updated, \(counts.applications) applications, "
                        + "\(counts.certificates) certificates, \(counts.mykey_changes) MyKey ID changes")
            } catch {
                throw Output.fail("registry import: \(error)")
            }
        }
    }
}
