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
    /// from earlier runs; returns the holders whose balance changed and their new balances, by holder.
    ///
    /// The eligible records are put in holder order by a counting sort (`PointsOrder`), not compared: a holder
    /// index is a dense integer. Only each holder's few records are then compared, by `SettlementOrder`.
    static func awardPoints(
        _ intakes: inout [FileIntake], snapshot: RegistrySnapshot, campaign: Campaign, workers: Int = 1
    ) -> [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)] {
        var order = PointsOrder(intakes, holderCount: snapshot.holderCount, workers: workers)
        let changed = order.award(intakes, snapshot: snapshot, campaign: campaign, workers: workers)
        order.write(into: &intakes, workers: workers)
        return changed
    }
}
