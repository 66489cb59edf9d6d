import PropertyBased
import Rules
import Testing

@Suite struct PointsTests {
    func campaign(_ rounding: Rounding, rate: Int = 25, cap: Int = 5000) -> Campaign {
        var c = Campaign.mynapoint2020
        c.rounding = rounding
        c.ratePercent = rate
        c.capPoints = cap
        return c
    }

    @Test func perRecordRoundsEachRecordDown() {
        var balance = Balance()
        #expect(Points.award(amount: 3333, to: &balance, campaign: campaign(.perRecord)) == (833, Reason.none))
        #expect(Points.award(amount: 3, to: &balance, campaign: campaign(.perRecord)) == (0, Reason.none))
        #expect(Points.award(amount: 3, to: &balance, campaign: campaign(.perRecord)) == (0, Reason.none))
        #expect(balance == Balance(points: 833, eligibleAmount: 3339))
    }

    @Test func cumulativeRoundsTheRunningAmount() {
        var balance = Balance()
        #expect(Points.award(amount: 2000, to: &balance, campaign: campaign(.cumulative)) == (500, Reason.none))
        #expect(Points.award(amount: 3, to: &balance, campaign: campaign(.cumulative)) == (0, Reason.none))
        #expect(Points.award(amount: 4001, to: &balance, campaign: campaign(.cumulative)) == (1001, Reason.none))
        #expect(balance == Balance(points: 1501, eligibleAmount: 6004))
    }

    @Test(arguments: Rounding.allCases)
    func capEdges(rounding: Rounding) {
        let c = campaign(rounding)
        var balance = Balance()
        #expect(Points.award(amount: 10000, to: &balance, campaign: c) == (2500, Reason.none))
        #expect(Points.award(amount: 12000, to: &balance, campaign: c) == (2500, Reason.capPartial))
        #expect(Points.award(amount: 800, to: &balance, campaign: c) == (0, Reason.capReached))
        // A premium of zero at the cap is a plain grant of zero, not CAP_REACHED.
        #expect(Points.award(amount: 3, to: &balance, campaign: campaign(.perRecord)) == (0, Reason.none))
        #expect(balance.points == 5000)

        var exact = Balance(points: 4999, eligibleAmount: 19996)
        #expect(Points.award(amount: 4, to: &exact, campaign: c) == (1, Reason.none))
        #expect(exact.points == 5000)
        #expect(Points.award(amount: 4, to: &exact, campaign: c) == (0, Reason.capReached))
        var oneShort = Balance(points: 4999, eligibleAmount: 19996)
        #expect(Points.award(amount: 8, to: &oneShort, campaign: c) == (1, Reason.capPartial))
    }

    @Test func maximumAmountDoesNotOverflow() {
        var balance = Balance(points: 0, eligibleAmount: 900_000_000_000)
        let c = campaign(.cumulative, rate: 1000, cap: 1_000_000_000)
        #expect(Points.award(amount: 999_999_999, to: &balance, campaign: c) == (1_000_000_000, Reason.capPartial))
    }
}

/// One eligible record of a holder, as the property tests see it.
struct SampleRecord: Sendable, CustomStringConvertible {
    var amount: Int
    var instant: Int64
    var provider: UInt8
    var record: UInt16
    var description: String { "(\(amount) yen at \(instant), P\(provider), R\(record))" }
}

/// The settlement order, written with tuples.
func naivelyPrecedes(_ a: SampleRecord, _ b: SampleRecord) -> Bool {
    let left: (Int64, UInt8, String) = (a.instant, a.provider, String(a.record))
    let right: (Int64, UInt8, String) = (b.instant, b.provider, String(b.record))
    return left < right
}

/// A deliberately naive second implementation of §5: the holder's total after each record is
/// `min(cap, total premium so far)`, and a record earns the difference.
enum NaiveModel {
    static func premium(_ amounts: [Int], rate: Int, rounding: Rounding) -> Int {
        switch rounding {
        case .perRecord: amounts.map { $0 * rate / 100 }.reduce(0, +)
        case .cumulative: amounts.reduce(0, +) * rate / 100
        }
    }

    static func settle(_ records: [SampleRecord], before: [Int], rate: Int, cap: Int, rounding: Rounding) -> [Int] {
        let ordered = records.sorted(by: naivelyPrecedes)
        var amounts = before
        var result: [Int] = []
        for record in ordered {
            let totalBefore = min(cap, premium(amounts, rate: rate, rounding: rounding))
            amounts.append(record.amount)
            result.append(min(cap, premium(amounts, rate: rate, rounding: rounding)) - totalBefore)
        }
        return result
    }
}

