/// A point in time, as nanoseconds since 1970-01-01T00:00:00Z.
///
/// Every instant of the campaign (and of any certificate or application that matters to it) is exact.
/// Timestamps outside the representable years (about 1678–2261) saturate to the nearest end: they stay
/// correctly ordered against every representable instant, which is all the rules need of them.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanosecondsSinceEpoch: Int64

    /// An instant from nanoseconds since the Unix epoch.
    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    /// An instant from whole seconds since the Unix epoch (saturating).
    public init(secondsSinceEpoch: Int64) {
        let (product, overflow) = secondsSinceEpoch.multipliedReportingOverflow(by: 1_000_000_000)
        self.nanosecondsSinceEpoch = overflow ? (secondsSinceEpoch < 0 ? .min : .max) : product
    }

    /// The earliest representable instant.
    public static let distantPast = Instant(nanosecondsSinceEpoch: .min)
    /// The latest representable instant.
    public static let distantFuture = Instant(nanosecondsSinceEpoch: .max)

    /// Whole seconds since the Unix epoch, rounded down.
    public var secondsSinceEpoch: Int64 {
        let (q, r) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: 1_000_000_000)
        return r < 0 ? q - 1 : q
    }

    /// Microseconds since the Unix epoch, rounded down (PostgreSQL's timestamp resolution).
    public var microsecondsSinceEpoch: Int64 {
        let (q, r) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: 1000)
        return r < 0 ? q - 1 : q
    }

    /// Orders instants by time.
    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    /// RFC 3339 in UTC with nanoseconds only when needed: `2020-10-01T03:34:56Z`.
    public var description: String { RFC3339.format(self) }
}
