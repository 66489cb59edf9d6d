import Rules
import TestSupport
import Testing

@testable import Settlement

/// The one-pass parser of the common line agrees with the general path (`FieldSplitter`, then each field's check)
/// on every line: what it accepts, the general path makes the same record of; what the general path accepts
/// unquoted, it accepts too.
@Suite struct RecordLineTests {
    /// A valid record as the general path makes it: the fields of intake's `record`, or nil for any line it does not
    /// turn into a well-formed record with a valid amount.
    struct General: Equatable {
        var recordID: [UInt8]
        var myKey: UInt64
        var kind: RecordKind
        var amount: Int
        var occurredAt: Instant
    }

    static func general(_ line: [UInt8], splitter: FieldSplitter) -> General? {
        line.withUnsafeBytes { raw in
            guard splitter.split(raw) == .fields(5), let amount = FieldForm.amount(splitter.field(3)),
                FieldForm.isRecordID(splitter.field(0)), let myKey = MyKeyID(bytes: splitter.field(1)),
                let kind = FieldForm.kind(splitter.field(2)), let occurredAt = RFC3339.parse(splitter.field(4))
            else { return nil }
            return General(
                recordID: Array(splitter.field(0)), myKey: myKey.rawValue, kind: kind, amount: amount,
                occurredAt: occurredAt)
        }
    }

    static func fast(_ line: [UInt8]) -> General? {
        line.withUnsafeBytes { raw in
            RecordLine.parse(raw).map {
                General(
                    recordID: Array(line[..<$0.recordIDLength]), myKey: $0.myKey, kind: $0.kind, amount: $0.amount,
                    occurredAt: $0.occurredAt)
            }
        }
    }

    /// Pieces the generated lines are made of, valid values first, then values just outside the forms and bytes
    /// that matter to the splitter: `(valid, all)`.
    static let recordIDs = pieces(
        ["T1", "P0001-20210105-1-1", "a.b_c-D", String(repeating: "x", count: 64)],
        [String(repeating: "y", count: 65), "", "bad id", "\"Q1\"", "é", "R\u{0}"])
    static let myKeys = pieces(["AAAA0001", "ZZZZ9999", "0A1B2C3D"], ["aaaa0001", "AAAA001", "AAAA00011", "AAAA 001"])
    static let kinds = pieces(["charge", "purchase"], ["Charge", "charg", "purchases", "\"charge\"", ""])
    static let amounts = pieces(["1", "999999999", "4500"], ["1000000000", "0", "01", "12a", "", "-5", "+5"])
    static let times = pieces(
        ["2020-10-01T10:00:00+09:00", "2020-10-01T01:00:00Z", "2021-03-31T23:59:59.123456789-02:30"],
        [
            "2020-02-30T00:00:00Z", "2020-10-01T10:00:00", "2020-10-01t10:00:00Z", "2020-10-01T10:00:00+09:00\r",
            "\"2020-10-01T10:00:00Z\"", "2020-10-01T10:00:00Z,", "2020-10-01T10:00:60Z", "",
        ])

    static func pieces(_ valid: [String], _ invalid: [String]) -> (valid: [String], all: [String]) {
        (valid, valid + invalid)
    }

    /// A line of five generated fields (each valid four times in five), then now and then one byte changed, removed
    /// or added.
    static func line(_ random: inout SplitMix64) -> [UInt8] {
        let fields = [recordIDs, myKeys, kinds, amounts, times].map { field in
            random.pick(random.chance(0.8) ? field.valid : field.all)
        }
        var line = Array(fields.joined(separator: ",").utf8)
        let specials: [UInt8] = [0x2C, 0x22, 0x0D, 0x20, 0x30, 0x41, 0x61, 0x2D, 0xFF, 0x00]
        for _ in 0..<random.below(3) where !line.isEmpty {
            let at = random.below(line.count)
            switch random.below(3) {
            case 0: line[at] = random.chance(0.5) ? random.pick(specials) : UInt8(truncatingIfNeeded: random.next())
            case 1: line.remove(at: at)
            default: line.insert(random.pick(specials), at: at)
            }
        }
        return line
    }

    @Test func theFastPathAgreesWithTheGeneralPath() {
        var random = SplitMix64(seed: 20_201_001)
        let splitter = FieldSplitter()
        var accepted = 0
        for _ in 0..<200_000 {
            let line = Self.line(&random)
            let general = Self.general(line, splitter: splitter)
            let fast = Self.fast(line)
            if let fast {
                accepted += 1
                #expect(fast == general, "\(String(decoding: line, as: UTF8.self))")
            } else if !line.contains(0x22) {
                // Only quoted fields are left to the general path among the lines it accepts.
                #expect(general == nil, "\(String(decoding: line, as: UTF8.self))")
            }
        }
        // The generator must reach both outcomes for the test to mean anything.
        #expect(accepted > 1000 && accepted < 150_000)
    }

    @Test func everyKindOfLineIsReadAsBefore() {
        let splitter = FieldSplitter()
        for text in [
            "T1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00", "T2,AAAA0001,purchase,1,2020-10-01T01:00:00Z",
            "\"T3\",AAAA0001,charge,5,2020-10-01T01:00:00Z", "T4,AAAA0001,charge,5,\"2020-10-01T01:00:00Z\"",
            "T5,AAAA0001,charge,05,2020-10-01T01:00:00Z", "T6,AAAA0001,charge,5,2020-10-01T01:00:00Z,",
        ] {
            let line = Array(text.utf8)
            let general = Self.general(line, splitter: splitter)
            if let fast = Self.fast(line) { #expect(fast == general, "\(text)") }
        }
        #expect(Self.fast(Array("T1,AAAA0001,charge,1000,2020-10-01T10:00:00+09:00".utf8)) != nil)
        #expect(Self.fast(Array("\"T3\",AAAA0001,charge,5,2020-10-01T01:00:00Z".utf8)) == nil)
    }

    @Test func theRecordIDClassIsCheckedEightBytesAtATime() {
        for byte in 0...255 {
            for at in 0..<8 {
                // Every other byte of the class, and one byte tried at each place.
                var bytes = Array("aZ9._-mQ".utf8)
                bytes[at] = UInt8(byte)
                let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
                let outside = RecordLine.outsideRecordIDClass(word)
                let expected: UInt64 = RecordLine.isRecordIDByte(UInt8(byte)) ? 0 : 0x80 << (8 * UInt64(at))
                #expect(outside == expected, "byte \(byte) at \(at)")
            }
        }
    }

    @Test func myKeyIDsArePackedAsMyKeyIDPacksThem() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<100_000 {
            var bytes = (0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            // Mostly bytes near or inside A–Z 0–9, where the bounds are.
            if random.chance(0.8) { bytes = bytes.map { 0x2E + $0 % 0x30 } }
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let expected = bytes.withUnsafeBytes { MyKeyID(bytes: $0)?.rawValue }
            #expect(RecordLine.packedMyKey(UInt64(littleEndian: word)) == expected, "\(bytes)")
        }
    }
}
