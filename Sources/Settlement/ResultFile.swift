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
    /// SHA-256 of `bytes`, as the control file gives it.
    var sha256: [UInt8]
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

    /// Bytes of CSV rendered before they go to the compressor: the CSV of a file is never held whole.
    static let bufferSize = 1 << 18

    /// zstd's level for result files: a fast (negative) level, with the literals still Huffman-coded.
    ///
    /// Their rows are mostly random record and MyKey IDs, so nearly all the compression is in coding the literals.
    /// Measured on 200 MB of result rows: level 1 compresses them 5.30 times at 430–490 MB/s; level -3 with literals
    /// coded 5.28 times at 580–610 MB/s; level -3 as zstd sets it (literals raw) only 3.72 times.
    static let compressionLevel: Int32 = -3

    /// A compressor for result files (`compressionLevel`, literals coded, frame checksum on).
    static func compressor() throws -> ZstdCompressor {
        try ZstdCompressor(level: compressionLevel, checksum: true, compressLiterals: true)
    }

    /// Renders the rows of a settled file, in input order (`ResultRenderer`).
    static func render(_ intake: FileIntake, compressor: ZstdCompressor) throws -> ResultFile {
        try ResultRenderer(compressor: compressor).render(intake)
    }

    /// A result file of `bytes` with the totals of its rows.
    init(intake: FileIntake, bytes: [UInt8], tally: Tally) {
        name = intake.file.stem + ".result.csv.zst"
        self.bytes = bytes
        sha256 = SHA256.hash(bytes)
        control =
            ResultControl(
                file: name, sha256: sha256.hexString, records: intake.records.count,
                grantedRecords: tally.granted, pointsTotal: tally.points
            ).json
        records = intake.records.count
        grantedRecords = tally.granted
        pointsTotal = tally.points
        eligibleAmount = tally.eligibleAmount
        reasonCounts = tally.reasonCounts
        reasonPoints = tally.reasonPoints
    }

    /// The totals of a result file, row by row.
    struct Tally {
        var granted = 0
        var points = 0
        var eligibleAmount = 0
        var reasonCounts = Array(repeating: 0, count: Reason.allCases.count)
        var reasonPoints = Array(repeating: 0, count: Reason.allCases.count)

        mutating func count(_ record: IntakeRecord, reason: Reason) {
            if !reason.isRejection {
                granted += 1
                points += Int(record.points)
                eligibleAmount += Int(record.amount)
            }
            reasonCounts[Int(reason.rawValue)] += 1
            reasonPoints[Int(reason.rawValue)] += Int(record.points)
        }
    }

    /// The end of a row after its MyKey ID, by reason: `,REJECTED,0,CODE` or `,GRANTED,points,CODE`, then LF.
    ///
    /// The fixed pieces are kept 32 bytes apart, zero-padded, and copied 32 bytes at a time: a row's writer may write
    /// up to `overrun` bytes past the row's end, which the next row overwrites.
    struct RowEndings {
        /// Rejected rows' endings by reason, then `,GRANTED,`, then the codes after granted rows' points by reason.
        private let pieces: [UInt8]
        private let lengths: [Int]
        private static let width = 32
        private static let grantedPiece = Reason.allCases.count

        /// Bytes a row's writer may write past the row's end.
        static let overrun = 32

        /// The longest row: a 64-byte record ID, comma, MyKey ID, the longest ending with 10 digits of points.
        static let longestRow = 64 + 1 + 8 + ",REJECTED,0,".utf8.count + 10 + 1 + 32 + 1

        init() {
            let texts =
                Reason.allCases.map { ",REJECTED,0,\($0.code)\n" } + [",GRANTED,"]
                + Reason.allCases.map { ",\($0.code)\n" }
            var pieces: [UInt8] = []
            for text in texts {
                let bytes = Array(text.utf8)
                precondition(bytes.count <= Self.width, "a row's ending fits its slot")
                pieces += bytes + Array(repeating: 0, count: Self.width - bytes.count)
            }
            self.pieces = pieces
            lengths = texts.map(\.utf8.count)
        }

        /// Writes the ending of a row with `reason` and `points` at `out`; returns where it ends.
        @inline(__always)
        func write(_ reason: Reason, points: Int32, to out: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
            pieces.withUnsafeBytes { table in
                let reasons = Reason.allCases.count
                if reason.isRejection {
                    return copy(Int(reason.rawValue), from: table, to: out)
                }
                var end = copy(Self.grantedPiece, from: table, to: out)
                end = Self.writeDecimal(Int(points), to: end)
                return copy(reasons + 1 + Int(reason.rawValue), from: table, to: end)
            }
        }

        @inline(__always)
        private func copy(
            _ piece: Int, from table: UnsafeRawBufferPointer, to out: UnsafeMutableRawPointer
        ) -> UnsafeMutableRawPointer {
            let source = table.baseAddress! + piece * Self.width
            for word in 0..<(Self.width / 8) {
                out.storeBytes(
                    of: source.loadUnaligned(fromByteOffset: 8 * word, as: UInt64.self), toByteOffset: 8 * word,
                    as: UInt64.self)
            }
            return out + lengths[piece]
        }

        /// Writes a non-negative number in decimal, without leading zeros.
        @inline(__always)
        private static func writeDecimal(_ value: Int, to out: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
            var digits = 1
            var rest = value / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            var v = value
            for i in stride(from: digits - 1, through: 0, by: -1) {
                out.storeBytes(of: UInt8(0x30 + v % 10), toByteOffset: i, as: UInt8.self)
                v /= 10
            }
            return out + digits
        }
    }

    /// The control file's name.
    var controlName: String { String(name.dropLast(".csv.zst".count)) + ".ctl" }
}

