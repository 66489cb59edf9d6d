import Rules
import Testing

@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("2020-10-01T12:34:56+09:00", Int64(1_601_523_296_000_000_000)),
        ("2020-10-01T03:34:56Z", 1_601_523_296_000_000_000),
        ("2020-10-01T03:34:56.123Z", 1_601_523_296_123_000_000),
        ("2020-10-01T03:34:56.000000001Z", 1_601_523_296_000_000_001),
        ("2020-10-01T00:00:00-05:30", 1_601_530_200_000_000_000),
        ("2020-02-29T00:00:00Z", 1_582_934_400_000_000_000),
        ("2000-02-29T00:00:00Z", 951_782_400_000_000_000),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.5Z", -500_000_000),
    ])
    func parsesValidTimestamps(text: String, nanoseconds: Int64) {
        #expect(RFC3339.parse(text) == Instant(nanosecondsSinceEpoch: nanoseconds))
    }

    @Test(arguments: [
        "", "2020-10-01", "2020-10-01T12:34:56", "2020-10-01 12:34:56Z", "2020-10-01t12:34:56Z",
        "2020-10-01T12:34:56z", "2020-10-01T12:34Z", "2020-10-01T12:34:60Z", "2020-10-01T24:00:00Z",
        "2020-13-01T00:00:00Z", "2020-00-01T00:00:00Z", "2021-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2020-04-31T00:00:00Z", "2020-10-01T12:34:56.Z", "2020-10-01T12:34:56.1234567891Z",
        "2020-10-01T12:34:56+24:00", "2020-10-01T12:34:56+09:60", "2020-10-01T12:34:56+0900",
        "2020-10-01T12:34:56+09", "2020-10-01T12:34:56Z ", " 2020-10-01T12:34:56Z", "+020-10-01T12:34:56Z",
        "2020-1a-01T12:34:56Z", "2020-10-01T12:34:56+09:00Z",
    ])
    func rejectsInvalidTimestamps(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    /// The form read byte by byte, as `parse` read it before it checked eight bytes at a time.
    static func byteByByte(_ text: [UInt8]) -> Instant? {
        let count = text.count
        guard count >= 20, count <= 35 else { return nil }
        func number(_ start: Int, _ length: Int) -> Int? {
            var value = 0
            for b in text[start..<(start + length)] {
                guard b >= 0x30, b <= 0x39 else { return nil }
                value = value * 10 + Int(b - 0x30)
            }
            return value
        }
        guard text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"), text[10] == UInt8(ascii: "T"),
            text[13] == UInt8(ascii: ":"), text[16] == UInt8(ascii: ":"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), month >= 1, month <= 12, day >= 1,
            day <= RFC3339.daysInMonth(year: year, month: month), hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var index = 19
        var nanoseconds = 0
        if text[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < count, text[index] >= 0x30, text[index] <= 0x39 {
                nanoseconds = nanoseconds * 10 + Int(text[index] - 0x30)
                index += 1
            }
            guard index - start >= 1, index - start <= 9 else { return nil }
            for _ in (index - start)..<9 { nanoseconds *= 10 }
        }
        guard index < count else { return nil }
        var offset = 0
        if text[index] == UInt8(ascii: "Z") {
            index += 1
        } else if text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") {
            guard count - index == 6, text[index + 3] == UInt8(ascii: ":"), let h = number(index + 1, 2),
                let m = number(index + 4, 2), h <= 23, m <= 59
            else { return nil }
            offset = (h * 3600 + m * 60) * (text[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        } else {
            return nil
        }
        guard index == count else { return nil }
        let days = RFC3339.daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset)
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .distantPast : .distantFuture }
        let (sum, overflow2) = scaled.addingReportingOverflow(Int64(nanoseconds))
        return overflow2 ? .distantFuture : Instant(nanosecondsSinceEpoch: sum)
    }

    /// Valid timestamps with one byte changed (to a digit, a separator, a byte next to a digit's bounds, any byte),
    /// removed or added, read both ways.
    @Test func wordAtATimeAgreesWithByteByByte() {
        var state: UInt64 = 0x2020_1001
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33) % bound
        }
        let valid = [
            "2020-10-01T12:34:56+09:00", "2020-10-01T03:34:56Z", "2021-02-28T23:59:59.123456789-02:30",
            "2000-02-29T00:00:00.5Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59+23:59", "0000-01-01T00:00:00Z",
            // 25 bytes as the usual form is, but a fraction and `Z`; and the usual form west of UTC.
            "2020-10-01T12:34:56.1234Z", "2020-02-29T23:59:59-11:30",
        ].map { Array($0.utf8) }
        let bytes: [UInt8] = [0x2F, 0x30, 0x39, 0x3A, 0x2D, 0x54, 0x74, 0x5A, 0x2E, 0x2B, 0x20, 0xB0, 0xB9, 0x00]
        var parsed = 0
        for _ in 0..<300_000 {
            var text = valid[next(valid.count)]
            for _ in 0..<next(3) {
                let at = next(text.count)
                switch next(4) {
                case 0: text[at] = bytes[next(bytes.count)]
                case 1: text[at] = UInt8(next(256))
                case 2: text.remove(at: at)
                default: text.insert(bytes[next(bytes.count)], at: at)
                }
            }
            let expected = Self.byteByByte(text)
            let actual = text.withUnsafeBytes { RFC3339.parse($0) }
            #expect(actual == expected, "\(text)")
            if actual != nil { parsed += 1 }
        }
        #expect(parsed > 30_000 && parsed < 250_000)
    }

    @Test func yearsOutsideTheRepresentableRangeSaturateInOrder() throws {
        let early = try #require(RFC3339.parse("0001-01-01T00:00:00Z"))
        let late = try #require(RFC3339.parse("9999-12-31T23:59:59Z"))
        let now = try #require(RFC3339.parse("2020-10-01T00:00:00Z"))
        #expect(early < now && now < late)
        #expect(late == .distantFuture)
    }

    @Test func formatsInUTCAndRoundTrips() throws {
        let instant = try #require(RFC3339.parse("2021-03-31T23:59:59.25+09:00"))
        #expect(RFC3339.format(instant) == "2021-03-31T14:59:59.25Z")
        #expect(RFC3339.parse(RFC3339.format(instant)) == instant)
        #expect(RFC3339.format(Instant(nanosecondsSinceEpoch: -1)) == "1969-12-31T23:59:59.999999999Z")
    }

    @Test func civilDayConversionsAgreeOverFourCenturies() {
        var days = RFC3339.daysFromCivil(year: 1800, month: 1, day: 1)
        for year in 1800...2200 {
            for month in 1...12 {
                for day in 1...RFC3339.daysInMonth(year: year, month: month) {
                    #expect(RFC3339.daysFromCivil(year: year, month: month, day: day) == days)
                    let civil = RFC3339.civilFromDays(days)
                    if civil != (year, month, day) {
                        Issue.record("\(days) gave \(civil), not \(year)-\(month)-\(day)")
                    }
                    days += 1
                }
            }
        }
    }
}
