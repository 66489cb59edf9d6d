import Foundation
import Postgres
import Rules
import TestSupport
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

/// A run's grants over several connections, joined by two-phase commit: all of it or nothing, and never a prepared
/// transaction left behind by a run that ended in this process.
@Suite struct ParallelRunCommitTests {
    /// Rows of provider 1, `count` of them, with record IDs `R<first>`, `R<first + 1>` and so on.
    static func rows(from first: Int, count: Int) -> GrantRows {
        { emit in
            for i in first..<(first + count) {
                let row = GrantRow(
                    providerKey: 1, holderKey: nil, file: 0, line: Int32(i + 1), occurredAt: 0, amount: 100, points: 0,
                    reason: .unknownMyKey)
                try Array("R\(i)".utf8).withUnsafeBytes { try emit(row, $0) }
            }
        }
    }

    func header(_ run: Int64) -> RunHeader {
        RunHeader(
            runID: run, startedAt: Date(), startedBy: "test", host: "host", version: "0", parametersJSON: "{}")
    }

    let file = FileRegistration(name: "P1_20201001_0001.csv.zst", providerKey: nil, sha256: [1], outcome: .settled)

    func counts(_ ledger: Ledger) throws -> [Int64] {
        try [
            "SELECT count(*) FROM grants", "SELECT count(*) FROM runs", "SELECT count(*) FROM files",
            "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()",
        ].map { try ledger.connection.query($0)[0, 0].int() }
    }

    @Test func allOrNothing() throws {
        try withLedger { ledger, database in
            try ledger.recordOrCheckCampaign(.mynapoint2020)
            let parallel = try Ledger(url: database.url)
            let streams = [Self.rows(from: 0, count: 70_000), Self.rows(from: 70_000, count: 70_000)]

            // Abandoned while copying: nothing.
            try parallel.beginRunCommit(files: 1, grants: streams).abandon()
            #expect(try counts(ledger) == [0, 0, 0, 0])

            // Refused by the stale-balance check after both streams are in: nothing, nothing prepared.
            let stale = try parallel.beginRunCommit(files: 1, grants: streams)
            #expect(throws: LedgerError.self) {
                try stale.finish(
                    header(stale.runID), files: [file],
                    balances: [
                        BalanceChange(
                            holderKey: 99, before: Balance(points: 5, eligibleAmount: 20),
                            after: Balance(points: 30, eligibleAmount: 120), records: 1)
                    ], campaign: .mynapoint2020)
            }
            #expect(try counts(ledger) == [0, 0, 0, 0])

            // A key in both streams: the second waits for the first, times out, and the run commits nothing.
            let twice = try RunCommit(
                ledger: parallel, files: 1,
                grants: [Self.rows(from: 0, count: 10), Self.rows(from: 9, count: 10)], lockTimeout: "1s")
            #expect(throws: (any Error).self) {
                try twice.finish(header(twice.runID), files: [file], balances: [], campaign: .mynapoint2020)
            }
            #expect(try counts(ledger) == [0, 0, 0, 0])

            // Committed: every row of both streams, one run, one file, nothing left prepared.
            let commit = try parallel.beginRunCommit(files: 1, grants: streams)
            try commit.finish(header(commit.runID), files: [file], balances: [], campaign: .mynapoint2020)
            #expect(try counts(ledger) == [140_000, 1, 1, 0])
            let fileID = try ledger.connection.query("SELECT file_id FROM files")[0, 0].int()
            #expect(
                try ledger.connection.query("SELECT count(*) FROM grants WHERE file_id = $1", [.int(fileID)])[0, 0]
                    .int() == 140_000)
        }
    }

    @Test func aLedgerThatCannotConnectAgainWritesOneStream() throws {
        try withLedger { ledger, _ in
            let streams = try ledger.grantStreams(requested: 4)
            #expect(streams == (1, nil))
        }
    }

    @Test func theServerSettingBoundsTheStreams() {
        #expect(Ledger.grantStreams(requested: 3, maxPreparedTransactions: 64) == (3, nil))
        #expect(Ledger.grantStreams(requested: 3, maxPreparedTransactions: 2) == (2, nil))
        #expect(Ledger.grantStreams(requested: 1, maxPreparedTransactions: 0) == (1, nil))
        for setting in [0, 1] {
            let streams = Ledger.grantStreams(requested: 4, maxPreparedTransactions: setting)
            #expect(streams.count == 1)
            #expect(
                streams.notice?.contains("max_prepared_transactions = \(setting)") == true
                    && streams.notice?.contains("at least 4") == true, "\(streams)")
        }
    }

    @Test func aRangeHoldsGrantsWhenASettledKeyLiesWithinIt() throws {
        try withLedger { ledger, _ in
            try ledger.recordOrCheckCampaign(.mynapoint2020)
            let rows: GrantRows = { emit in
                for (provider, id) in [(1, "P1-0005"), (1, "P1-0300"), (2, "Z")] {
                    let row = GrantRow(
                        providerKey: Int32(provider), holderKey: nil, file: 0, line: 1, occurredAt: 0, amount: 100,
                        points: 0, reason: .unknownMyKey)
                    try Array(id.utf8).withUnsafeBytes { try emit(row, $0) }
                }
            }
            let commit = try ledger.beginRunCommit(files: 1, grants: [rows])
            try commit.finish(header(commit.runID), files: [file], balances: [], campaign: .mynapoint2020)
            func range(_ provider: Int32, _ low: String, _ high: String) -> KeyRange {
                KeyRange(providerKey: provider, low: Array(low.utf8), high: Array(high.utf8))
            }
            let ranges = [
                range(1, "P1-0001", "P1-0009"),  // holds P1-0005
                range(1, "P1-0006", "P1-0299"),  // between the two
                range(2, "P1-0001", "P1-0009"),  // another provider's keys
                range(1, "P1-0300", "P1-0300"),  // one key, settled
                range(1, "P1-031", "P1-1"),  // byte order: P1-0300 comes before P1-031
                range(2, "Y", "Za"),
            ]
            #expect(try ledger.rangesHoldingGrants(ranges) == [0, 3, 5])
            #expect(try ledger.rangesHoldingGrants([]) == [])
        }
    }
}
