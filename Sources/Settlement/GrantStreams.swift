import Foundation
import Ledger
import Rules
import Synchronization

/// A run's grant rows for the commit's streams: each file's rows in the byte order of their record IDs, cut into
/// pieces of at most `pieceRows` rows, which the streams take one after another, the next piece going to whichever
/// stream is free first.
///
/// A file belongs to one provider, so a piece is a run of ascending keys of the primary key
/// `(provider_key, record_id)`, and pieces are handed out in the run's order: the streams write keys close together
/// and the index grows at one place instead of being split all over. Taking pieces as they come, rather than a fixed
/// share each, keeps every stream busy to the end: the stream writing the highest keys inserts on the index's
/// rightmost page without descending the tree and is faster than the others, and with fixed shares the others
/// were still copying for a fifth of the commit after it had finished.
struct GrantStreams {
    /// Rows of one file's key order, at most `pieceRows` of them.
    struct Piece: Sendable, Equatable {
        /// The file's index among the run's intakes.
        var file: Int
        /// Positions in the file's key order (`keyOrder(of:)`).
        var rows: Range<Int>
    }

    /// Rows in a piece: small enough that the streams end within a fraction of a second of each other, large
    /// enough that each piece is a long run of ascending keys.
    static let pieceRows = 1 << 16

    /// The pieces, files in the run's order and each file's pieces in key order; empty when the run has no grant
    /// rows.
    let pieces: [Piece]
    /// Streams to write over: the count asked for, or fewer when there are fewer pieces.
    let count: Int

    /// Cuts the grant rows of `intakes` into pieces of at most `pieceRows` rows, for at most `count` streams.
    init(_ intakes: [FileIntake], count: Int, pieceRows: Int = GrantStreams.pieceRows) {
        let size = max(pieceRows, 1)
        var pieces: [Piece] = []
        for (f, intake) in intakes.enumerated() where intake.verdict == .settle {
            let rows = intake.records.reduce(0) { $0 + ($1.isGrantRow ? 1 : 0) }
            for start in stride(from: 0, to: rows, by: size) {
                pieces.append(Piece(file: f, rows: start..<min(start + size, rows)))
            }
        }
        self.pieces = pieces
        self.count = min(max(count, 1), pieces.count)
    }

    /// The streams as rows for the ledger: each takes the next piece until none is left, and emits its rows with
    /// their file's index among the run's registrations (`registered`).
    func rows(_ intakes: [FileIntake], snapshot: RegistrySnapshot, registered: [Int]) -> [GrantRows] {
        let queue = PieceQueue(pieces, intakes: intakes)
        return (0..<count).map { _ in
            { emit in
                while let (file, records) = queue.next() {
                    let intake = intakes[file]
                    let providerKey = snapshot.providerKeys[Int(intake.providerIndex)]
                    for index in records {
                        let r = Int(index)
                        let record = intake.records[r]
                        let row = GrantRow(
                            providerKey: providerKey,
                            holderKey: record.holder >= 0 ? snapshot.holderKeys[Int(record.holder)] : nil,
                            file: registered[file], line: Int32(r + 1), occurredAt: record.occurredAt,
                            amount: record.amount, points: record.points,
                            reason: Reason(rawValue: record.reason) ?? .malformed)
                        try intake.withRecordID(record) { try emit(row, $0) }
                        if r == intake.records.count / 2 { CrashPoint.reach("grants-copy") }
                    }
                }
            }
        }
    }

