import Postgres
import TestSupport
import Testing

@Suite struct CopyTests {
    static let createGrants = """
        CREATE TABLE grants (
            id bigint CONSTRAINT grants_id PRIMARY KEY, holder text NOT NULL, settled bool NOT NULL,
            granted_at timestamptz NOT NULL, note text, points int NOT NULL, kind smallint NOT NULL)
        """
    static let copyGrants =
        "COPY grants (id, holder, settled, granted_at, note, points, kind) FROM STDIN (FORMAT binary)"

    /// Microseconds since 1970 for row `id`: spread over decades, before and after 2000, with odd microseconds.
    static func timestamp(_ id: Int64) -> Int64 { 800_000_000_000_000 + id * 3_600_000_123 }

    static func writeGrant(_ writer: inout PostgresBinaryCopyWriter, id: Int64) {
        writer.beginRow(fieldCount: 7)
        writer.writeInt64(id)
        if id % 2 == 0 {
            writer.writeText("holder-\(id) ✓ 'q'")
        } else {
            var bytes = Array("holder-\(id)".utf8)
            bytes.withUnsafeMutableBytes { writer.writeText(bytes: UnsafeRawBufferPointer($0)) }
        }
        writer.writeBool(id % 3 == 0)
        writer.writeTimestampTZ(microsecondsSinceUnixEpoch: timestamp(id))
        if id % 5 == 0 { writer.writeNull() } else { writer.writeText("note \(id)") }
        writer.writeInt32(Int32(id % 1000) - 500)
        writer.writeInt16(Int16(id % 7))
    }

    @Test func copiesManyRowsThatReadBackEqual() throws {
        try withDatabase { _, connection throws in
            try connection.execute(Self.createGrants)
            let count: Int64 = 100_000
            let copied = try connection.copyIn(Self.copyGrants) { writer in
                for id in 1...count { Self.writeGrant(&writer, id: id) }
            }
            #expect(copied == Int(count))

            let result = try connection.query(
                """
                SELECT id, holder, settled, (extract(epoch FROM granted_at) * 1000000)::bigint, note, points, kind
                FROM grants ORDER BY id
                """)
            #expect(result.rowCount == Int(count))
            var mismatches = 0
            for row in result {
                let id = try row[0].int()
                let holder = id % 2 == 0 ? "holder-\(id) ✓ 'q'" : "holder-\(id)"
                let note: String? = id % 5 == 0 ? nil : "note \(id)"
                if try row[1].string() != holder || row[2].bool() != (id % 3 == 0)
                    || row[3].int() != Self.timestamp(id) || row[4].optionalString() != note
                    || row[5].int() != id % 1000 - 500 || row[6].int() != id % 7
                {
                    mismatches += 1
                }
            }
            #expect(mismatches == 0)
            #expect(try connection.query("SELECT sum(id) FROM grants")[0, 0].int() == count * (count + 1) / 2)
        }
    }

    @Test func timestampsUseThePostgresEpoch() throws {
        try withDatabase { _, connection throws in
            try connection.execute("CREATE TABLE moments (at timestamptz, day date)")
            try connection.copyIn("COPY moments FROM STDIN (FORMAT binary)") { writer in
                writer.beginRow(fieldCount: 2)
                writer.writeTimestampTZ(microsecondsSinceUnixEpoch: 0)
                writer.writeDate(daysSinceUnixEpoch: 0)
                writer.beginRow(fieldCount: 2)
                writer.writeTimestampTZ(microsecondsSinceUnixEpoch: 1_717_200_000_123_456)
                writer.writeDate(daysSinceUnixEpoch: 19_875)
            }
            let result = try connection.query(
                "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), day::text FROM moments ORDER BY at")
            #expect(try result[0, 0].string() == "1970-01-01 00:00:00.000000")
            #expect(try result[0, 1].string() == "1970-01-01")
            #expect(try result[1, 0].string() == "2024-06-01 00:00:00.123456")
            #expect(try result[1, 1].string() == "2024-06-01")
        }
    }

