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

/// Provider IDs of the property tests: their byte order (A, P0001, P10, P9, PA) is neither the order listed nor the
/// numeric order of their digits.
let sampleProviders = ["PA", "P9", "P0001", "A", "P10"]

/// One eligible record of a holder, as the property tests see it.
struct SampleRecord: Sendable, CustomStringConvertible {
    var amount: Int
    var instant: Int64
    /// An index into `sampleProviders`.
    var provider: UInt8
    var record: UInt16
    var providerID: String { sampleProviders[Int(provider)] }
    var recordID: String { String(record) }
    var description: String { "(\(amount) yen at \(instant), \(providerID), R\(recordID))" }
}

/// The settlement order as §5 reads, on strings: instant, then provider ID, then record ID, strings in byte order.
func naivelyPrecedes(_ a: SampleRecord, _ b: SampleRecord) -> Bool {
    if a.instant != b.instant { return a.instant < b.instant }
    let (pa, pb) = (Array(a.providerID.utf8), Array(b.providerID.utf8))
    if pa != pb { return pa.lexicographicallyPrecedes(pb) }
    return Array(a.recordID.utf8).lexicographicallyPrecedes(Array(b.recordID.utf8))
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
    static let record = zip(
        Gen.int(in: 1...30000), Gen.int(in: 0...20), Gen.int(in: 0...(sampleProviders.count - 1)),
        Gen.int(in: 0...500)
    )
    .map { SampleRecord(amount: $0, instant: Int64($1), provider: UInt8($2), record: UInt16($3)) }
    static let records = record.array(of: 1...40).map(uniqueKeys)

    /// A provider's record ID is settled once (the duplicate check runs before points), so a run never holds two
    /// records with the same key: without this, two such records with equal times would have no defined order.
    static func uniqueKeys(_ records: [SampleRecord]) -> [SampleRecord] {
        var seen = Set<UInt32>()
        return records.filter { seen.insert(UInt32($0.provider) << 16 | UInt32($0.record)).inserted }
    }

    /// The sample providers registered as a run's snapshot holds them, each with its index for the order.
    static let snapshot = {
        var snapshot = RegistrySnapshot()
        for (key, id) in sampleProviders.compactMap(ProviderID.init).sorted().enumerated() {
            snapshot.addProvider(id, key: Int32(key))
        }
        return snapshot
    }()

    /// The order settlement uses: `SettlementOrder` on the provider indexes of the snapshot.
    static func precedes(_ a: SampleRecord, _ b: SampleRecord) -> Bool {
        let key = { (record: SampleRecord) in
            SettlementOrder.Key(
                instant: Instant(nanosecondsSinceEpoch: record.instant),
                provider: snapshot.providerIndex(ProviderID(record.providerID)!)!)
        }
        return SettlementOrder.precedes(key(a), key(b)) {
            var (ra, rb) = (a.recordID, b.recordID)
            return ra.withUTF8 { ra in
                rb.withUTF8 { rb in SettlementOrder.compareBytes(UnsafeRawBufferPointer(ra), UnsafeRawBufferPointer(rb))
                }
            }
        }
    }

    @Test func theSettlementOrderIsTheOrderOfTheSpecification() async {
        await propertyCheck(count: 3000, input: Self.record, Self.record) { a, b in
            #expect(Self.precedes(a, b) == naivelyPrecedes(a, b))
        }
    }

    func settleWithRules(
        _ records: [SampleRecord], before: [Int], campaign: Campaign
    ) -> (points: [Int], reasons: [Reason], balance: Balance) {
        var balance = Balance()
        for amount in before { _ = Points.award(amount: amount, to: &balance, campaign: campaign) }
        let ordered = records.sorted(by: Self.precedes)
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
