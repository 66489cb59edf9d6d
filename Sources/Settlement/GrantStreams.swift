import Foundation
import Ledger
import Rules

/// A run's grant rows cut into streams of nearly equal length, each a run of files and lines in their order, so
/// that every stream writes keys of its own files close together.
struct GrantStreams {
    /// A range of one file's records.
    struct Slice: Sendable, Equatable {
        /// The file's index among the run's intakes.
        var file: Int
        /// Its records in the stream.
        var records: Range<Int>
    }

    /// Each stream's slices; empty when the run has no grant rows.
    var streams: [[Slice]]

    /// Cuts the grant rows of `intakes` into at most `count` streams whose lengths differ by at most one row.
    init(_ intakes: [FileIntake], count: Int) {
        var rows = [Int](repeating: 0, count: intakes.count)
        for (f, intake) in intakes.enumerated() where intake.verdict == .settle {
            rows[f] = intake.records.reduce(0) { $0 + ($1.isGrantRow ? 1 : 0) }
        }
        let total = rows.reduce(0, +)
        let parts = min(max(count, 1), total)
        streams = Array(repeating: [], count: parts)
        guard parts > 0 else { return }
        var part = 0
        var assigned = 0
        for f in intakes.indices where rows[f] > 0 {
            var start = 0
            var remaining = rows[f]
            while remaining > 0 {
                let room = (part + 1) * total / parts - assigned
                if remaining <= room {
                    streams[part].append(Slice(file: f, records: start..<intakes[f].records.count))
                    assigned += remaining
                    remaining = 0
                    if assigned == (part + 1) * total / parts && part < parts - 1 { part += 1 }
                } else {
                    var end = start
                    var taken = 0
                    while taken < room {
                        if intakes[f].records[end].isGrantRow { taken += 1 }
                        end += 1
                    }
                    streams[part].append(Slice(file: f, records: start..<end))
                    assigned += room
                    remaining -= room
                    start = end
                    part += 1
                }
            }
        }
    }

    /// The streams as rows for the ledger: each record of a slice that is a grant row, with its file's index among
    /// the run's registrations (`registered`), a slice's rows in the order of their record IDs' bytes.
    ///
    /// A file belongs to one provider, so a slice in record-ID order is a run of ascending keys of the primary key
    /// `(provider_key, record_id)`: the index grows at one place instead of being split all over, which halves the
    /// server's work per row.
    func rows(_ intakes: [FileIntake], snapshot: RegistrySnapshot, registered: [Int]) -> [GrantRows] {
        streams.map { slices in
            { emit in
                for slice in slices {
                    let intake = intakes[slice.file]
                    let providerKey = snapshot.providerKeys[Int(intake.providerIndex)]
                    for r in Self.keyOrder(of: slice, in: intake) {
                        let record = intake.records[r]
                        let row = GrantRow(
                            providerKey: providerKey,
                            holderKey: record.holder >= 0 ? snapshot.holderKeys[Int(record.holder)] : nil,
                            file: registered[slice.file], line: Int32(r + 1), occurredAt: record.occurredAt,
                            amount: record.amount, points: record.points,
                            reason: Reason(rawValue: record.reason) ?? .malformed)
                        try intake.withRecordID(record) { try emit(row, $0) }
                        if r == intake.records.count / 2 { CrashPoint.reach("grants-copy") }
                    }
                }
            }
        }
    }

    /// The slice's grant rows (record indices), in the byte order of their record IDs.
    ///
    /// Sorted by an 8-byte key: the bytes after the prefix every ID of the slice shares (a provider's IDs often
    /// share a long one), big-endian, zero-padded (no ID holds a zero byte, so a shorter ID sorts first); IDs whose
    /// keys tie are compared whole.
    static func keyOrder(of slice: Slice, in intake: FileIntake) -> [Int] {
        let records = intake.records
        return intake.recordIDs.withUnsafeBytes { ids -> [Int] in
            func id(_ r: Int) -> UnsafeRawBufferPointer {
                let start = Int(records[r].recordIDOffset)
                return UnsafeRawBufferPointer(rebasing: ids[start..<(start + Int(records[r].recordIDLength))])
            }
            var entries: [(key: UInt64, record: Int32)] = []
            entries.reserveCapacity(slice.records.count)
            var shared = Int.max
            var first: UnsafeRawBufferPointer?
            for r in slice.records where records[r].isGrantRow {
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
            guard entries.count > 1 else { return entries.map { Int($0.record) } }
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
            return entries.map { Int($0.record) }
        }
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