    @Test func uniqueViolationEndsTheCopyAndTheConnectionStaysUsable() throws {
        try withDatabase { _, connection throws in
            try connection.execute(Self.createGrants)
            try connection.copyIn(Self.copyGrants) { writer in Self.writeGrant(&writer, id: 500) }

            let error = #expect(throws: PostgresError.self) {
                try connection.copyIn(Self.copyGrants) { writer in
                    for id in Int64(1)...20_000 { Self.writeGrant(&writer, id: id) }
                }
            }
            #expect(error?.code == .copyFailed)
            #expect(error?.sqlState == "23505")
            #expect(error?.constraint == "grants_id")
            #expect(error?.description.contains("(500)") == false)

            #expect(try connection.query("SELECT count(*) FROM grants")[0, 0].int() == 1)
            try connection.copyIn(Self.copyGrants) { writer in Self.writeGrant(&writer, id: 501) }
            #expect(try connection.query("SELECT count(*) FROM grants")[0, 0].int() == 2)
        }
    }

    @Test func malformedRowFailsOnTheServer() throws {
        try withDatabase { _, connection throws in
            try connection.execute(Self.createGrants)
            let error = #expect(throws: PostgresError.self) {
                try connection.copyIn(Self.copyGrants) { writer in
                    writer.beginRow(fieldCount: 1)
                    writer.writeInt64(1)
                }
            }
            #expect(error?.code == .copyFailed)
            #expect(error?.sqlState == "22P04")  // bad_copy_file_format: wrong field count
            #expect(try connection.query("SELECT 1")[0, 0].int() == 1)
        }
    }

    @Test func swiftErrorInTheBodyAbortsTheCopy() throws {
        try withDatabase { _, connection throws in
            try connection.execute(Self.createGrants)
            #expect(throws: DeliberateError()) {
                try connection.copyIn(Self.copyGrants) { writer in
                    // Past the flush threshold, so some rows have reached the server before the abort.
                    for id in Int64(1)...10_000 { Self.writeGrant(&writer, id: id) }
                    throw DeliberateError()
                }
            }
            #expect(try connection.query("SELECT count(*) FROM grants")[0, 0].int() == 0)
            try connection.copyIn(Self.copyGrants) { writer in Self.writeGrant(&writer, id: 1) }
            #expect(try connection.query("SELECT count(*) FROM grants")[0, 0].int() == 1)
        }
    }

    @Test func copyInsideATransactionRollsBackWithIt() throws {
        try withDatabase { _, connection throws in
            try connection.execute(Self.createGrants)
            #expect(throws: DeliberateError()) {
                try connection.transaction { connection in
                    let copied = try connection.copyIn(Self.copyGrants) { writer in
                        for id in Int64(1)...100 { Self.writeGrant(&writer, id: id) }
                    }
                    #expect(copied == 100)
                    throw DeliberateError()
                }
            }
            #expect(try connection.query("SELECT count(*) FROM grants")[0, 0].int() == 0)
        }
    }

    @Test func copyInRefusesOtherStatements() throws {
        try withDatabase { _, connection throws in
            try connection.execute("CREATE TABLE t (id int)")
            let notCopy = #expect(throws: PostgresError.self) { try connection.copyIn("SELECT 1") { _ in } }
            #expect(notCopy?.code == .protocolViolation)
            let wrongDirection = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY t TO STDOUT") { _ in }
            }
            #expect(wrongDirection?.code == .protocolViolation)
            let failing = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY missing FROM STDIN (FORMAT binary)") { _ in }
            }
            #expect(failing?.code == .queryFailed)
            #expect(failing?.sqlState == "42P01")
            #expect(try connection.query("SELECT 1")[0, 0].int() == 1)
        }
    }

    @Test func copyOutReturnsTheRows() throws {
        try withDatabase { _, connection throws in
            try connection.execute(
                "CREATE TABLE t (id int, name text); INSERT INTO t SELECT g, 'name ' || g FROM generate_series(1, 1000) g"
            )
            var lines: [String] = []
            try connection.copyOut("COPY (SELECT id, name FROM t ORDER BY id) TO STDOUT") { bytes in
                lines.append(String(decoding: bytes, as: UTF8.self))
            }
            #expect(lines.count == 1000)
            #expect(lines == (1...1000).map { "\($0)\tname \($0)\n" })
        }
    }

    @Test func copyOutHandlerErrorLeavesTheConnectionUsable() throws {
        try withDatabase { _, connection throws in
            var calls = 0
            #expect(throws: DeliberateError()) {
                try connection.copyOut("COPY (SELECT g FROM generate_series(1, 50000) g) TO STDOUT") { _ in
                    calls += 1
                    if calls == 3 { throw DeliberateError() }
                }
            }
            #expect(calls == 3)
            #expect(try connection.query("SELECT 1")[0, 0].int() == 1)
            let failing = #expect(throws: PostgresError.self) {
                try connection.copyOut("COPY (SELECT 1 / (g - 10) FROM generate_series(1, 20) g) TO STDOUT") { _ in }
            }
            #expect(failing?.sqlState == "22012")
            #expect(try connection.query("SELECT 1")[0, 0].int() == 1)
        }
    }
}