@Suite struct PointsPropertyTests {
    static let records = zip(Gen.int(in: 1...30000), Gen.int(in: 0...20), Gen.int(in: 0...3), Gen.int(in: 0...500))
        .map { SampleRecord(amount: $0, instant: Int64($1), provider: UInt8($2), record: UInt16($3)) }
        .array(of: 1...40)
        .map(uniqueKeys)

    /// A provider's record ID is settled once (the duplicate check runs before points), so a run never holds two
    /// records with the same key: without this, two such records with equal times would have no defined order.
    static func uniqueKeys(_ records: [SampleRecord]) -> [SampleRecord] {
        var seen = Set<UInt32>()
        return records.filter { seen.insert(UInt32($0.provider) << 16 | UInt32($0.record)).inserted }
    }

    func settleWithRules(
        _ records: [SampleRecord], before: [Int], campaign: Campaign
    ) -> (points: [Int], reasons: [Reason], balance: Balance) {
        var balance = Balance()
        for amount in before { _ = Points.award(amount: amount, to: &balance, campaign: campaign) }
        let ordered = records.sorted { a, b in
            var pa = "P\(a.provider)", pb = "P\(b.provider)", ra = String(a.record), rb = String(b.record)
            return pa.withUTF8 { pa in
                pb.withUTF8 { pb in
                    ra.withUTF8 { ra in
                        rb.withUTF8 { rb in
                            SettlementOrder.precedes(
                                Instant(nanosecondsSinceEpoch: a.instant), UnsafeRawBufferPointer(pa),
                                UnsafeRawBufferPointer(ra), Instant(nanosecondsSinceEpoch: b.instant),
                                UnsafeRawBufferPointer(pb), UnsafeRawBufferPointer(rb))
                        }
                    }
                }
            }
        }
        var points: [Int] = []
        var reasons: [Reason] = []
        for record in ordered {
            let (p, r) = Points.award(amount: record.amount, to: &balance, campaign: campaign)
            points.append(p)
            reasons.append(r)
        }
        return (points, reasons, balance)
    }

    @Test(arguments: Rounding.allCases)
    func rulesAgreeWithTheNaiveModelInAnyInputOrder(rounding: Rounding) async {
        await propertyCheck(
            count: 300, input: Self.records, Gen.int(in: 0...25000).array(of: 0...3), Gen.int(in: 1...40),
            Gen.int(in: 0...6000)
        ) { (generated: [SampleRecord], before: [Int], rate: Int, cap: Int) in
            // A key is settled once (a second record with it is a DUPLICATE before points are counted), and two
            // records with one key and one instant have no order for the model and the rules to agree on.
            var keys = Set<[Int]>()
            let records = generated.filter { keys.insert([Int($0.provider), Int($0.record)]).inserted }
            var campaign = Campaign.mynapoint2020
            campaign.rounding = rounding
            campaign.ratePercent = rate
            campaign.capPoints = cap
            let expected = NaiveModel.settle(records, before: before, rate: rate, cap: cap, rounding: rounding)
            let actual = settleWithRules(records.shuffled(), before: before, campaign: campaign)
            #expect(actual.points == expected)
            #expect(actual.balance.points <= cap)
            // Reasons follow from points and premium alone.
            for (points, reason) in zip(actual.points, actual.reasons) {
                #expect(points >= 0)
                if reason == .capReached { #expect(points == 0) }
                if reason == .capPartial { #expect(points > 0) }
            }
        }
    }

    @Test(arguments: Rounding.allCases)
    func splittingIntoRunsGivesTheSameTotals(rounding: Rounding) async {
        await propertyCheck(count: 200, input: Self.records, Gen.int(in: 0...40)) { records, split in
            var campaign = Campaign.mynapoint2020
            campaign.rounding = rounding
            let ordered = records.sorted(by: naivelyPrecedes)
            let cut = min(split, ordered.count)
            let firstRun = settleWithRules(Array(ordered[..<cut]), before: [], campaign: campaign)
            let secondRun = settleWithRules(
                Array(ordered[cut...]), before: ordered[..<cut].map(\.amount), campaign: campaign)
            let whole = settleWithRules(ordered, before: [], campaign: campaign)
            #expect(firstRun.points + secondRun.points == whole.points)
            #expect(secondRun.balance == whole.balance)
        }
    }
}
