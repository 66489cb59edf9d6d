/// What a holder has received so far: points granted and eligible amount (yen), both over all runs.
public struct Balance: Sendable, Equatable {
    /// Points granted so far (`G`).
    public var points: Int
    /// Eligible amount in yen so far (`A`).
    public var eligibleAmount: Int

    /// A balance with the given totals.
    public init(points: Int = 0, eligibleAmount: Int = 0) {
        self.points = points
        self.eligibleAmount = eligibleAmount
    }
}

/// The points of settlement spec §5.
public enum Points {
    /// Points for an eligible record of `amount` yen, settled after `balance`, which grows by the points and amount.
    ///
    /// Returns the points and the reason: `.none` when the full premium is granted, `.capPartial` for part of it,
    /// `.capReached` for none of a non-zero premium. The result never takes `balance.points` above the cap.
    @inlinable
    public static func award(
        amount: Int, to balance: inout Balance, campaign: Campaign
    ) -> (points: Int, reason: Reason) {
        let premium: Int
        switch campaign.rounding {
        case .perRecord:
            premium = amount * campaign.ratePercent / 100
        case .cumulative:
            let before = balance.eligibleAmount
            premium = (before + amount) * campaign.ratePercent / 100 - before * campaign.ratePercent / 100
        }
        let points = max(0, min(premium, campaign.capPoints - balance.points))
        balance.points += points
        balance.eligibleAmount += amount
        let reason: Reason = points == premium ? .none : (points > 0 ? .capPartial : .capReached)
        return (points, reason)
    }
}
