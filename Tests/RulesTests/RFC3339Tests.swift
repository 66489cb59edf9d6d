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
