import Crypto
import DropFormat
import Rules
import Zstd

/// A result file for a provider (settlement spec §6), built in memory before the run commits, so the
/// database holds exactly the bytes the provider receives and a restart can deliver them again.
struct ResultFile: Sendable {
    /// `{stem}.result.csv.zst`.
    var name: String
    /// The compressed CSV.
    var bytes: [UInt8]
    /// The result control file's JSON (``ResultControl/json``).
    var control: String
    /// Rows in the file.
    var records: Int
    /// Rows with status `GRANTED`.
    var grantedRecords: Int
    /// Sum of points.
    var pointsTotal: Int
    /// Eligible amount (yen) over the granted rows.
    var eligibleAmount: Int
    /// Rows by reason (all reasons, including `none`).
    var reasonCounts: [Int]
    /// Points by reason.
    var reasonPoints: [Int]

    static let header = Array("record_id,mykey_id,status,points,reason\n".utf8)

    /// Renders the rows of a settled file, in input order.
    static func render(_ intake: FileIntake, compressor: ZstdCompressor) throws -> ResultFile {
        var csv: [UInt8] = []
        csv.reserveCapacity(ResultFile.header.count + intake.records.count * 48)
        csv.append(contentsOf: header)
        var granted = 0
        var points = 0
        var eligibleAmount = 0
        var reasonCounts = Array(repeating: 0, count: Reason.allCases.count)
        var reasonPoints = Array(repeating: 0, count: Reason.allCases.count)
        var digits: [UInt8] = Array(repeating: 0, count: 20)
        for record in intake.records {
            intake.withRecordID(record) { csv.append(contentsOf: $0) }
            csv.append(UInt8(ascii: ","))
            if record.myKey != 0 {
                var key = record.myKey.bigEndian
                withUnsafeBytes(of: &key) { csv.append(contentsOf: $0) }
            }
            let reason = Reason(rawValue: record.reason) ?? .malformed
            if reason.isRejection {
                csv.append(contentsOf: ",REJECTED,0,".utf8)
            } else {
                granted += 1
                points += Int(record.points)
                eligibleAmount += Int(record.amount)
                csv.append(contentsOf: ",GRANTED,".utf8)
                appendDecimal(Int(record.points), to: &csv, scratch: &digits)
                csv.append(UInt8(ascii: ","))
            }
            csv.append(contentsOf: reason.code.utf8)
            csv.append(UInt8(ascii: "\n"))
            reasonCounts[Int(reason.rawValue)] += 1
            reasonPoints[Int(reason.rawValue)] += Int(record.points)
        }
        var compressed: [UInt8] = []
        compressed.reserveCapacity(csv.count / 4 + 64)
        try csv.withUnsafeBytes { raw in
            try compressor.compress(raw) { compressed.append(contentsOf: $0) }
        }
        try compressor.finish { compressed.append(contentsOf: $0) }
        let name = intake.file.stem + ".result.csv.zst"
        let control = ResultControl(
            file: name, sha256: SHA256.hash(compressed).hexString, records: intake.records.count,
            grantedRecords: granted, pointsTotal: points
        ).json
        return ResultFile(
            name: name, bytes: compressed, control: control, records: intake.records.count, grantedRecords: granted,
            pointsTotal: points, eligibleAmount: eligibleAmount, reasonCounts: reasonCounts, reasonPoints: reasonPoints)
    }

    /// The control file's name.
    var controlName: String { String(name.dropLast(".csv.zst".count)) + ".ctl" }

    private static func appendDecimal(_ value: Int, to out: inout [UInt8], scratch: inout [UInt8]) {
        var v = value
        var n = 0
        repeat {
            scratch[n] = UInt8(0x30 + v % 10)
            v /= 10
            n += 1
        } while v > 0
        while n > 0 {
            n -= 1
            out.append(scratch[n])
        }
    }
}
