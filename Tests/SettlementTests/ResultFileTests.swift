import DropFormat
import Rules
import TestSupport
import Testing
import Zstd

@testable import Settlement

/// A result file rendered a buffer at a time is the very bytes of its whole CSV compressed at once, with the same
/// totals.
@Suite struct ResultFileTests {
    /// A settled file of `count` records of every kind: malformed with and without their echoed fields, rejected,
    /// granted with points up to the largest `Int32`.
    static func intake(seed: UInt64, count: Int) -> FileIntake {
        var random = SplitMix64(seed: seed)
        var intake = FileIntake(file: ProviderFile(name: "P1_20201001_0001.csv.zst"), verdict: .settle)
        for r in 0..<count {
            let length = random.chance(0.05) ? 0 : random.chance(0.05) ? 64 : 1 + random.below(20)
            let id = (0..<length).map { _ in UInt8(ascii: "A") + UInt8(random.below(26)) }
            let offset = UInt32(intake.recordIDs.count)
            intake.recordIDs.append(contentsOf: id)
            let myKey: UInt64 = random.chance(0.1) ? 0 : 0x4141_4141_3030_3030 + UInt64(random.below(9))
            let reason = random.pick(Reason.allCases)
            var record = IntakeRecord(
                occurredAt: 0, myKey: myKey, recordIDOffset: offset, amount: Int32(random.below(1_000_000)),
                holder: Int32(r), recordIDLength: UInt8(length), reason: reason, kind: RecordKind.charge.rawValue)
            if !reason.isRejection {
                record.points = random.chance(0.01) ? .max : Int32(random.below(random.chance(0.5) ? 10 : 100_000))
            }
            intake.records.append(record)
        }
        return intake
    }

    /// The CSV of `intake`, row by row as the settlement spec writes it.
    static func csv(_ intake: FileIntake) -> [UInt8] {
        var csv = Array("record_id,mykey_id,status,points,reason\n".utf8)
        for record in intake.records {
            intake.withRecordID(record) { csv.append(contentsOf: $0) }
            csv.append(UInt8(ascii: ","))
            if record.myKey != 0 { csv.append(contentsOf: MyKeyID(rawValue: record.myKey)!.description.utf8) }
            let reason = Reason(rawValue: record.reason)!
            let status = reason.isRejection ? "REJECTED,0" : "GRANTED,\(record.points)"
            csv.append(contentsOf: ",\(status),\(reason.code)\n".utf8)
        }
        return csv
    }

    @Test(arguments: [0, 1, 5000, 40_000])
    func aFileRenderedInPiecesIsTheWholeCSVCompressedAtOnce(count: Int) throws {
        let intake = Self.intake(seed: UInt64(count), count: count)
        let rendered = try ResultFile.render(intake, compressor: try ResultFile.compressor())
        let csv = Self.csv(intake)
        // Large enough files span several buffers.
        #expect(count < 40_000 || csv.count > 2 * ResultFile.bufferSize)
        let compressor = try ZstdCompressor(
            level: ResultFile.compressionLevel, checksum: true, compressLiterals: true)
        var expected: [UInt8] = []
        try csv.withUnsafeBytes { try compressor.compress($0) { expected.append(contentsOf: $0) } }
        try compressor.finish { expected.append(contentsOf: $0) }
        #expect(rendered.bytes == expected)
        #expect(try Zstd.decompress(rendered.bytes) == csv)
        let granted = intake.records.filter { !Reason(rawValue: $0.reason)!.isRejection }
        #expect(rendered.records == count)
        #expect(rendered.grantedRecords == granted.count)
        #expect(rendered.pointsTotal == granted.reduce(0) { $0 + Int($1.points) })
        #expect(rendered.eligibleAmount == granted.reduce(0) { $0 + Int($1.amount) })
        for reason in Reason.allCases {
            let rows = intake.records.filter { $0.reason == reason.rawValue }
            #expect(rendered.reasonCounts[Int(reason.rawValue)] == rows.count)
            #expect(rendered.reasonPoints[Int(reason.rawValue)] == rows.reduce(0) { $0 + Int($1.points) })
        }
    }
}
