import Postgres
import TestSupport
import Testing

@Suite struct AdvisoryLockTests {
    @Test func secondSessionCannotTakeAHeldLock() throws {
        try withDatabase { database, first throws in
            let second = try database.connect()
            defer { second.close() }
            let key = Int64.random(in: Int64.min...Int64.max)

            #expect(try first.tryAdvisoryLock(key))
            #expect(try second.tryAdvisoryLock(key) == false)
            try first.advisoryUnlock(key)
            #expect(try second.tryAdvisoryLock(key))
            #expect(try first.tryAdvisoryLock(key) == false)
            try second.advisoryUnlock(key)

            try first.advisoryLock(key)
            #expect(try second.tryAdvisoryLock(key) == false)
            first.close()
            // The server ends the closed session, and releases its locks, on its own time: under load, not at once.
            var released = try second.tryAdvisoryLock(key)
            for _ in 0..<100 where !released {
                try second.query("SELECT pg_sleep(0.05)")
                released = try second.tryAdvisoryLock(key)
            }
            #expect(released, "closing the session releases its locks")
        }
    }

    @Test func unlockingALockNotHeldThrows() throws {
        try withDatabase { _, connection throws in
            let error = #expect(throws: PostgresError.self) { try connection.advisoryUnlock(42) }
            #expect(error?.code == .queryFailed)
            #expect(try connection.query("SELECT 1")[0, 0].int() == 1)
        }
    }
}
