import Dispatch
import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import Ledger

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
        let missing = try #require(
            Migrations.all.first { $0.name == "registry import changes beside their audit entry" })
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
            let checksum = try ledger.connection.query(
                "SELECT checksum FROM schema_migrations WHERE version = $1", [.int(Int64(missing.version))])
            #expect(try checksum[0, 0].string() == missing.checksum)
        }
    }

    @Test func eachAppliedVersionRecordsTheChecksumOfItsSQL() throws {
        try withLedger { ledger, _ in
            let rows = try ledger.connection.query(
                "SELECT version, checksum FROM schema_migrations ORDER BY version")
            let recorded = try rows.map { "\(try $0[0].int()) \(try $0[1].string())" }
            #expect(recorded == Migrations.all.map { "\($0.version) \($0.checksum)" })
            // The checksum is SHA-256 of the SQL's UTF-8 bytes, as PostgreSQL computes it too.
            for migration in Migrations.all {
                let expected = try ledger.connection.query(
                    "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", [.text(migration.sql)])[0, 0].string()
                #expect(migration.checksum == expected, "version \(migration.version)")
            }
        }
    }

    @Test func aDatabaseMigratedBeforeChecksumsGetsTheCodesOnUpgrade() throws {
        // Migrated by a build without the checksum migration: schema_migrations as it always was.
        let checksums = try #require(Migrations.all.first { $0.name == "a checksum of each applied migration" })
        let before = Migrations.all.filter { $0.version < checksums.version }
        try withLedger(migrated: false) { ledger, _ in
            try ledger.migrate(before)
            let columns = try ledger.connection.query(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'schema_migrations'")[0, 0].int()
            #expect(columns == 3)
            let error = #expect(throws: LedgerError.self) { try ledger.requireCurrentSchema() }
            #expect(error?.message.contains("mynapoint migrate") == true, "\(String(describing: error))")

            #expect(try ledger.migrate() == Migrations.all.map(\.version).filter { $0 >= checksums.version })
            try ledger.requireCurrentSchema()
            #expect(try rowCount(ledger, "schema_migrations", where: "checksum IS NULL") == 0)
            #expect(try ledger.migrate() == [])
        }
    }

    @Test func aVersionAppliedFromOtherSQLIsRefused() throws {
        let missing = try #require(
            Migrations.all.first { $0.name == "registry import changes beside their audit entry" })
        let without = Migrations.all.filter { $0.version != missing.version }
        try withLedger(migrated: false) { ledger, _ in
            try ledger.migrate(without)
            let tampered = Migrations.all[2]
            try ledger.connection.query(
                "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = $1",
                [.int(Int64(tampered.version))])
            let before = try fingerprint(ledger)
            for attempt in [{ try ledger.requireCurrentSchema() }, { _ = try ledger.migrate() }] {
                let error = #expect(throws: LedgerError.self) { try attempt() }
                let message = error?.message ?? ""
                #expect(message.contains("schema version \(tampered.version) "), "\(message)")
                #expect(message.contains("000000000000…") && message.contains(tampered.checksum.prefix(12)))
                #expect(message.contains("append-only"), "\(message)")
                #expect(!message.contains("\n"))
            }
            // Refused before anything was applied: the missing version still is.
            #expect(try fingerprint(ledger) == before)
            #expect(try rowCount(ledger, "schema_migrations", where: "version = \(missing.version)") == 0)
        }
    }

    @Test func aVersionTheCodeDoesNotKnowIsRefused() throws {
        try withLedger { ledger, _ in
            // Another build's migration, recorded with or without a checksum.
            for checksum in ["NULL", "repeat('a', 64)"] {
                try ledger.connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'elsewhere', \(checksum))")
                for attempt in [{ try ledger.requireCurrentSchema() }, { _ = try ledger.migrate() }] {
                    let error = #expect(throws: LedgerError.self) { try attempt() }
                    let message = error?.message ?? ""
                    #expect(message.contains("schema version 999 applied"), "\(message)")
                    #expect(message.contains("does not know"), "\(message)")
                    #expect(message.contains("use a build that includes migration 999"), "\(message)")
                }
                try ledger.connection.execute("DELETE FROM schema_migrations WHERE version = 999")
            }
            try ledger.requireCurrentSchema()

            // A build that lacks an applied migration (an older build, or a branch without it) refuses too.
            let newest = Migrations.all.last!
            let older = Migrations.all.filter { $0.version != newest.version }
            let error = #expect(throws: LedgerError.self) { try ledger.requireCurrentSchema(older) }
            #expect(error?.message.contains("schema version \(newest.version) applied") == true)
            #expect(throws: LedgerError.self) { try ledger.migrate(older) }
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
