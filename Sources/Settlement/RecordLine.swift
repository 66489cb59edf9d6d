import Rules

/// A data line in the form nearly every line has — five unquoted fields, each valid — parsed in one pass over its
/// bytes (settlement spec §3.3).
///
/// `parse` accepts a line only when the general path (`FieldSplitter`, then `FieldForm`, `MyKeyID`, `RFC3339` field
/// by field) would make exactly the same record of it; for any other line it returns nil and intake takes the general
/// path, which decides what is wrong. So the fast path changes how fast a line is read, never what is made of it.
struct RecordLine {
    /// The record ID is the line's first `recordIDLength` bytes.
    var recordIDLength: Int
    /// The packed MyKey ID.
    var myKey: UInt64
    /// `kind`.
    var kind: RecordKind
    /// `amount_yen`.
    var amount: Int
    /// `occurred_at`.
    var occurredAt: Instant

    /// The record of a line whose five fields are unquoted and valid, or nil for any other line.
    ///
    /// - Complexity: O(n) in the line's length, one pass, no allocation.
    @inline(__always)
    static func parse(_ line: UnsafeRawBufferPointer) -> RecordLine? {
        guard let base = line.baseAddress else { return nil }
        let end = line.count
        // record_id: 1–64 bytes of its class, then a comma. A quote, a comma or any other byte ends the run.
        var position = 0
        while end - position >= 8 {
            let outside = outsideRecordIDClass(base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            if outside != 0 {
                position += outside.trailingZeroBitCount / 8
                break
            }
            position += 8
        }
        if end - position < 8 {
            while position < end && isRecordIDByte(base.load(fromByteOffset: position, as: UInt8.self)) {
                position += 1
            }
        }
        let recordIDLength = position
        // The shortest rest a valid line can have: comma, MyKey ID and comma, `charge,`, one digit and comma, and a
        // 20-byte timestamp. It keeps the word loads below inside the line.
        guard recordIDLength >= 1, recordIDLength <= 64, end - position >= 1 + 9 + 7 + 2 + 20,
            base.load(fromByteOffset: position, as: UInt8.self) == UInt8(ascii: ",")
        else { return nil }
        position += 1
        // mykey_id: exactly 8 of A–Z 0–9, then a comma.
        guard let myKey = packedMyKey(base.loadUnaligned(fromByteOffset: position, as: UInt64.self)),
            base.load(fromByteOffset: position + 8, as: UInt8.self) == UInt8(ascii: ",")
        else { return nil }
        position += 9
        // kind: `charge,` or `purchase,` (29 bytes or more are left, so the loads stay in the line).
        let word = base.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        let kind: RecordKind
        if word & 0x00FF_FFFF_FFFF_FFFF == chargeComma {
            kind = .charge
            position += 7
        } else if word == purchase && base.load(fromByteOffset: position + 8, as: UInt8.self) == UInt8(ascii: ",") {
            kind = .purchase
            position += 9
        } else {
            return nil
        }
        // amount_yen: 1–9 digits, the first not 0, then a comma.
        var amount = 0
        let amountStart = position
        while position < end {
            let digit = base.load(fromByteOffset: position, as: UInt8.self) &- 0x30
            guard digit <= 9 else { break }
            amount = amount &* 10 &+ Int(digit)
            position += 1
        }
        let digits = position - amountStart
        guard digits >= 1, digits <= 9, base.load(fromByteOffset: amountStart, as: UInt8.self) != UInt8(ascii: "0"),
            position < end, base.load(fromByteOffset: position, as: UInt8.self) == UInt8(ascii: ",")
        else { return nil }
        position += 1
        // occurred_at: the rest of the line. A form RFC 3339 accepts holds no quote and no comma, so the general path
        // would see this very field.
        guard let occurredAt = RFC3339.parse(UnsafeRawBufferPointer(start: base + position, count: end - position))
        else { return nil }
        return RecordLine(
            recordIDLength: recordIDLength, myKey: myKey, kind: kind, amount: amount, occurredAt: occurredAt)
    }

    /// `charge,` as the first seven bytes of a little-endian word.
    private static var chargeComma: UInt64 { 0x002C_6567_7261_6863 }
    /// `purchase` as a little-endian word.
    private static var purchase: UInt64 { 0x6573_6168_6372_7570 }

    /// `A–Z a–z 0–9 . _ -`, the bytes of a record ID (`FieldForm.isRecordID`).
    @inline(__always)
    static func isRecordIDByte(_ b: UInt8) -> Bool {
        let letter = (b | 0x20) &- UInt8(ascii: "a") < 26
        return letter || b &- UInt8(ascii: "0") < 10 || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
            || b == UInt8(ascii: "-")
    }

    /// The high bit of each byte of `word` (loaded little-endian) that is not one of `A–Z a–z 0–9 . _ -`; zero when
    /// all eight are.
    ///
    /// The bytes are compared with their high bit cleared, so that no sum carries into the next byte: below 0x80,
    /// adding k reaches 0x80 exactly when the byte is at least 0x80 - k. Bytes with the high bit set are outside.
    @inline(__always)
    static func outsideRecordIDClass(_ word: UInt64) -> UInt64 {
        let high: UInt64 = 0x8080_8080_8080_8080
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low = word & ~high
        @inline(__always) func atLeast(_ x: UInt64, _ bound: UInt64) -> UInt64 { (x &+ ones &* (0x80 - bound)) & high }
        @inline(__always) func equal(_ x: UInt64, _ byte: UInt64) -> UInt64 {
            ~((x ^ (ones &* byte)) &+ ones &* 0x7F) & high
        }
        let folded = low | ones &* 0x20
        let letter = atLeast(folded, 0x61) & ~atLeast(folded, 0x7B)
        let digit = atLeast(low, 0x30) & ~atLeast(low, 0x3A)
        let punctuation = equal(low, 0x2E) | equal(low, 0x5F) | equal(low, 0x2D)
        let inside = (letter | digit | punctuation) & ~word & high
        return ~inside & high
    }

    /// The packed MyKey ID (first byte most significant) of eight bytes loaded little-endian, or nil unless every
    /// byte is one of `A–Z 0–9`; all eight bytes are checked at once.
    @inline(__always)
    static func packedMyKey(_ word: UInt64) -> UInt64? {
        let high: UInt64 = 0x8080_8080_8080_8080
        let ones: UInt64 = 0x0101_0101_0101_0101
        // Below 0x80, adding k sets a byte's high bit exactly when the byte is at least 0x80 - k, and never carries
        // into the next byte.
        let atLeastZero = (word &+ ones &* (0x80 - 0x30)) & high
        let atMostNine = ~(word &+ ones &* (0x80 - 0x3A)) & high
        let atLeastA = (word &+ ones &* (0x80 - 0x41)) & high
        let atMostZ = ~(word &+ ones &* (0x80 - 0x5B)) & high
        let ascii = word & high == 0
        guard ascii, (atLeastZero & atMostNine) | (atLeastA & atMostZ) == high else { return nil }
        return word.byteSwapped
    }
}
