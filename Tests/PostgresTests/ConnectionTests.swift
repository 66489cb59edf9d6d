import Foundation
import Postgres
import TestSupport
import Testing

@Suite struct ConnectionTests {
    @Test func connectsFromTheEnvironment() throws {
        let connection = try PostgresConnection.connect()
        defer { connection.close() }
        let result = try connection.query("SELECT current_user, current_setting('client_encoding')")
        #expect(try result[0, 0].string() == ProcessInfo.processInfo.environment["PGUSER"])
        #expect(try result[0, 1].string() == "UTF8")
        #expect(connection.serverVersion >= 150_000)
    }

    @Test func connectsFromConninfoAndURL() throws {
        let database = try TemporaryDatabase.create(prefix: "conninfo")
        defer { database.drop() }
        let host = try #require(ProcessInfo.processInfo.environment["PGHOST"])
        for url in [database.url, "postgresql:///\(database.name)?host=\(host)"] {
            let connection = try PostgresConnection.connect(url: url, applicationName: "conninfo-test")
            defer { connection.close() }
            let result = try connection.query("SELECT current_database(), current_setting('application_name')")
            #expect(try result[0, 0].string() == database.name)
            #expect(try result[0, 1].string() == "conninfo-test")
        }
    }

    @Test func passwordRoleConnectsWithTheRightPasswordOnly() throws {
        try withDatabase(prefix: "auth") { database, admin throws in
            let role = "role_\(database.name)"
            let password = "Right-pass'word-\(UInt32.random(in: 0...UInt32.max))"
            let escaped = password.replacingOccurrences(of: "'", with: "''")
            try admin.execute("CREATE ROLE \"\(role)\" LOGIN PASSWORD '\(escaped)'")
            defer { try? admin.execute("DROP ROLE IF EXISTS \"\(role)\"") }
            let conninfoPassword = password.replacingOccurrences(of: "'", with: "\\'")

            let good = try PostgresConnection.connect(
                url: "dbname=\(database.name) user=\(role) password='\(conninfoPassword)'")
            #expect(try good.query("SELECT current_user")[0, 0].string() == role)
            good.close()

            let wrongPassword = "Wrong-Secret-\(UInt32.random(in: 0...UInt32.max))"
            let host = try #require(ProcessInfo.processInfo.environment["PGHOST"])
            let attempts = [
                "dbname=\(database.name) user=\(role) password=\(wrongPassword)",
                "postgresql://\(role):\(wrongPassword)@/\(database.name)?host=\(host)",
            ]
            for url in attempts {
                let error = #expect(throws: PostgresError.self) { try PostgresConnection.connect(url: url) }
                #expect(error?.code == .authenticationFailed)
                #expect(error?.message.contains("password authentication failed") == true)
                let description = String(describing: error)
                #expect(!description.contains(wrongPassword))
                #expect(!description.contains(password))
            }

            let missing = #expect(throws: PostgresError.self) {
                try PostgresConnection.connect(url: "dbname=\(database.name) user=\(role)")
            }
            #expect(missing?.code == .authenticationFailed)
        }
    }

    @Test func unreachableServerIsAConnectionFailure() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("no-server-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let error = #expect(throws: PostgresError.self) {
            try PostgresConnection.connect(url: "host=\(directory) dbname=postgres password=Not-Leaked-Here")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains(directory) == true)
        #expect(error?.message.contains("\n") == false)
        #expect(String(describing: error).contains("Not-Leaked-Here") == false)
    }

    @Test func closedConnectionThrowsAndCloseIsIdempotent() throws {
        let connection = try PostgresConnection.connect()
        connection.close()
        connection.close()
        #expect(connection.serverVersion == 0)
        let error = #expect(throws: PostgresError.self) { try connection.execute("SELECT 1") }
        #expect(error?.code == .connectionFailed)
    }

    @Test func temporaryDatabasesAreDistinct() throws {
        let first = try TemporaryDatabase.create()
        defer { first.drop() }
        let second = try TemporaryDatabase.create()
        defer { second.drop() }
        #expect(first.name != second.name)
        let connection = try first.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT current_database()")[0, 0].string() == first.name)
    }
}
