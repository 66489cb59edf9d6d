import Testing

@testable import Postgres

@Suite struct DecodingAndRedactionTests {
    @Test(arguments: [
        ("0", Int64(0)), ("-9223372036854775808", Int64.min), ("9223372036854775807", Int64.max), ("+12", 12),
    ])
    func parsesIntegers(text: String, expected: Int64) {
        #expect(PostgresCell.parseInteger(ArraySlice(text.utf8), as: Int64.self) == expected)
    }

    @Test(arguments: ["", "-", "1.5", "9223372036854775808", "-9223372036854775809", "12a", " 1"])
    func rejectsNonIntegers(text: String) {
        #expect(PostgresCell.parseInteger(ArraySlice(text.utf8), as: Int64.self) == nil)
    }

    @Test func decodesHexBytea() {
        #expect(PostgresCell.decodeHexBytea(ArraySlice("\\x00Ff7a".utf8)) == [0x00, 0xff, 0x7a])
        #expect(PostgresCell.decodeHexBytea(ArraySlice("\\x".utf8)) == [])
        #expect(PostgresCell.decodeHexBytea(ArraySlice("\\x0".utf8)) == nil)
        #expect(PostgresCell.decodeHexBytea(ArraySlice("\\xzz".utf8)) == nil)
        #expect(PostgresCell.decodeHexBytea(ArraySlice("abc".utf8)) == nil)
    }

    /// Every byte value round-trips in either case, inside a slice of a larger array, and any one byte that is not a
    /// hexadecimal digit, anywhere, makes the whole value unreadable.
    @Test func decodesEveryByteAndRefusesEveryOtherDigit() {
        let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ $0 >> 8) }
        let digits = Array("0123456789abcdef".utf8)
        var hex = Array("..\\x".utf8)
        for byte in bytes { hex += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]] }
        hex += Array("..".utf8)
        let value = hex[2..<(hex.count - 2)]
        #expect(PostgresCell.decodeHexBytea(value) == bytes)
        #expect(
            PostgresCell.decodeHexBytea(
                ArraySlice(Array(String(decoding: value, as: UTF8.self).uppercased().utf8)).map {
                    $0 == UInt8(ascii: "X") ? UInt8(ascii: "x") : $0
                }[...]) == bytes)
        for position in stride(from: 2, to: value.count, by: 61) {
            for bad in [UInt8(ascii: "g"), UInt8(ascii: "G"), UInt8(ascii: "/"), UInt8(ascii: ":"), 0x00, 0xFF, 0x80] {
                var broken = Array(value)
                broken[position] = bad
                #expect(PostgresCell.decodeHexBytea(broken[...]) == nil)
            }
        }
    }

    @Test(arguments: [
        "connect to postgresql://alice:hunter2x@db.example/ledger failed",
        "invalid connection option in \"host=db password=hunter2x user=alice\"",
        "password = 'hunter2x with spaces' dbname=x",
        "postgres://alice@db/x?sslmode=require&password=hunter2x",
    ])
    func scrubsPasswords(text: String) {
        let scrubbed = Redaction.scrubSecrets(text)
        #expect(!scrubbed.contains("hunter2x"))
        #expect(scrubbed.contains("<redacted>"))
    }

    @Test func scrubsKnownSecretsAnywhere() {
        #expect(Redaction.scrubSecrets("user alice with p4ss", secrets: ["p4ss"]) == "user alice with <redacted>")
    }

    @Test(arguments: [
        ("Key (id)=(42) already exists.", "Key (id)=(<redacted>) already exists."),
        (
            "Key (a, b)=(x, (y)) is not present in table \"t\".",
            "Key (a, b)=(<redacted>) is not present in table \"t\"."
        ),
        ("Failing row contains (1, secret, null).", "Failing row contains (<redacted>)."),
        ("invalid input syntax for type integer: \"abc\"", "invalid input syntax for type integer: \"<redacted>\""),
        ("value \"999\" is out of range for type integer", "value \"<redacted>\" is out of range for type integer"),
        ("relation \"grants\" does not exist", "relation \"grants\" does not exist"),
    ])
    func redactsRowValues(text: String, expected: String) {
        #expect(Redaction.redactValues(text) == expected)
    }

    @Test func redactsBoundValuesButNotShortOnes() {
        #expect(
            Redaction.redactValues("near secret-value line 1", boundValues: ["secret-value", "1"])
                == "near <redacted> line 1")
    }

    @Test func joinsLibpqLinesIntoOne() {
        #expect(
            Redaction.oneLine("connection failed: x\n\tIs the server running?\n")
                == "connection failed: x Is the server running?")
    }

    @Test func describesWithCodeStateAndDetail() {
        let error = PostgresError(code: .queryFailed, message: "m", sqlState: "23505", detail: "d")
        #expect(error.description == "PostgreSQL queryFailed [23505]: m (d)")
        #expect(PostgresError(code: .connectionFailed, message: "m").description == "PostgreSQL connectionFailed: m")
    }
}
