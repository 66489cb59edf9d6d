import ArgumentParser
import Foundation
import Ledger
import Rules

struct HolderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "holder", abstract: "Looks up holders.", subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Shows a holder by a current or former MyKey ID: status, provider, eligible amount, points, records.")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "A MyKey ID (8 of A–Z 0–9).") var mykey: String
        @Option(help: "json (the only format).") var format: String = "json"

        func validate() throws {
            guard MyKeyID(mykey) != nil else { throw ValidationError("a MyKey ID is 8 characters of A–Z 0–9") }
            guard format == "json" else { throw ValidationError("--format must be json") }
        }

        func run() throws {
            let holder: HolderView?
            do {
                let ledger = try Ledger(url: database.url)
                try ledger.requireCurrentSchema()
                holder = try ledger.holder(myKey: MyKeyID(mykey)!)
            } catch {
                throw Output.fail("holder show failed: \(error)")
            }
            guard let holder else { throw Output.fail("no holder has or ever had MyKey ID \(mykey)") }
            try Output.printJSON(holder)
        }
    }
}