    /// The file's grant rows (record indices), in the byte order of their record IDs.
    ///
    /// Sorted by an 8-byte key: the bytes after the prefix every ID of the file shares (a provider's IDs often
    /// share a long one), big-endian, zero-padded (no ID holds a zero byte, so a shorter ID sorts first); IDs whose
    /// keys tie are compared whole.
    static func keyOrder(of intake: FileIntake) -> [Int32] {
        let records = intake.records
        return intake.recordIDs.withUnsafeBytes { ids -> [Int32] in
            func id(_ r: Int) -> UnsafeRawBufferPointer {
                let start = Int(records[r].recordIDOffset)
                return UnsafeRawBufferPointer(rebasing: ids[start..<(start + Int(records[r].recordIDLength))])
            }
            var entries: [(key: UInt64, record: Int32)] = []
            entries.reserveCapacity(records.count)
            var shared = Int.max
            var first: UnsafeRawBufferPointer?
            for r in records.indices where records[r].isGrantRow {
                let bytes = id(r)
                if let first {
                    var n = 0
                    let limit = min(shared, bytes.count, first.count)
                    while n < limit && bytes[n] == first[n] { n += 1 }
                    shared = n
                } else {
                    first = bytes
                    shared = bytes.count
                }
                entries.append((0, Int32(r)))
            }
            guard entries.count > 1 else { return entries.map(\.record) }
            for i in entries.indices {
                let bytes = id(Int(entries[i].record))
                var key: UInt64 = 0
                for n in 0..<8 {
                    key = key << 8 | UInt64(shared + n < bytes.count ? bytes[shared + n] : 0)
                }
                entries[i].key = key
            }
            entries.sort { a, b in
                if a.key != b.key { return a.key < b.key }
                return precedes(id(Int(a.record)), id(Int(b.record)))
            }
            return entries.map(\.record)
        }
    }
}

/// The pieces of a commit's streams, handed out in order to whichever stream asks first.
///
/// A file's key order is worked out by the stream that takes its first piece and dropped once its last piece is
/// taken, so at most a few files' orders are held at a time.
final class PieceQueue: Sendable {
    private let pieces: [GrantStreams.Piece]
    private let intakes: [FileIntake]
    private let taken = Atomic<Int>(0)
    /// By file: its key order once worked out, and how many of its pieces are still to be taken.
    private let orders: [FileOrder]

    init(_ pieces: [GrantStreams.Piece], intakes: [FileIntake]) {
        self.pieces = pieces
        self.intakes = intakes
        var counts = [Int](repeating: 0, count: intakes.count)
        for piece in pieces { counts[piece.file] += 1 }
        orders = counts.map { FileOrder(pieces: $0) }
    }

    /// The next piece's file and records (in key order), or nil when every piece is taken.
    func next() -> (file: Int, records: [Int32])? {
        let index = taken.wrappingAdd(1, ordering: .relaxed).oldValue
        guard index < pieces.count else { return nil }
        let piece = pieces[index]
        let records = orders[piece.file].state.withLock { state -> [Int32] in
            if state.order == nil { state.order = GrantStreams.keyOrder(of: intakes[piece.file]) }
            let records = Array(state.order![piece.rows])
            state.left -= 1
            if state.left == 0 { state.order = [] }
            return records
        }
        return (piece.file, records)
    }

    /// One file's key order, behind its own lock: a stream waits only for the file it needs.
    private final class FileOrder: Sendable {
        let state: Mutex<(order: [Int32]?, left: Int)>

        init(pieces: Int) { state = Mutex((nil, pieces)) }
    }
}

extension IntakeRecord {
    /// Whether the record becomes a `grants` row: every well-formed record but a duplicate, whose key is an earlier
    /// row's.
    var isGrantRow: Bool { !isMalformed && reason != Reason.duplicate.rawValue }
}

extension FileIntake {
    /// The lowest and highest record ID of the file's well-formed records, by bytes; nil when it has none.
    func recordIDRange() -> (low: [UInt8], high: [UInt8])? {
        recordIDs.withUnsafeBytes { ids -> (low: [UInt8], high: [UInt8])? in
            var low: UnsafeRawBufferPointer?
            var high: UnsafeRawBufferPointer?
            for record in records where !record.isMalformed {
                let start = Int(record.recordIDOffset)
                let id = UnsafeRawBufferPointer(rebasing: ids[start..<(start + Int(record.recordIDLength))])
                if let current = low {
                    if precedes(id, current) { low = id }
                    if precedes(high!, id) { high = id }
                } else {
                    low = id
                    high = id
                }
            }
            guard let low, let high else { return nil }
            return (Array(low), Array(high))
        }
    }
}

/// Whether `a` comes before `b` in byte order (a prefix first).
func precedes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    let shared = min(a.count, b.count)
    let order = shared == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, shared)
    return order < 0 || (order == 0 && a.count < b.count)
}
