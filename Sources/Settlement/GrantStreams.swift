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
    /// the run's registrations (`registered`).
    func rows(_ intakes: [FileIntake], snapshot: RegistrySnapshot, registered: [Int]) -> [GrantRows] {
        streams.map { slices in
            { emit in
                for slice in slices {
                    let intake = intakes[slice.file]
                    let providerKey = snapshot.providerKeys[Int(intake.providerIndex)]
                    for r in slice.records where intake.records[r].isGrantRow {
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
}

extension IntakeRecord {
    /// Whether the record becomes a `grants` row: every well-formed record but a duplicate, whose key is an earlier
    /// row's.
    var isGrantRow: Bool { !isMalformed && reason != Reason.duplicate.rawValue }
}
