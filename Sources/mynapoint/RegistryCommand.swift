import ArgumentParser
import Foundation
import Ledger
import Registry
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
                line and reason, and nothing is loaded. An import never weakens what is known: a revoked MyKey ID stays
                revoked (a line saying otherwise is refused), and a certificate's revocation is never cleared or moved
                later. Certificates are identified by issuer and serial: certificates.csv may end in an issuer column;
                rows without one are certificates of registry.certificate_issuer of the configuration (default: the
                JPKI user-authentication CA).
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The folder with the registry CSV files.") var directory: String
        @Option(help: Configuration.optionHelp)
        var config: String?

        func run() throws {
            do {
                let configuration = try Configuration.load(path: config)?.0 ?? Configuration()
                let load = try RegistryReader.read(directory: directory)
                let ledger = try Ledger(url: database.url)
                try ledger.requireCurrentSchema()
                let counts = try ledger.importRegistry(
                    load, certificateIssuer: configuration.registryCertificateIssuer)
                print(
                    "registry imported: \(counts.providers) providers, \(counts.newHolders) new holders, "
                        + "\(counts.updatedHolders) holders updated, \(counts.applications) applications, "
                        + "\(counts.certificates) certificates (\(counts.revocations) revocations recorded), "
                        + "\(counts.myKeyChanges) MyKey ID changes")
            } catch {
                throw Output.fail("registry import: \(error)")
            }
        }
    }
}
