import Dispatch
import Foundation
import Ledger
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite struct MigrationTests {
    @Test func migrateAppliesEveryVersionOnceThenNothing() throws {
        try withLedger(migrated: false) { ledger, _ in
            #expect(try ledger.schemaVersion() == 0)
            let versions = Migrations.all.map(\.version)
            // Append-only: strictly increasing from 1; gaps are allowed (branches number migrations independently).
            #expect(versions.first == 1)
            #expect(zip(versions, versions.dropFirst()).allSatisfy { $0 < $1 })
            #expect(try ledger.migrate() == versions)
            #expect(try ledger.schemaVersion() == Migrations.latest)
            let tables = try ledger.connection.query(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")[0, 0].int()
            let after = try fingerprint(ledger)
            let migrations = try ledger.connection.query("SELECT version, name FROM schema_migrations")
            let migrationAudits = try rowCount(ledger, "audit_log", where: "action = 'migrate'")

            #expect(try ledger.migrate() == [])
            #expect(try ledger.schemaVersion() == Migrations.latest)
            #expect(try fingerprint(ledger) == after)
            #expect(try rowCount(ledger, "schema_migrations") == Int64(versions.count))
            #expect(try rowCount(ledger, "audit_log", where: "action = 'migrate'") == migrationAudits)
            #expect(migrationAudits == Int64(versions.count))
            #expect(try migrations[0, 0].int() == 1)
            #expect(try migrations[0, 1].string() == "settlement schema")
            let tablesAgain = try ledger.connection.query(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")[0, 0].int()
            #expect(tablesAgain == tables)
        }
    }

    @Test func requireCurrentSchemaFailsClearlyOnAnEmptyDatabase() throws {
        try withLedger(migrated: false) { ledger, _ in
            let error = #expect(throws: LedgerError.self) { try ledger.requireCurrentSchema() }
            #expect(error?.message.contains("version 0") == true, "\(String(describing: error))")
            #expect(error?.message.contains("mynapoint migrate") == true, "\(String(describing: error))")
            try ledger.migrate()
            try ledger.requireCurrentSchema()
        }
    }

    @Test func requireCurrentSchemaFailsOnAnOlderSchema() throws {
        try withLedger { ledger, _ in
            // A schema_migrations table that records nothing applied is version 0, whatever tables exist.
            try ledger.connection.execute("DELETE FROM schema_migrations")
            #expect(try ledger.schemaVersion() == 0)
            #expect(throws: LedgerError.self) { try ledger.requireCurrentSchema() }
        }
    }

    @Test func aVersionMissingBelowTheNewestIsNamedAndThenApplied() throws {
        // A database migrated by a build without one migration (another branch's, merged later) holds a newer
        // version; it is not current until the missing one is applied, and migrate applies exactly that one.
        let missing = Migrations.all[Migrations.all.count - 2]
        let without = Migrations.all.filter { $0.version != missing.version }
        try withLedger(migrated: false) { ledger, _ in
            #expect(try ledger.migrate(without) == without.map(\.version))
            #expect(try ledger.schemaVersion() == Migrations.latest)
            try ledger.requireCurrentSchema(without)
            let error = #expect(throws: LedgerError.self) { try ledger.requireCurrentSchema() }
            #expect(error?.message.contains("lacks \(missing.version)") == true, "\(String(describing: error))")
            #expect(error?.message.contains("mynapoint migrate") == true, "\(String(describing: error))")

            #expect(try ledger.migrate() == [missing.version])
            try ledger.requireCurrentSchema()
            #expect(try ledger.migrate() == [])
            #expect(try rowCount(ledger, "schema_migrations") == Int64(Migrations.all.count))
        }
    }

    @Test func concurrentMigrationsFromTwoConnectionsApplyOnce() throws {
        let database = try TemporaryDatabase.create(prefix: "ledger_migrate")
        defer { database.drop() }
        let connections = [try database.connect(), try database.connect()]
        defer { connections.forEach { $0.close() } }

        let results = Mutex<[Int: Result<[Int], any Error>]>([:])
        let ready = DispatchGroup()
        let done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for (index, connection) in connections.enumerated() {
            ready.enter()
            done.enter()
            // Dedicated threads: the calls block on PostgreSQL (the advisory lock) and must not hold the pool.
            let thread = Thread {
                ready.leave()
                go.wait()
                let result = Result { try Ledger(connection: connection).migrate() }
                results.withLock { $0[index] = result }
                done.leave()
            }
            thread.start()
        }
        ready.wait()
        go.signal()
        go.signal()
        done.wait()

        let applied = try results.withLock { all in try all.values.map { try $0.get() } }
        #expect(applied.count == 2)
        let versions = Migrations.all.map(\.version)
        #expect(applied.sorted { $0.count < $1.count } == [[], versions])
        let ledger = Ledger(connection: connections[0])
        #expect(try ledger.schemaVersion() == Migrations.latest)
        #expect(try rowCount(ledger, "schema_migrations") == Int64(versions.count))
        #expect(try rowCount(ledger, "audit_log", where: "action = 'migrate'") == Int64(versions.count))
    }
}
