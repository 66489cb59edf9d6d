import DropFormat
import PropertyBased
import Rules
import Testing

@testable import Settlement

/// A run's grant rows cut into streams: every grant row in exactly one stream, in file and line order, and the
/// streams as even as rows allow.
@Suite struct GrantStreamsTests {
    /// A file: whether it is settled (else already settled), and each line's kind (0 malformed, 1 duplicate, more a
    /// decided record).
    static let file = zip(Gen.int(in: 0...4), Gen.int(in: 0...5).array(of: 0...40))

    static func intakes(_ files: [(Int, [Int])]) -> [FileIntake] {
        files.enumerated().map { index, file in
            var intake = FileIntake(
                file: ProviderFile(name: "P1_20201001_\(1000 + index).csv.zst"),
                verdict: file.0 == 0 ? .alreadySettled : .settle)
            for kind in file.1 {
                let record: IntakeRecord
                switch kind {
                case 0: record = .malformed(recordIDOffset: 0, recordIDLength: 0)
                case 1:
                    record = IntakeRecord(
                        occurredAt: 0, myKey: 0, recordIDOffset: 0, amount: 1, holder: -1, recordIDLength: 0,
                        reason: .duplicate, kind: 1)
                default:
                    record = IntakeRecord(
                        occurredAt: 0, myKey: 0, recordIDOffset: 0, amount: 1, holder: -1, recordIDLength: 0,
                        reason: .none, kind: 1)
                }
                intake.records.append(record)
            }
            return intake
        }
    }

    @Test func everyGrantRowIsInOneStreamInOrderAndTheStreamsAreEven() async {
        await propertyCheck(count: 500, input: Self.file.array(of: 0...6), Gen.int(in: 1...6)) { files, count in
            let intakes = Self.intakes(files)
            var expected: [[Int]] = []
            for (f, intake) in intakes.enumerated() where intake.verdict == .settle {
                for (r, record) in intake.records.enumerated() where record.isGrantRow { expected.append([f, r]) }
            }
            let streams = GrantStreams(intakes, count: count).streams
            let rows = streams.map { slices in
                slices.flatMap { slice in
                    slice.records.filter { intakes[slice.file].records[$0].isGrantRow }.map { [slice.file, $0] }
                }
            }
            #expect(rows.flatMap { $0 } == expected)
            #expect(streams.count == min(count, expected.count))
            let lengths = rows.map(\.count)
            #expect((lengths.max() ?? 0) - (lengths.min() ?? 0) <= 1, "\(lengths)")
            #expect(!lengths.contains(0))
        }
    }

    @Test func aRunWithoutGrantRowsHasNoStream() {
        let intakes = Self.intakes([(1, [0, 1, 1]), (0, [2, 3])])
        #expect(GrantStreams(intakes, count: 4).streams.isEmpty)
    }

    @Test func oneFileIsCutBetweenItsLines() {
        let intakes = Self.intakes([(1, [2, 0, 2, 2, 1, 2, 2])])
        #expect(
            GrantStreams(intakes, count: 2).streams == [
                [.init(file: 0, records: 0..<3)], [.init(file: 0, records: 3..<7)],
            ])
    }

    @Test func aSliceIsEmittedInTheByteOrderOfItsRecordIDs() async {
        // Short alphabets and a shared prefix, so that IDs tie on their first bytes and on their 8-byte keys.
        let id = zip(Gen.bool(), Gen.int(in: 0...3).array(of: 1...12)).map { prefixed, digits in
            (prefixed ? "P01-20201001-1-" : "") + String(digits.map { Array("0A9-")[$0] })
        }
        await propertyCheck(count: 500, input: zip(id, Gen.int(in: 0...3)).array(of: 0...60)) { lines in
            var intake = FileIntake(file: ProviderFile(name: "P1_20201001_0001.csv.zst"), verdict: .settle)
            for (text, kind) in lines {
                let offset = UInt32(intake.recordIDs.count)
                intake.recordIDs.append(contentsOf: Array(text.utf8))
                intake.records.append(
                    IntakeRecord(
                        occurredAt: 0, myKey: 0, recordIDOffset: offset, amount: 1, holder: -1,
                        recordIDLength: UInt8(text.utf8.count), reason: kind == 0 ? .duplicate : .none, kind: 1))
            }
            let expected = lines.indices.filter { lines[$0].1 != 0 }.sorted { a, b in
                Array(lines[a].0.utf8).lexicographicallyPrecedes(Array(lines[b].0.utf8))
            }
            let slice = GrantStreams.Slice(file: 0, records: 0..<lines.count)
            let actual = GrantStreams.keyOrder(of: slice, in: intake)
            // Equal IDs may come in either order; their texts may not.
            #expect(actual.map { lines[$0].0 } == expected.map { lines[$0].0 })
            #expect(actual.sorted() == expected.sorted())
        }
    }

    @Test func aFilesRangeIsItsLowestAndHighestWellFormedRecordID() async {
        let id = Gen.int(in: 0...3).array(of: 1...6).map { String($0.map { Array("0A9-")[$0] }) }
        await propertyCheck(count: 300, input: zip(id, Gen.bool()).array(of: 0...30)) { lines in
            var intake = FileIntake(file: ProviderFile(name: "P1_20201001_0001.csv.zst"), verdict: .settle)
            for (text, malformed) in lines {
                let offset = UInt32(intake.recordIDs.count)
                intake.recordIDs.append(contentsOf: Array(text.utf8))
                intake.records.append(
                    malformed
                        ? .malformed(recordIDOffset: offset, recordIDLength: UInt8(text.utf8.count))
                        : IntakeRecord(
                            occurredAt: 0, myKey: 0, recordIDOffset: offset, amount: 1, holder: -1,
                            recordIDLength: UInt8(text.utf8.count), reason: .none, kind: 1))
            }
            let wellFormed = lines.filter { !$0.1 }.map { Array($0.0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
            let range = intake.recordIDRange()
            #expect(range?.low == wellFormed.first)
            #expect(range?.high == wellFormed.last)
        }
    }
}
