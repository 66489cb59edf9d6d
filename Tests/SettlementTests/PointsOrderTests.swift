import DropFormat
import Rules
import TestSupport
import Testing

@testable import Settlement

/// The counting sort of `Settle.awardPoints` settles every holder's records in the order a comparison sort by holder,
/// then `SettlementOrder.precedes`, gives: the same points, reasons and balances, on runs with many holders (several
/// buckets), holders with many records (the library sort's path), and records tied on instant and provider (the
/// record IDs decide).
@Suite struct PointsOrderTests {
    struct Run {
        var snapshot: RegistrySnapshot
        var intakes: [FileIntake]
        var campaign: Campaign
    }

    static func run(seed: UInt64, holders: Int, files: Int, records: Int) -> Run {
        var random = SplitMix64(seed: seed)
        var snapshot = RegistrySnapshot()
        let providers = ["A", "P1", "P2"].map { snapshot.addProvider(ProviderID($0)!, key: 1) }
        for h in 0..<holders {
            let index = snapshot.addHolder(key: Int64(h), status: .active)
            if random.chance(0.3) {
                snapshot.setBalance(
                    of: index, Balance(points: random.below(3000), eligibleAmount: random.below(20_000)),
                    eligibleRecords: random.below(4))
            }
        }
        var intakes: [FileIntake] = []
        for f in 0..<files {
            var intake = FileIntake(file: ProviderFile(name: "P1_20201001_\(1000 + f).csv.zst"), verdict: .settle)
            intake.providerIndex = random.pick(providers)
            for r in 0..<records {
                let id = Array((random.chance(0.5) ? "R\(random.below(50))" : "F\(f)-\(r)").utf8)
                let offset = UInt32(intake.recordIDs.count)
                intake.recordIDs.append(contentsOf: id)
                // A few busy holders (many records each), the rest spread over all holders.
                let holder = random.chance(0.05) ? random.below(3) * (holders / 3) : random.below(holders)
                let reason: Reason = random.chance(0.1) ? random.pick([.otherProvider, .malformed, .duplicate]) : .none
                intake.records.append(
                    IntakeRecord(
                        occurredAt: Int64(random.below(40)), myKey: 0, recordIDOffset: offset,
                        amount: Int32(1 + random.below(9000)), holder: Int32(holder), recordIDLength: UInt8(id.count),
                        reason: reason, kind: RecordKind.charge.rawValue))
            }
            intakes.append(intake)
        }
        if random.chance(0.5) { intakes[0].verdict = .alreadySettled }
        var campaign = Campaign.mynapoint2020
        campaign.capPoints = 5000
        campaign.rounding = random.chance(0.5) ? .perRecord : .cumulative
        return Run(snapshot: snapshot, intakes: intakes, campaign: campaign)
    }

    /// The points of `run` by a comparison sort of all eligible records, and the holders' new balances.
    static func expected(
        _ run: Run
    ) -> (
        outcomes: [[(Int32, UInt8)]], changed: [(RegistrySnapshot.HolderIndex, Balance, Int)]
    ) {
        var outcomes = run.intakes.map { $0.records.map { ($0.points, $0.reason) } }
        var eligible: [(file: Int, record: Int)] = []
        for (f, intake) in run.intakes.enumerated() where intake.verdict == .settle {
            for (r, record) in intake.records.enumerated() where record.reason == Reason.none.rawValue {
                eligible.append((f, r))
            }
        }
        let record = { (e: (file: Int, record: Int)) in run.intakes[e.file].records[e.record] }
        let key = { (e: (file: Int, record: Int)) in
            SettlementOrder.Key(
                instant: Instant(nanosecondsSinceEpoch: record(e).occurredAt),
                provider: run.intakes[e.file].providerIndex)
        }
        eligible.sort { a, b in
            if record(a).holder != record(b).holder { return record(a).holder < record(b).holder }
            return SettlementOrder.precedes(key(a), key(b)) {
                run.intakes[a.file].withRecordID(record(a)) { x in
                    run.intakes[b.file].withRecordID(record(b)) { y in SettlementOrder.compareBytes(x, y) }
                }
            }
        }
        var changed: [(RegistrySnapshot.HolderIndex, Balance, Int)] = []
        for e in eligible {
            let holder = record(e).holder
            if changed.last?.0 != holder {
                changed.append((holder, run.snapshot.balances[Int(holder)], run.snapshot.eligibleRecords[Int(holder)]))
            }
            let (points, reason) = Points.award(
                amount: Int(record(e).amount), to: &changed[changed.count - 1].1, campaign: run.campaign)
            changed[changed.count - 1].2 += 1
            outcomes[e.file][e.record] = (Int32(points), reason.rawValue)
        }
        return (outcomes, changed)
    }

    @Test(arguments: [
        (1, 10, 1, 40), (2, 5000, 3, 3000), (3, 20000, 6, 6000), (4, 4097, 2, 5000), (5, 70000, 4, 20000),
    ])
    func theCountingSortAgreesWithTheComparisonSort(seed: Int, holders: Int, files: Int, records: Int) {
        for workers in [1, 2, 3] {
            var run = Self.run(seed: UInt64(seed), holders: holders, files: files, records: records)
            let expected = Self.expected(run)
            let changed = Settle.awardPoints(
                &run.intakes, snapshot: run.snapshot, campaign: run.campaign, workers: workers)
            let outcomes = run.intakes.map { $0.records.map { ($0.points, $0.reason) } }
            #expect(outcomes.elementsEqual(expected.outcomes) { $0.elementsEqual($1) { $0 == $1 } })
            #expect(changed.map(\.holder) == expected.changed.map(\.0))
            #expect(changed.map(\.balance) == expected.changed.map(\.1))
            #expect(changed.map(\.records) == expected.changed.map(\.2))
        }
    }
}
