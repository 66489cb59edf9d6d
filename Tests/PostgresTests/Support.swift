import Postgres
import TestSupport

/// Runs `body` with a fresh database and a connection to it; drops the database afterwards.
func withDatabase<T>(
    prefix: String = "pg", _ body: (TemporaryDatabase, PostgresConnection) throws -> T
) throws -> T {
    let database = try TemporaryDatabase.create(prefix: prefix)
    defer { database.drop() }
    let connection = try database.connect()
    defer { connection.close() }
    return try body(database, connection)
}

/// An error a test throws on purpose.
struct DeliberateError: Error, Equatable {}
