import ArgumentParser
import Foundation
import Ledger
import Localization
import Reports

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audits the ledger: recomputes every holder and file from the grants, and checks the result files.",
        discussion: """
            Recomputes each holder's points, eligible amount and records from the grants; re-derives each settled \
            file's conservation (lines = granted + rejected; outcomes = lines; grant rows = lines − MALFORMED − \
            DUPLICATE); compares each result control file stored in the database with the grants and with the \
            stored result bytes; with --outbox, also the files delivered there (present, SHA-256 as in the control \
            file, control totals as in the database). Read-only.

            Exit codes: 0 no difference (one summary line); 2 differences, one line each on standard output \
            (holder or file: field: expected X, found Y); 1 the audit could not run. The lines are in the language for \
            people (--lang ja|en, else the locale); the fields and figures in them are the same in every language.
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The outbox folder ({outbox}/{provider_id}/…result.csv.zst) to check the delivered files in.")
    var outbox: String?

    func run() throws {
        let language = try Output.languageOfInstalledConfiguration()
        let verification: Verification
        do {
            let ledger = try Ledger(url: database.url)
            try ledger.requireCurrentSchema()
            if let outbox {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: outbox, isDirectory: &isDirectory), isDirectory.boolValue
                else {
                    throw Output.fail("the outbox \(outbox) is not a folder; give the folder settle writes results to")
                }
            }
            verification = try Verification.run(ledger: ledger, outbox: outbox)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw Output.fail("verify failed: \(error)")
        }
        for difference in verification.differences { print(difference.text(language)) }
        if verification.ok {
            print(verification.summary(language))
        } else {
            FileHandle.standardError.write(Data("mynapoint: verify: \(verification.summary(language))\n".utf8))
            throw ExitCode(2)
        }
    }
}