/// One worker's rendering of result files: its compressor, its CSV buffer and its buffer of compressed bytes, kept
/// from file to file, so that a file allocates only its result's own bytes, of their exact size.
///
/// Rows are written straight into the CSV buffer, which is compressed whenever it is nearly full. The compressor is
/// fed in pieces with `ZSTD_e_continue` and the frame ended once: zstd buffers its input by blocks, so the bytes are
/// those of feeding the whole CSV at once.
final class ResultRenderer {
    private let compressor: ZstdCompressor
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ResultFile.bufferSize, alignment: 16)
    private var compressed: [UInt8] = []
    private let endings = ResultFile.RowEndings()

    /// A renderer that compresses with `compressor`.
    init(compressor: ZstdCompressor) { self.compressor = compressor }

    deinit { buffer.deallocate() }

    /// Renders the rows of a settled file, in input order.
    func render(_ intake: FileIntake) throws -> ResultFile {
        compressed.removeAll(keepingCapacity: true)
        var tally = ResultFile.Tally()
        let base = buffer.baseAddress!
        let size = ResultFile.bufferSize
        let header = ResultFile.header
        var used = header.count
        header.withUnsafeBytes { buffer.copyMemory(from: $0) }
        try intake.recordIDs.withUnsafeBytes { ids in
            for record in intake.records {
                if used > size - ResultFile.RowEndings.longestRow - ResultFile.RowEndings.overrun {
                    try compress(UnsafeRawBufferPointer(start: base, count: used))
                    used = 0
                }
                let reason = Reason(rawValue: record.reason) ?? .malformed
                tally.count(record, reason: reason)
                var out = base + used
                let length = Int(record.recordIDLength)
                let offset = Int(record.recordIDOffset)
                if offset + (length + 7) & ~7 <= ids.count {
                    // Eight bytes at a time: the last word may run past the ID, within the IDs and within the row's
                    // room, and the next field overwrites what it wrote past.
                    for word in stride(from: 0, to: length, by: 8) {
                        out.storeBytes(
                            of: ids.loadUnaligned(fromByteOffset: offset + word, as: UInt64.self), toByteOffset: word,
                            as: UInt64.self)
                    }
                } else if length > 0 {
                    out.copyMemory(from: ids.baseAddress! + offset, byteCount: length)
                }
                out += length
                out.storeBytes(of: UInt8(ascii: ","), as: UInt8.self)
                out += 1
                if record.myKey != 0 {
                    out.storeBytes(of: record.myKey.bigEndian, as: UInt64.self)
                    out += 8
                }
                out = endings.write(reason, points: record.points, to: out)
                used = base.distance(to: out)
            }
        }
        try compress(UnsafeRawBufferPointer(start: base, count: used))
        try compressor.finish { compressed.append(contentsOf: $0) }
        let bytes = [UInt8](unsafeUninitializedCapacity: compressed.count) { copy, count in
            count = compressed.withUnsafeBufferPointer { copy.initialize(fromContentsOf: $0) }
        }
        return ResultFile(intake: intake, bytes: bytes, tally: tally)
    }

    private func compress(_ csv: UnsafeRawBufferPointer) throws {
        try compressor.compress(csv) { compressed.append(contentsOf: $0) }
    }
}
