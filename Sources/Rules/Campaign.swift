/// How fractions of a point are rounded (settlement spec §5).
public enum Rounding: String, Sendable, CaseIterable, Codable {
    /// Each record's premium is rounded down on its own.
    case perRecord = "per_record"
    /// The premium on the holder's running eligible amount is rounded down; a record earns the difference.
    case cumulative
}

/// The campaign's parameters (settlement spec §2).
public struct Campaign: Sendable, Equatable {
    /// Premium rate in percent.
    public var ratePercent: Int
    /// Maximum points per holder over the whole campaign.
    public var capPoints: Int
    /// First instant (inclusive) a record may occur.
    public var windowStart: Instant
    /// End of the window (exclusive).
    public var windowEnd: Instant
    /// Rounding of fractions.
    public var rounding: Rounding

    /// A campaign from its parameters; see `validationError` for the accepted ranges.
    public init(ratePercent: Int, capPoints: Int, windowStart: Instant, windowEnd: Instant, rounding: Rounding) {
        self.ratePercent = ratePercent
        self.capPoints = capPoints
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.rounding = rounding
    }

    /// Mynapoint's first phase: 25 %, 5,000 points, 2020-09-01 to 2021-04-01 (JST), rounding per record.
    public static let mynapoint2020 = Campaign(
        ratePercent: 25,
        capPoints: 5000,
        windowStart: RFC3339.parse("2020-09-01T00:00:00+09:00")!,
        windowEnd: RFC3339.parse("2021-04-01T00:00:00+09:00")!,
        rounding: .perRecord
    )

    /// Why these parameters cannot be used, or nil when they can.
    public var validationError: String? {
        if ratePercent < 0 || ratePercent > 1000 { return "rate_percent must be 0–1000 (is \(ratePercent))" }
        if capPoints < 0 || capPoints > 1_000_000_000 { return "cap_points must be 0–1,000,000,000 (is \(capPoints))" }
        if windowStart >= windowEnd { return "window_start must be before window_end" }
        return nil
    }

    /// The window as half-open range.
    public func isInWindow(_ instant: Instant) -> Bool {
        instant >= windowStart && instant < windowEnd
    }
}
