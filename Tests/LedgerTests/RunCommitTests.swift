import Foundation
import Postgres
import Rules
import Testing

@testable import Ledger

/// The commit refuses to overwrite a balance that changed after the run read it.
@Suite struct RunCommitTests {
    func header(_ ledger: Ledger) throws -> RunHeader {
        RunHeader(
            runID: try ledger.nextRunID(), startedAt: Date(), startedBy: "test", host: "host", version: "0",
            parametersJSON: "{}")
    }

    func commit(_ ledger: Ledger, holder: Int64, before: Balance, after: Balance) throws {
        try ledger.commitRun(
            try header(ledger), files: [],
            balances: [BalanceChange(holderKey: holder, before: before, after: after, records: 1)],
            campaign: .mynapoint2020
        ) { _ in }
    }

    @Test func aStaleBalanceCommitsNothing() throws {
        try withLedger { ledger, _ in
            try ledger.recordOrCheckCampaign(.mynapoint2020)
            let holder = try ledger.connection.query(
                "INSERT INTO holders (status) VALUES ('active') RETURNING holder_key")[
                    0, 0
                ].int()
            // First grant: the row is created.
            try commit(ledger, holder: holder, before: Balance(), after: Balance(points: 250, eligibleAmount: 1000))
            // A second run that read the balance before the first committed must not overwrite it (the primary key
            // refuses a second first-time row; the guarded update refuses a stale one).
            #expect(throws: (any Error).self) {
                try commit(ledger, holder: holder, before: Balance(), after: Balance(points: 500, eligibleAmount: 2000))
            }
            #expect(throws: LedgerError.self) {
                try commit(
                    ledger, holder: holder, before: Balance(points: 100, eligibleAmount: 400),
                    after: Balance(points: 500, eligibleAmount: 2000))
            }
            let row = try ledger.connection.query(
                "SELECT points, eligible_amount FROM ledger WHERE holder_key = $1", [.int(holder)])
            #expect(try row[0, 0].int() == 250)
            #expect(try row[0, 1].int() == 1000)
            #expect(try ledger.connection.query("SELECT count(*) FROM runs")[0, 0].int() == 1)
            // With the balance it really started from, the next run commits.
            try commit(
                ledger, holder: holder, before: Balance(points: 250, eligibleAmount: 1000),
                after: Balance(points: 500, eligibleAmount: 2000))
            #expect(try ledger.connection.query("SELECT points FROM ledger")[0, 0].int() == 500)
        }
    }
}
