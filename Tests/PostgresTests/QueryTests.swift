import Postgres
import TestSupport
import Testing

@Suite struct QueryTests {
    @Test func decodesTypedValues() throws {
        try withDatabase { _, connection throws in
            let result = try connection.query(
                """
                SELECT 42::int AS small, 9007199254740993::bigint AS big, 'héllo ☃'::text AS greeting,
                       true AS yes, false AS no, '\\x00ff10'::bytea AS blob, NULL::int AS nothing, ''::bytea AS empty
                """)
            #expect(result.rowCount == 1)
            #expect(result.columnCount == 8)
            #expect(result.columnIndex("greeting") == 2)
            #expect(result.columnIndex("missing") == nil)
            let row = result[0]
            #expect(try row[0].int() == 42)
            #expect(try row[0].int(as: Int.self) == 42)
            #expect(try row[1].int() == 9_007_199_254_740_993)
            #expect(try row[2].string() == "héllo ☃")
            #expect(try row[3].bool() == true)
            #expect(try row[4].bool() == false)
            #expect(try row[5].bytes() == [0x00, 0xff, 0x10])
            #expect(try row.cell("empty").bytes() == [])
            #expect(row[6].isNull)
            #expect(try row[6].optionalInt() == nil)
            #expect(row[6].optionalString() == nil)
            #expect(try row[6].optionalBool() == nil)
            #expect(try row[6].optionalBytes() == nil)
            #expect(try row[0].optionalInt() == 42)

            let null = #expect(throws: PostgresError.self) { try row[6].int() }
            #expect(null?.code == .typeMismatch)
            #expect(null?.message.contains("\"nothing\"") == true)
            let notInteger = #expect(throws: PostgresError.self) { try row[2].int() }
            #expect(notInteger?.code == .typeMismatch)
            #expect(notInteger?.description.contains("héllo") == false)
            #expect(throws: PostgresError.self) { try row[1].int(as: Int32.self) }
            #expect(throws: PostgresError.self) { try row[2].bool() }
            #expect(throws: PostgresError.self) { try row[2].bytes() }
            #expect(throws: PostgresError.self) { try row.cell("missing") }
        }
    }

    @Test func iteratesRows() throws {
        try withDatabase { _, connection throws in
            let result = try connection.query("SELECT g, g * 2 FROM generate_series(1, 5) AS g")
            #expect(result.rows.count == 5)
            let doubled = try result.map { row throws(PostgresError) in try row[1].int() }
            #expect(doubled == [2, 4, 6, 8, 10])
        }
    }

    @Test func bindsParametersWithoutInjection() throws {
        try withDatabase { _, connection throws in
            try connection.execute("CREATE TABLE students (id bigint, name text, active bool, photo bytea)")
            let name = "Robert'); DROP TABLE students;-- \"quoted\" \\ back"
            let photo: [UInt8] = [0, 1, 2, 0xfe, 0xff, 0]
            let insert = try connection.query(
                "INSERT INTO students VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)",
                [1, .text(name), true, .bytes(photo), .int(Int64.min), nil, PostgresBind(nil as Bool?), .bytes([])])
            #expect(insert.affectedRows == 2)

            let rows = try connection.query("SELECT id, name, active, photo FROM students ORDER BY id DESC")
            #expect(try rows[0, 0].int() == 1)
            #expect(try rows[0, 1].string() == name)
            #expect(try rows[0, 2].bool() == true)
            #expect(try rows[0, 3].bytes() == photo)
            #expect(try rows[1, 0].int() == Int64.min)
            #expect(rows[1, 1].isNull)
            #expect(rows[1, 2].isNull)
            #expect(try rows[1, 3].bytes() == [])

            let matched = try connection.query("SELECT count(*) FROM students WHERE name = $1", [.text(name)])
            #expect(try matched[0, 0].int() == 1)
            let nullMatched = try connection.query(
                "SELECT count(*) FROM students WHERE name IS NOT DISTINCT FROM $1", [nil])
            #expect(try nullMatched[0, 0].int() == 1)
        }
    }

