import PropertyBased
import Rules
import Testing

/// Random runs: a few providers, holders, files and keys settled before, drawn from small pools so that keys repeat,
/// instants tie and the cap is reached.
enum Runs {
    static let certificate = zip(Gen.int(in: 0...40), Gen.int(in: 0...200), Gen.int(in: -60...100))
        .map { start, length, revoked in (Int64(start), Int64(start + length), revoked < 0 ? nil : Int64(revoked)) }

    static let holder = zip(
        Gen.int(in: 0...9), Gen.int(in: -1...4), Gen.int(in: 0...60), certificate.array(of: 1...2), Gen.bool(),
        Gen.int(in: 0...3000), Gen.int(in: 0...30000), Gen.int(in: 0...3)
    )
    .map { status, provider, at, certificates, former, points, amount, records in
        ModelHolder(
            // Mostly active, so that most records reach the points.
            status: status <= 7 ? .active : status == 8 ? .suspended : .revoked,
            application: provider < 0 ? nil : (provider, Int64(at)), certificates: certificates,
            hasFormerKey: former, earlier: Balance(points: points, eligibleAmount: amount), earlierRecords: records)
    }

    static let record = zip(
        Gen.int(in: 0...(recordIDCount - 1)), Gen.int(in: 0...99), Gen.int(in: 5...94), Gen.int(in: 1...20000),
        Gen.int(in: 0...9)
    )
    .map { recordID, myKey, instant, amount, malformed in
        ModelRecord(
            recordID: recordID, myKey: myKey, instant: Int64(instant), amount: amount, malformed: malformed == 0)
    }

    static let file = zip(Gen.int(in: 0...4), record.array(of: 0...14)).map { ModelFile(provider: $0, records: $1) }

    static let earlierKey = zip(Gen.int(in: 0...4), Gen.int(in: 0...(recordIDCount - 1)))

    /// The parts of a run but its rounding: provider subset (a bit mask over `providerPool`), holders, files, earlier
    /// keys, rate and cap.
    static let parts = zip(
        Gen.int(in: 1...31), holder.array(of: 1...6), file.array(of: 1...4), earlierKey.array(of: 0...4),
        Gen.int(in: 1...40), Gen.int(in: 0...12000)
    )

    /// A run from its generated parts: choices become IDs, files get their names and the run's order.
    static func run(
        mask: Int, holders: [ModelHolder], files: [ModelFile], earlier: [(Int, Int)], rate: Int, cap: Int,
        rounding: Rounding
    ) -> ModelRun {
        let providers = providerPool.indices.filter { mask & (1 << $0) != 0 }.map { providerPool[$0] }
        var campaign = Campaign.mynapoint2020
        campaign.windowStart = Instant(nanosecondsSinceEpoch: window.lowerBound)
        campaign.windowEnd = Instant(nanosecondsSinceEpoch: window.upperBound)
        campaign.ratePercent = rate
        campaign.capPoints = cap
        campaign.rounding = rounding
        let count = holders.count
        let named = files.enumerated().map { index, file in
            let provider = providers[file.provider % providers.count]
            let sequence = String(index + 1)
            let records = file.records.map { record in
                // Seven in ten by a current MyKey ID, two by a former one (bound only when the holder has one), one
                // by nobody's.
                var record = record
                let choice = record.myKey
                record.myKey = count == 0 || choice >= 90 ? 2 * count : (choice < 70 ? 0 : count) + choice % count
                return record
            }
            return (
                name: "\(provider)_20201001_\(String(repeating: "0", count: 4 - sequence.count))\(sequence).csv.zst",
                provider: provider, records: records
            )
        }
        return ModelRun(
            providers: providers, holders: holders,
            files: named.sorted { Array($0.name.utf8).lexicographicallyPrecedes($1.name.utf8) },
            earlierKeys: earlier.map { (providers[$0.0 % providers.count], recordIDText($0.1)) }, campaign: campaign)
    }
}

