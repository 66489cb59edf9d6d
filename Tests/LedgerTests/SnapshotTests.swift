import Postgres
import Rules
import TestSupport
import Testing

@testable import Ledger

@Suite struct SnapshotTests {
    @Test func theExampleSnapshotGivesTheWorkedExamplesReasons() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            let snapshot = try ledger.loadSnapshot()
            #expect(snapshot.providers.map(\.value) == ["P0001", "P0002"])
            #expect(snapshot.holderCount == 9)
            let first = try #require(ProviderID("P0001"))
            let second = try #require(ProviderID("P0002"))
            let p0001 = try #require(snapshot.providerIndex(first))
            let p0002 = try #require(snapshot.providerIndex(second))
            #expect(p0001 == 0 && p0002 == 1)

            let current = try #require(snapshot.holder(myKey: try myKey("AAAA0009")))
            #expect(snapshot.holder(myKey: try myKey("OLDID009")) == current)
            #expect(snapshot.currentMyKeys[Int(current)] == (try myKey("AAAA0009")))
            #expect(snapshot.holder(myKey: try myKey("AAAA0001")) != current)

            let campaign = Campaign.mynapoint2020
            func reason(_ id: String, _ provider: Int32, _ at: String) throws -> Reason {
                snapshot.eligibility(
                    myKey: try myKey(id), provider: provider, occurredAt: try instant(at), campaign: campaign
                ).reason
            }
            #expect(try reason("AAAA0007", p0001, "2020-12-05T09:00:00+09:00") == .certExpired)
            #expect(try reason("AAAA0007", p0001, "2020-12-20T09:00:00+09:00") == .none)
            #expect(try reason("AAAA0008", p0001, "2021-01-20T09:00:00+09:00") == .certRevoked)
            #expect(try reason("AAAA0008", p0001, "2021-01-10T09:00:00+09:00") == .none)
            #expect(try reason("AAAA0004", p0001, "2020-12-20T09:00:00+09:00") == .notApplied)
            #expect(try reason("AAAA0005", p0001, "2020-12-20T09:00:00+09:00") == .otherProvider)
            #expect(try reason("AAAA0005", p0002, "2020-12-20T09:00:00+09:00") == .none)
            #expect(try reason("AAAA0006", p0001, "2020-10-20T09:00:00+09:00") == .beforeApplication)
            #expect(try reason("AAAA0002", p0001, "2020-12-20T09:00:00+09:00") == .myKeyRevoked)
            #expect(try reason("AAAA0003", p0001, "2020-12-20T09:00:00+09:00") == .myKeySuspended)
            #expect(try reason("OLDID009", p0001, "2020-12-20T09:00:00+09:00") == .none)
            #expect(try reason("ZZZZ9999", p0001, "2020-12-20T09:00:00+09:00") == .unknownMyKey)

            let seven = try #require(snapshot.holder(myKey: try myKey("AAAA0007")))
            #expect(snapshot.certificates(of: seven).count == 2)
            #expect(
                snapshot.eligibility(
                    myKey: try myKey("ZZZZ9999"), provider: p0001, occurredAt: try instant("2020-12-20T09:00:00+09:00"),
                    campaign: campaign
                ).holder == nil)
            #expect(snapshot.balances.allSatisfy { $0.points == 0 })
            #expect(snapshot.settledFiles.isEmpty)
        }
    }

    @Test func providersAreInByteOrderWhateverTheInsertionOrder() throws {
        try withLedger { ledger, _ in
            let folder = try RegistryFolder()
            try folder.write(
                "providers.csv", [Header.providers, "PB,B", "P0001,Example", "PA,A", "P9,Nine", "A,First"])
            try importFolder(ledger, folder.path)
            let snapshot = try ledger.loadSnapshot()
            #expect(snapshot.providers.map(\.value) == ["A", "P0001", "P9", "PA", "PB"])
            #expect(snapshot.providers.map { snapshot.providerIndex($0) } == [0, 1, 2, 3, 4])
            // Each provider keeps its own database key, whatever its rank.
            let keys = try ledger.connection.query(
                "SELECT provider_id, provider_key FROM providers ORDER BY provider_id COLLATE \"C\"")
            #expect(try keys.map { Int32(try $0[1].int()) } == snapshot.providerKeys)
            #expect(snapshot.holderCount == 0)
        }
    }

    @Test func everyHoldersStatusIsTheTablesWithDenseKeysOrWithGaps() throws {
        try withLedger { ledger, _ in
            try importFolder(ledger, exampleRegistry)
            func expectTheTablesStatuses() throws {
                let snapshot = try ledger.loadSnapshot()
                let rows = try ledger.connection.query("SELECT holder_key, status FROM holders ORDER BY holder_key")
                var table: [Int64: String] = [:]
                for row in 0..<rows.rowCount { table[try rows[row, 0].int()] = try rows[row, 1].string() }
                #expect(snapshot.holderCount == table.count)
                var read: [Int64: String] = [:]
                for (key, status) in zip(snapshot.holderKeys, snapshot.statuses) { read[key] = status.name }
                #expect(read == table)
                for key in table.keys { #expect(snapshot.holder(key: key) != nil) }
            }
            // The example's keys are an identity column's, without gaps: only the holders not active are read.
            let keys = try ledger.connection.query("SELECT min(holder_key), max(holder_key), count(*) FROM holders")
            #expect(try keys[0, 1].int() - keys[0, 0].int() == keys[0, 2].int() - 1)
            try expectTheTablesStatuses()
            // A gap (keys an aborted insert used, say) and holders of every status past it: each row is read.
            let high = try keys[0, 1].int()
            try ledger.connection.execute(
                """
                INSERT INTO holders (holder_key, status) VALUES (\(high + 5), 'revoked'), (\(high + 9), 'active'),
                    (\(high + 7), 'suspended')
                """)
            try expectTheTablesStatuses()
            // Dense again, with the last holders not active.
            try ledger.connection.execute(
                """
                INSERT INTO holders (holder_key, status)
                SELECT k, 'suspended' FROM generate_series(\(high + 1), \(high + 8)) k WHERE k NOT IN (\(high + 5), \(high + 7))
                """)
            try expectTheTablesStatuses()
        }
    }

    @Test func anEmptyRegistryGivesAnEmptySnapshot() throws {
        try withLedger { ledger, _ in
            let snapshot = try ledger.loadSnapshot()
            #expect(snapshot.providers.isEmpty)
            #expect(snapshot.holderCount == 0)
            #expect(snapshot.holder(myKey: try myKey("AAAA0001")) == nil)
        }
    }
}
