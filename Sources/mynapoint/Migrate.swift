import ArgumentParser
import Foundation
import Ledger

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Creates or upgrades the database schema (idempotent).")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        do {
            let ledger = try Ledger(url: database.url)
            let applied = try ledger.migrate()
            let version = try ledger.schemaVersion()
            print(
                applied.isEmpty
                    ? "schema is up to date (version \(version))"
                    : "schema upgraded to version \(version) (applied \(applied.map(String.init).joined(separator: ", ")))"
            )
        } catch {
            throw Output.fail("migrate failed: \(error)")
        }
    }
}