@Suite struct SettleTests {
    @Test(arguments: Rounding.allCases)
    func duplicatesOrderAndPointsAgreeWithTheNaiveModel(rounding: Rounding) async {
        await propertyCheck(count: 1000, input: Runs.parts, Gen.int(in: 1...4)) { parts, workers in
            let (mask, holders, files, earlier, rate, cap) = parts
            let run = Runs.run(
                mask: mask, holders: holders, files: files, earlier: earlier, rate: rate, cap: cap, rounding: rounding)
            let expected = NaiveSettlement.settle(run)
            let actual = Core.settle(run, workers: workers)
            #expect(actual.outcomes == expected.outcomes, "\(run)")
            #expect(actual.changes == expected.changes, "\(run)")
        }
    }

    /// One holder of P1 with a valid certificate, and the files given, settled with rate 25 % and cap `cap`.
    func settle(
        _ files: [(name: String, provider: String, records: [ModelRecord])], earlier: [(String, String)] = [],
        cap: Int = 5000, rounding: Rounding = .perRecord
    ) -> [[Outcome]] {
        let holder = ModelHolder(
            status: .active, application: (0, 0), certificates: [(0, 100, nil)], hasFormerKey: true,
            earlier: Balance(), earlierRecords: 0)
        var campaign = Campaign.mynapoint2020
        campaign.windowStart = Instant(nanosecondsSinceEpoch: window.lowerBound)
        campaign.windowEnd = Instant(nanosecondsSinceEpoch: window.upperBound)
        campaign.capPoints = cap
        campaign.rounding = rounding
        let run = ModelRun(
            providers: ["P1", "P2"], holders: [holder], files: files, earlierKeys: earlier, campaign: campaign)
        let actual = Core.settle(run, workers: 2)
        #expect(actual.outcomes == NaiveSettlement.settle(run).outcomes)
        return actual.outcomes
    }

    /// A well-formed line of the holder (by its current MyKey ID, or its former one with `former`) at `instant`.
    func line(_ recordID: String, at instant: Int64 = 50, amount: Int = 400, former: Bool = false) -> ModelRecord {
        ModelRecord(
            recordID: (0..<recordIDCount).first { recordIDText($0) == recordID }!, myKey: former ? 1 : 0,
            instant: instant, amount: amount,
            malformed: false)
    }

    @Test func duplicatesWithinTheRunAndAgainstEarlierRuns() {
        var malformed = line("1")
        malformed.malformed = true
        let outcomes = settle(
            [
                ("P1_20201001_0001.csv.zst", "P1", [malformed, line("1"), line("2"), line("1", former: true)]),
                ("P1_20201001_0002.csv.zst", "P1", [line("2"), line("10"), line("R-1")]),
                ("P2_20201001_0001.csv.zst", "P2", [line("1")]),
            ], earlier: [("P1", "10"), ("P2", "2")])
        let reasons = outcomes.map { $0.map(\.reason) }
        #expect(
            reasons == [
                // A malformed line takes no part: the well-formed line with its ID after it is the first.
                [.malformed, .none, .none, .duplicate],
                // Earlier in this run, then settled by an earlier run; R-1 is new.
                [.duplicate, .duplicate, .none],
                // Another provider's record ID "1" is another key: not a duplicate (the holder applied with P1).
                [.otherProvider],
            ])
    }

    @Test(arguments: Rounding.allCases)
    func aHoldersRecordsAreSettledByInstantThenRecordIDInByteOrder(rounding: Rounding) {
        // 400 yen at 25 %: 100 points each; the cap of 250 leaves 50 for the third record in §5 order and nothing
        // for the fourth. Byte order puts "1" < "10" < "2"; the record at 40 comes before all of them.
        let outcomes = settle(
            [
                ("P1_20201001_0001.csv.zst", "P1", [line("2"), line("10"), line("a", at: 40)]),
                ("P1_20201001_0002.csv.zst", "P1", [line("1")]),
            ], cap: 250, rounding: rounding)
        #expect(
            outcomes == [
                [
                    Outcome(reason: .capReached, points: 0), Outcome(reason: .capPartial, points: 50),
                    Outcome(reason: .none, points: 100),
                ],
                [Outcome(reason: .none, points: 100)],
            ])
    }
}
