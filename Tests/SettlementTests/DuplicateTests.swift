import DropFormat
import Rules
import TestSupport
import Testing

@testable import Settlement

/// `Settle.markDuplicates` marks exactly the records a plain reading marks: a key seen earlier in the run (files in
/// order, lines in order, by provider) or settled before, on runs large enough to be checked in many parts.
@Suite struct DuplicateTests {
    static func intakes(seed: UInt64, files: Int, records: Int, pool: Int) -> [FileIntake] {
        var random = SplitMix64(seed: seed)
        return (0..<files).map { f in
            var intake = FileIntake(file: ProviderFile(name: "P1_20201001_\(1000 + f).csv.zst"), verdict: .settle)
            intake.providerIndex = Int32(random.below(3))
            if random.chance(0.1) { intake.verdict = .alreadySettled }
            for _ in 0..<records {
                // IDs of every length up to 64, some shared across the pool so that keys repeat.
                let n = random.below(pool)
                let id = Array((String(repeating: "x", count: n % 60) + "R\(n)").utf8)
                let offset = UInt32(intake.recordIDs.count)
                intake.recordIDs.append(contentsOf: id)
                let record = IntakeRecord(
                    occurredAt: 0, myKey: 0, recordIDOffset: offset, amount: 1, holder: 0,
                    recordIDLength: UInt8(id.count), reason: random.chance(0.8) ? .none : .otherProvider,
                    kind: RecordKind.charge.rawValue)
                intake.records.append(random.chance(0.02) ? .malformed(recordIDOffset: offset) : record)
            }
            return intake
        }
    }

    /// The reasons a plain reading gives: a set of `provider|record ID` strings, filled in run order.
    static func expected(_ intakes: [FileIntake], earlier: Set<UInt64>) -> [[UInt8]] {
        var seen = Set<String>()
        return intakes.enumerated().map { f, intake in
            intake.records.enumerated().map { r, record in
                guard intake.verdict == .settle, !record.isMalformed else { return record.reason }
                if earlier.contains(Settle.position(file: f, record: r)) { return Reason.duplicate.rawValue }
                let key =
                    "\(intake.providerIndex)|" + intake.withRecordID(record) { String(decoding: $0, as: UTF8.self) }
                return seen.insert(key).inserted ? record.reason : Reason.duplicate.rawValue
            }
        }
    }

    @Test(arguments: [(1, 3, 100, 50), (2, 8, 6000, 30000), (3, 4, 30000, 200_000), (4, 2, 20000, 1_000_000)])
    func duplicatesAreTheRepeatedKeys(seed: Int, files: Int, records: Int, pool: Int) {
        for workers in [1, 2] {
            var intakes = Self.intakes(seed: UInt64(seed), files: files, records: records, pool: pool)
            var random = SplitMix64(seed: UInt64(seed) + 99)
            var earlier = Set<UInt64>()
            for _ in 0..<(records / 50) {
                let f = random.below(files)
                let r = random.below(records)
                if intakes[f].verdict == .settle && !intakes[f].records[r].isMalformed {
                    earlier.insert(Settle.position(file: f, record: r))
                }
            }
            let expected = Self.expected(intakes, earlier: earlier)
            Settle.markDuplicates(&intakes, earlier: Array(earlier), workers: workers)
            #expect(intakes.map { $0.records.map(\.reason) } == expected)
        }
    }

    @Test func theHashReadsEveryByteOfTheID() {
        var seen = Set<UInt64>()
        for length in 1...64 {
            for position in 0..<length {
                var id = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                id[position] = UInt8(ascii: "b")
                let hash = id.withUnsafeBytes { RecordKeys.hash($0) }
                #expect(seen.insert(hash).inserted, "length \(length), position \(position)")
            }
        }
    }
}