    @Test func rejectsNULInText() throws {
        try withDatabase { _, connection throws in
            let error = #expect(throws: PostgresError.self) {
                try connection.query("SELECT $1::text", [.text("a\u{0}b")])
            }
            #expect(error?.code == .queryFailed)
            #expect(try connection.query("SELECT 1")[0, 0].int() == 1)
        }
    }

    @Test func syntaxErrorCarriesItsSQLState() throws {
        try withDatabase { _, connection throws in
            let error = #expect(throws: PostgresError.self) { try connection.execute("SELEC 1") }
            #expect(error?.code == .queryFailed)
            #expect(error?.sqlState == "42601")
            #expect(error?.description.hasPrefix("PostgreSQL queryFailed [42601]: syntax error") == true)
            let parameterised = #expect(throws: PostgresError.self) {
                try connection.query("SELECT FROM WHERE $1", [1])
            }
            #expect(parameterised?.sqlState == "42601")
        }
    }

    @Test func uniqueViolationNamesTheConstraintButNotTheValue() throws {
        try withDatabase { _, connection throws in
            try connection.execute("CREATE TABLE holders (my_key_id text CONSTRAINT holders_key PRIMARY KEY)")
            let secret = "MYKEY-SECRET-0042"
            try connection.query("INSERT INTO holders VALUES ($1)", [.text(secret)])
            let error = #expect(throws: PostgresError.self) {
                try connection.query("INSERT INTO holders VALUES ($1)", [.text(secret)])
            }
            #expect(error?.code == .queryFailed)
            #expect(error?.sqlState == "23505")
            #expect(error?.constraint == "holders_key")
            #expect(error?.table == "holders")
            #expect(error?.detail?.contains("Key (my_key_id)=") == true)
            for text in [error?.description, error?.message, error?.detail, error?.hint] {
                #expect(text?.contains(secret) != true)
            }
        }
    }

    @Test func errorDescriptionNeverContainsBoundValues() throws {
        try withDatabase { _, connection throws in
            try connection.execute(
                "CREATE TABLE amounts (n int NOT NULL, label text CHECK (label <> 'forbidden-label'))")
            let cases: [(String, [PostgresBind], String)] = [
                ("SELECT $1::int", [.text("not-a-number-secret")], "not-a-number-secret"),
                ("SELECT $1::int", [.text("99999999999")], "99999999999"),
                ("INSERT INTO amounts VALUES (NULL, $1)", [.text("hidden-label")], "hidden-label"),
                ("INSERT INTO amounts VALUES (1, $1)", [.text("forbidden-label")], "forbidden-label"),
            ]
            for (sql, parameters, value) in cases {
                let error = #expect(throws: PostgresError.self) { try connection.query(sql, parameters) }
                #expect(error?.sqlState != nil)
                #expect(String(describing: error).contains(value) == false, "\(sql)")
            }
        }
    }

    @Test func lockNotAvailableIsItsOwnCode() throws {
        try withDatabase { database, connection throws in
            try connection.execute("CREATE TABLE ledger (id int)")
            let other = try database.connect()
            defer { other.close() }
            try connection.execute("BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
            let error = #expect(throws: PostgresError.self) {
                try other.execute("BEGIN; LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE NOWAIT")
            }
            #expect(error?.code == .lockNotAvailable)
            #expect(error?.sqlState == "55P03")
            try other.execute("ROLLBACK")
            try connection.execute("ROLLBACK")
        }
    }

    @Test func transactionCommits() throws {
        try withDatabase { database, connection throws in
            try connection.execute("CREATE TABLE runs (id int)")
            let value = try connection.transaction { connection in
                try connection.execute("INSERT INTO runs VALUES (1)")
                return 7
            }
            #expect(value == 7)
            let other = try database.connect()
            defer { other.close() }
            #expect(try other.query("SELECT count(*) FROM runs")[0, 0].int() == 1)
        }
    }

    @Test func transactionRollsBackOnAThrownError() throws {
        try withDatabase { _, connection throws in
            try connection.execute("CREATE TABLE runs (id int)")
            #expect(throws: DeliberateError()) {
                try connection.transaction { connection in
                    try connection.execute("INSERT INTO runs VALUES (1)")
                    throw DeliberateError()
                }
            }
            #expect(try connection.query("SELECT count(*) FROM runs")[0, 0].int() == 0)

            // A failed statement whose error the body swallowed turns COMMIT into ROLLBACK: that must not pass.
            let error = #expect(throws: PostgresError.self) {
                try connection.transaction { connection in
                    try connection.execute("INSERT INTO runs VALUES (2)")
                    _ = try? connection.execute("SELEC 1")
                }
            }
            #expect(error?.code == .queryFailed)
            #expect(try connection.query("SELECT count(*) FROM runs")[0, 0].int() == 0)
        }
    }

    @Test func copyThroughExecuteIsRefusedAndLeavesTheConnectionUsable() throws {
        try withDatabase { _, connection throws in
            try connection.execute("CREATE TABLE t (id int)")
            let copyIn = #expect(throws: PostgresError.self) { try connection.execute("COPY t FROM STDIN") }
            #expect(copyIn?.code == .protocolViolation)
            let copyOut = #expect(throws: PostgresError.self) { try connection.query("COPY t TO STDOUT") }
            #expect(copyOut?.code == .protocolViolation)
            #expect(try connection.query("SELECT 1")[0, 0].int() == 1)
        }
    }
}
