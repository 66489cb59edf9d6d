import Dispatch
import DropFormat
import Foundation
import PropertyBased
import Rules
import Synchronization
import Testing

@testable import Settlement

/// A run's grant rows cut into pieces for the commit's streams: every grant row in exactly one piece, each file's
/// pieces in its key order, and every piece taken once however many streams take them at once.
@Suite struct GrantStreamsTests {
    /// A file: whether it is settled (else already settled), and each line's kind (0 malformed, 1 duplicate, more a
    /// decided record).
    static let file = zip(Gen.int(in: 0...4), Gen.int(in: 0...5).array(of: 0...40))

    static func intakes(_ files: [(Int, [Int])]) -> [FileIntake] {
        files.enumerated().map { index, file in
            var intake = FileIntake(
                file: ProviderFile(name: "P1_20201001_\(1000 + index).csv.zst"),
                verdict: file.0 == 0 ? .alreadySettled : .settle)
            for (line, kind) in file.1.enumerated() {
                // Record IDs in the reverse of line order, so that key order differs from line order.
                let id = Array(String(format: "R%03d", 999 - line).utf8)
                let offset = UInt32(intake.recordIDs.count)
                intake.recordIDs.append(contentsOf: id)
                let record: IntakeRecord
                switch kind {
                case 0: record = .malformed(recordIDOffset: offset, recordIDLength: UInt8(id.count))
                case 1:
                    record = IntakeRecord(
                        occurredAt: 0, myKey: 0, recordIDOffset: offset, amount: 1, holder: -1,
                        recordIDLength: UInt8(id.count), reason: .duplicate, kind: 1)
                default:
                    record = IntakeRecord(
                        occurredAt: 0, myKey: 0, recordIDOffset: offset, amount: 1, holder: -1,
                        recordIDLength: UInt8(id.count), reason: .none, kind: 1)
                }
                intake.records.append(record)
            }
            return intake
        }
    }

    @Test func everyGrantRowIsInOnePieceAndEachFilesPiecesFollowItsKeyOrder() async {
        await propertyCheck(
            count: 500, input: Self.file.array(of: 0...6), Gen.int(in: 1...6), Gen.int(in: 1...8)
        ) { files, count, pieceRows in
            let intakes = Self.intakes(files)
            let cut = GrantStreams(intakes, count: count, pieceRows: pieceRows)
            var expected: [[Int]] = []
            for (f, intake) in intakes.enumerated() where intake.verdict == .settle {
                for r in GrantStreams.keyOrder(of: intake) { expected.append([f, Int(r)]) }
            }
            let queue = PieceQueue(cut.pieces, intakes: intakes)
            var taken: [[Int]] = []
            while let (file, records) = queue.next() {
                #expect(!records.isEmpty && records.count <= pieceRows)
                taken += records.map { [file, Int($0)] }
            }
            #expect(taken == expected)
            #expect(cut.count == min(count, cut.pieces.count))
            #expect(cut.pieces.allSatisfy { $0.rows.count <= pieceRows })
        }
    }

    @Test func streamsTakingPiecesAtOnceTakeEachRowOnce() async {
        await propertyCheck(count: 100, input: Self.file.array(of: 1...8), Gen.int(in: 1...5)) { files, pieceRows in
            let intakes = Self.intakes(files)
            let queue = PieceQueue(GrantStreams(intakes, count: 4, pieceRows: pieceRows).pieces, intakes: intakes)
            let taken = Mutex<[[Int]]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                while let (file, records) = queue.next() {
                    taken.withLock { $0 += records.map { [file, Int($0)] } }
                }
            }
            var expected: [[Int]] = []
            for (f, intake) in intakes.enumerated() where intake.verdict == .settle {
                for (r, record) in intake.records.enumerated() where record.isGrantRow { expected.append([f, r]) }
            }
            let all = taken.withLock { $0 }
            #expect(all.count == expected.count)
            #expect(Set(all) == Set(expected))
        }
    }

    @Test func aRunWithoutGrantRowsHasNoStream() {
        let intakes = Self.intakes([(1, [0, 1, 1]), (0, [2, 3])])
        let cut = GrantStreams(intakes, count: 4)
        #expect(cut.pieces.isEmpty)
        #expect(cut.count == 0)
    }

    @Test func oneFileIsCutInPiecesOfItsKeyOrder() {
        // Lines 0, 2, 3, 5, 6 are grant rows; their IDs descend, so key order is the reverse of line order.
        let intakes = Self.intakes([(1, [2, 0, 2, 2, 1, 2, 2])])
        let cut = GrantStreams(intakes, count: 2, pieceRows: 3)
        #expect(cut.pieces == [.init(file: 0, rows: 0..<3), .init(file: 0, rows: 3..<5)])
        let queue = PieceQueue(cut.pieces, intakes: intakes)
        #expect(queue.next()?.records == [6, 5, 3])
        #expect(queue.next()?.records == [2, 0])
        #expect(queue.next() == nil)
    }

    @Test func aFilesRowsAreOrderedByTheBytesOfTheirRecordIDs() async {
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
            let actual = GrantStreams.keyOrder(of: intake).map { Int($0) }
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
