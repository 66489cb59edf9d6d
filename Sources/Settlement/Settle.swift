import Rules
import Synchronization

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
    /// Keys of different providers never collide, so each provider's files are checked on their own
    /// (`RecordKeys`), in parallel over `workers` threads; within a provider, files and lines go in order.
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
        Parallel.forEach(providerGroups.count, workers: workers) { g in
            let duplicates = RecordKeys.duplicates(in: view, files: providerGroups[g])
            found.withLock { $0.append(contentsOf: duplicates) }
        }
        for position in found.withLock({ $0 }) {
            intakes[Int(position >> 32)].records[Int(position & 0xFFFF_FFFF)].reason = duplicate
        }
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
