import ArgumentParser
import Foundation
import Generator

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Generates a registry and a provider drop with a realistic mix of outcomes (for demos, tests and benchmarks).",
        discussion: "The same options give byte-identical files.")

    @Option(help: "Folder for the registry CSV files.") var registry: String
    @Option(help: "Folder for the drop (data and control files).") var inbox: String
    @Option(help: "Holders in the registry.") var holders: Int = 10_000
    @Option(help: "Data lines over all files.") var records: Int = 100_000
    @Option(help: "Providers.") var providers: Int = 4
    @Option(name: .customLong("files-per-provider"), help: "Files per provider.") var filesPerProvider: Int = 2
    @Option(help: "Date in the file names (YYYYMMDD).") var date: String = "20210105"
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Add bad lines and files that must be quarantined.") var faults = false

    func validate() throws {
        guard holders > 0, records >= 0, providers > 0, providers <= 9999, filesPerProvider > 0,
            filesPerProvider <= 9000
        else {
            throw ValidationError(
                "holders, providers and files per provider must be positive (providers ≤ 9999, files ≤ 9000)")
        }
        guard date.count == 8, date.allSatisfy(\.isNumber) else { throw ValidationError("--date is YYYYMMDD") }
    }

    func run() throws {
        var options = GeneratorOptions()
        options.seed = seed
        options.holders = holders
        options.records = records
        options.providers = providers
        options.filesPerProvider = filesPerProvider
        options.fileDate = date
        options.faults = faults
        let drop: GeneratedDrop
        do {
            drop = try DropGenerator.generate(registry: registry, inbox: inbox, options: options)
        } catch {
            throw Output.fail("generate failed: \(error)")
        }
        print(
            "generated \(drop.holders) holders, \(drop.providers) providers, \(drop.files) files with \(drop.records) records "
                + "(\(drop.csvBytes / 1_000_000) MB of CSV, \(drop.compressedBytes / 1_000_000) MB compressed)"
                + (drop.faultyFiles.isEmpty ? "" : ", and \(drop.faultyFiles.count) files to be quarantined"))
    }
}
