/// The timestamp form of the record files and the registry: RFC 3339 with seconds and an explicit offset.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` with upper-case `T` and `Z`, seconds 00–59, offset hours
/// 00–23 and minutes 00–59, and a real calendar date. Parsing works on bytes and allocates nothing.
public enum RFC3339 {
    /// Parses a timestamp from UTF-8 bytes, or returns nil when it is not in the accepted form.
    ///
    /// - Complexity: O(n) in the length of `bytes`, no allocation.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Instant? {
        let count = bytes.count
        guard count >= 20, count <= 35, let base = bytes.baseAddress else { return nil }
        @inline(__always) func digit(_ i: Int) -> Int? {
            let b = bytes[i]
            return b >= 0x30 && b <= 0x39 ? Int(b &- 0x30) : nil
        }
        @inline(__always) func number(_ start: Int, _ length: Int) -> Int? {
            var value = 0
            for i in start..<(start + length) {
                guard let d = digit(i) else { return nil }
                value = value * 10 + d
            }
            return value
        }
        // `YYYY-MM-DDTHH:MM:` is checked and read eight bytes at a time (byte i of a word is its bits 8i to 8i + 7).
        let head = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        let middle = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        guard let date = digitValues(head, at: 0x00FF_FF00_FFFF_FFFF),
            head & 0xFF00_00FF_0000_0000 == 0x2D00_002D_0000_0000,  // `-` at 4 and 7
            let clock = digitValues(middle, at: 0xFFFF_00FF_FF00_FFFF),
            middle & 0x0000_FF00_00FF_0000 == 0x0000_3A00_0054_0000,  // `T` at 10, `:` at 13
            bytes[16] == UInt8(ascii: ":"), let second = number(17, 2)
        else { return nil }
        @inline(__always) func value(_ word: UInt64, _ byte: Int) -> Int {
            Int(truncatingIfNeeded: word >> (8 * byte)) & 0xFF
        }
        let year = value(date, 0) * 1000 + value(date, 1) * 100 + value(date, 2) * 10 + value(date, 3)
        let month = value(date, 5) * 10 + value(date, 6)
        let day = value(clock, 0) * 10 + value(clock, 1)
        let hour = value(clock, 3) * 10 + value(clock, 4)
        let minute = value(clock, 6) * 10 + value(clock, 7)
        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }

        var index = 19
        var nanoseconds = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < count, let d = digit(index) {
                nanoseconds = nanoseconds * 10 + d
                index += 1
            }
            let digits = index - start
            guard digits >= 1, digits <= 9 else { return nil }
            for _ in digits..<9 { nanoseconds *= 10 }
        }
        guard index < count else { return nil }
        var offsetSeconds = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard count - index == 6, bytes[index + 3] == UInt8(ascii: ":"),
                let offsetHours = number(index + 1, 2), let offsetMinutes = number(index + 4, 2),
                offsetHours <= 23, offsetMinutes <= 59
            else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        default:
            return nil
        }
        guard index == count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .distantPast : .distantFuture }
        let (sum, overflow2) = scaled.addingReportingOverflow(Int64(nanoseconds))
        return overflow2 ? .distantFuture : Instant(nanosecondsSinceEpoch: sum)
    }

    /// The bytes of `word` that `mask` selects, each less `0`, or nil unless every one of them is an ASCII digit.
    ///
    /// Below 0x80 a byte plus 0x76 reaches 0x80 exactly when the byte is more than 9, and never carries into the
    /// next byte.
    @inlinable @inline(__always)
    static func digitValues(_ word: UInt64, at mask: UInt64) -> UInt64? {
        let high: UInt64 = 0x8080_8080_8080_8080
        let values = (word ^ 0x3030_3030_3030_3030) & mask
        guard values & high == 0, (values &+ 0x7676_7676_7676_7676) & high == 0 else { return nil }
        return values
    }

    /// Parses a timestamp from a string, or returns nil when it is not in the accepted form.
    public static func parse(_ text: String) -> Instant? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Formats an instant in UTC (`Z`), with a fraction only when it is not whole seconds.
    public static func format(_ instant: Instant) -> String {
        let seconds = instant.secondsSinceEpoch
        let nanos = Int(instant.nanosecondsSinceEpoch &- seconds &* 1_000_000_000)
        let (days, secondOfDay) = floorDivide(seconds, 86_400)
        let (y, m, d) = civilFromDays(Int(days))
        let sod = Int(secondOfDay)
        var text = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        text += pad(sod / 3600, 2) + ":" + pad(sod / 60 % 60, 2) + ":" + pad(sod % 60, 2)
        if nanos != 0 {
            var fraction = pad(nanos, 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// Days in a month of the proleptic Gregorian calendar.
    @inlinable
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    @inlinable @inline(__always)
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01.
    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
