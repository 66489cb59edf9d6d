import Dispatch
import Rules
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The pure middle of a run: duplicates within the run, then points in the §5 order.
enum Settle {
    /// A position of a record in a run: file index in the high half, record index in the low half.
    @inline(__always)
    static func position(file: Int, record: Int) -> UInt64 { UInt64(file) << 32 | UInt64(record) }

    /// Marks `DUPLICATE` on every record whose key was settled before (the `earlier` positions) or appears
    /// earlier in this run (files in name order, lines in file order).
    ///
    /// Malformed lines take no part.
    ///
    /// Keys of different providers never collide, so each provider's files are checked on their own, in
    /// parallel over `workers` threads; within a provider, files and lines go in order.
    static func markDuplicates(_ intakes: inout [FileIntake], earlier: [UInt64], workers: Int = 1) {
        let duplicate = Reason.duplicate.rawValue
        for position in earlier {
            intakes[Int(position >> 32)].records[Int(position & 0xFFFF_FFFF)].reason = duplicate
        }
        var groups: [Int32: [Int]] = [:]
        for f in intakes.indices where intakes[f].verdict == .settle {
            groups[intakes[f].providerIndex, default: []].append(f)
        }
        let providerGroups = groups.keys.sorted().map { groups[$0]! }
        let view = intakes
        let found = Mutex<[UInt64]>([])
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, providerGroups.count))) { _ in
            while true {
                let g = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard g < providerGroups.count else { return }
                let duplicates = duplicatesWithinRun(view, files: providerGroups[g])
                found.withLock { $0.append(contentsOf: duplicates) }
            }
        }
        for position in found.withLock({ $0 }) {
            intakes[Int(position >> 32)].records[Int(position & 0xFFFF_FFFF)].reason = duplicate
        }
    }

    /// Positions of the records of one provider's files whose key appeared earlier in those files.
    ///
    /// The table keeps each first-seen key as an offset into a local copy of the key bytes, so no record
    /// is looked up through another file while probing.
    private static func duplicatesWithinRun(_ intakes: [FileIntake], files: [Int]) -> [UInt64] {
        let duplicate = Reason.duplicate.rawValue
        var expected = 0
        for f in files { expected += intakes[f].records.count }
        var table = RecordKeyTable(expected: expected)
        var seen: [UInt8] = []
        seen.reserveCapacity(expected * 16)
        var duplicates: [UInt64] = []
        for f in files {
            let provider = intakes[f].providerIndex
            intakes[f].records.withUnsafeBufferPointer { records in
                intakes[f].recordIDs.withUnsafeBytes { ids in
                    for (r, record) in records.enumerated() {
                        if record.isMalformed || record.reason == duplicate { continue }
                        let start = Int(record.recordIDOffset)
                        let bytes = UnsafeRawBufferPointer(rebasing: ids[start..<(start + Int(record.recordIDLength))])
                        let hash = RecordKeyTable.hash(provider: provider, recordID: bytes)
                        let entry = UInt64(seen.count) << 8 | UInt64(bytes.count)
                        let inserted = seen.withUnsafeBytes { stored in
                            table.insert(entry, hash: hash) { other in
                                let offset = Int(other >> 8)
                                let length = Int(other & 0xFF)
                                return length == bytes.count
                                    && memcmp(stored.baseAddress! + offset, bytes.baseAddress!, length) == 0
                            }
                        }
                        if inserted {
                            seen.append(contentsOf: bytes)
                        } else {
                            duplicates.append(position(file: f, record: r))
                        }
                    }
                }
            }
        }
        return duplicates
    }

    /// Awards points to the eligible records, holder by holder in the §5 order, after each holder's balance
    /// from earlier runs; returns the holders whose balance changed and their new balances.
    static func awardPoints(
        _ intakes: inout [FileIntake], snapshot: RegistrySnapshot, campaign: Campaign, workers: Int = 1
    ) -> [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)] {
        // Eligible records, bucketed by holder range so that buckets are settled independently in parallel.
        let buckets = max(1, min(workers * 4, 64))
        let holdersPerBucket = max(1, (snapshot.holderCount + buckets - 1) / buckets)
        var entries = Array(repeating: [PointsEntry](), count: buckets)
        for f in intakes.indices where intakes[f].verdict == .settle {
            let provider = intakes[f].providerIndex
            for (r, record) in intakes[f].records.enumerated() where record.reason == Reason.none.rawValue {
                entries[Int(record.holder) / holdersPerBucket].append(
                    PointsEntry(
                        holder: record.holder, provider: provider, file: Int32(f), record: Int32(r),
                        occurredAt: record.occurredAt, amount: record.amount))
            }
        }
        let view = intakes
        let bucketed = entries
        let results = Mutex<[(awards: [Award], changed: [(holder: Int32, balance: Balance, records: Int)])]>([])
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, buckets))) { _ in
            while true {
                let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard b < buckets else { return }
                let settled = settleBucket(bucketed[b], intakes: view, snapshot: snapshot, campaign: campaign)
                results.withLock { $0.append(settled) }
            }
        }
        var changed: [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)] = []
        for bucket in results.withLock({ $0 }) {
            for award in bucket.awards {
                intakes[Int(award.file)].records[Int(award.record)].points = award.points
                intakes[Int(award.file)].records[Int(award.record)].reason = award.reason
            }
            changed.append(contentsOf: bucket.changed)
        }
        changed.sort { $0.holder < $1.holder }
        return changed
    }

    /// One eligible record, with everything its place in the order needs but the record ID.
    struct PointsEntry {
        var holder: Int32
        var provider: Int32
        var file: Int32
        var record: Int32
        var occurredAt: Int64
        var amount: Int32

        /// The entry's place in the §5 order, but for its record ID.
        @inline(__always)
        var key: SettlementOrder.Key {
            SettlementOrder.Key(instant: Instant(nanosecondsSinceEpoch: occurredAt), provider: provider)
        }
    }

    /// The points of one record.
    struct Award {
        var file: Int32
        var record: Int32
        var points: Int32
        var reason: UInt8
    }

    /// Sorts one bucket holder by holder, each holder's records in the §5 order (`SettlementOrder`), and awards
    /// their points.
    private static func settleBucket(
        _ bucket: [PointsEntry], intakes: [FileIntake], snapshot: RegistrySnapshot, campaign: Campaign
    ) -> (awards: [Award], changed: [(holder: Int32, balance: Balance, records: Int)]) {
        var entries = bucket
        entries.sort { a, b in
            if a.holder != b.holder { return a.holder < b.holder }
            return SettlementOrder.precedes(a.key, b.key) {
                let ra = intakes[Int(a.file)].records[Int(a.record)]
                let rb = intakes[Int(b.file)].records[Int(b.record)]
                return intakes[Int(a.file)].withRecordID(ra) { ia in
                    intakes[Int(b.file)].withRecordID(rb) { ib in SettlementOrder.compareBytes(ia, ib) }
                }
            }
        }
        var awards: [Award] = []
        awards.reserveCapacity(entries.count)
        var changed: [(holder: Int32, balance: Balance, records: Int)] = []
        var index = 0
        while index < entries.count {
            let holder = entries[index].holder
            var balance = snapshot.balances[Int(holder)]
            var records = snapshot.eligibleRecords[Int(holder)]
            while index < entries.count && entries[index].holder == holder {
                let entry = entries[index]
                let (points, reason) = Points.award(amount: Int(entry.amount), to: &balance, campaign: campaign)
                awards.append(
                    Award(file: entry.file, record: entry.record, points: Int32(points), reason: reason.rawValue))
                records += 1
                index += 1
            }
            changed.append((holder, balance, records))
        }
        return (awards, changed)
    }
}
