import Crypto
import Foundation
import Testing

/// Expects `body` to throw a `CryptoError` with `code`.
func expectCryptoError(
    _ code: CryptoError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    let error = #expect(throws: CryptoError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
}

/// Bytes from hexadecimal text (test literals only).
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}

/// Whole seconds, as X.509 times carry.
func wholeSeconds(_ date: Date) -> Date {
    Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
}

/// Midnight UTC on a calendar day.
func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour))!
}

extension PasswordHash.ScryptCost {
    /// N = 2^10: fast enough to hash in every test; what ships is `current`.
    static let cheap = PasswordHash.ScryptCost(ln: 10, r: 8, p: 1)
}
