import Foundation
import Localization
import Logging
import Postgres
import Registry
import Rules
import TestSupport
import Testing

@testable import Ledger
@testable import Settlement

/// A database with the schema, a workspace, and a way to run settlement over them.
final class SettlementFixture {
    let database: TemporaryDatabase
    let ledger: Ledger
    let workspace: DropWorkspace
    var campaign = Campaign.mynapoint2020
    var workers = 2
    /// English, so that tests can read the sentences a provider is given.
    var providerLanguage = Language.en

    init(registry: String? = nil) throws {
        database = try TemporaryDatabase.create(prefix: "settle")
        ledger = try Ledger(url: database.url)
        try ledger.migrate()
        workspace = try DropWorkspace()
        if let registry { try importRegistry(registry) }
    }

    deinit {
        ledger.connection.close()
        database.drop()
        workspace.remove()
    }

    /// The worked example's registry.
    static var exampleRegistry: String { DropWorkspace.fixtures() + "/example/registry" }

    func importRegistry(_ directory: String) throws {
        _ = try ledger.importRegistry(try RegistryReader.read(directory: directory))
    }

    var folders: DropFolders {
        DropFolders(
            inbox: workspace.inbox, outbox: workspace.outbox, archive: workspace.archive,
            quarantine: workspace.quarantine)
    }

    @discardableResult
    func settle(dryRun: Bool = false, logger given: Logger? = nil) throws -> RunSummary {
        var options = SettlementOptions(folders: folders, campaign: campaign, workers: workers)
        options.dryRun = dryRun
        options.providerLanguage = providerLanguage
        var logger = Logger(label: "test")
        logger.logLevel = .error
        return try SettlementRun.run(ledger: ledger, options: options, logger: given ?? logger)
    }

    func points(_ myKey: String) throws -> Int? { try ledger.holder(myKey: MyKeyID(myKey)!)?.points }

    func count(_ sql: String) throws -> Int64 { try ledger.connection.query(sql)[0, 0].int() }
}

/// A CSV drop with the header.
func records(_ lines: String...) -> String {
    "record_id,mykey_id,kind,amount_yen,occurred_at\n" + lines.map { $0 + "\n" }.joined()
}

extension Preflight.Options {
    /// Options whose explanations are in English, so that tests can read them.
    static func english(campaign: Campaign) -> Preflight.Options {
        var options = Preflight.Options(campaign: campaign)
        options.providerLanguage = .en
        return options
    }
}
