import Rules
import Synchronization

/// The eligible records of a run in holder order, and the points each is awarded (settlement spec §5).
///
/// Holders are grouped in buckets of consecutive indexes (a power of two of them, so that a bucket holds a few
/// hundred kilobytes of entries). Building the order is two passes over the records, in parallel by file: count each
/// file's eligible records per bucket, then copy each into its bucket's part of one array of entries, which is sized
/// exactly. Each bucket is then settled on its own, in parallel: a counting sort of its entries by holder (its
/// counters and entries stay in the cache), each holder's few entries sorted by `SettlementOrder`, then `Points.award`
/// in that order. The points go back into each entry, and from there into the records, file by file.
///
/// Nothing is allocated per record: the entries, one array of counters per file and one of indexes per worker.
struct PointsOrder {
    /// One eligible record.
    struct Entry {
        /// `occurred_at` in nanoseconds.
        var occurredAt: Int64
        /// The record's file and its index in that file.
        var file: Int32
        var record: Int32
        var holder: RegistrySnapshot.HolderIndex
        var amount: Int32
        /// Points awarded (once settled).
        var points: Int32 = 0
        /// `Reason` raw value (once settled).
        var reason: UInt8 = Reason.none.rawValue
    }

    /// Holder index → bucket: `holder >> shift`.
    let shift: Int
    let bucketCount: Int
    /// The entries, bucket after bucket; within a bucket, file after file, each file's in record order.
    private(set) var entries: [Entry]
    /// Where each file's entries of each bucket are: those of file `f` in bucket `b` are
    /// `entries[starts[f][b] ..< starts[f][b] + counts[f][b]]`.
    private let starts: [[Int]]
    private let counts: [[Int]]
    /// Where each bucket starts in `entries`; one more than buckets.
    private let bucketStarts: [Int]

    /// Gathers the eligible records (reason `none`) of the settled files in bucket order.
    init(_ intakes: [FileIntake], holderCount: Int, workers: Int) {
        // About 4,096 holders a bucket: for a million holders, 245 buckets of about 36,000 entries.
        var bits = 0
        while (holderCount - 1) >> bits >= 4096 { bits += 1 }
        let shift = bits
        self.shift = shift
        bucketCount = max(1, ((holderCount - 1) >> shift) + 1)
        let buckets = bucketCount
        let none = Reason.none.rawValue
        let settled = intakes.indices.filter { intakes[$0].verdict == .settle }
        // Pass 1: each file's eligible records per bucket.
        let counted = Mutex([[Int]](repeating: [], count: intakes.count))
        Parallel.forEach(settled.count, workers: workers) { n in
            let f = settled[n]
            var perBucket = [Int](repeating: 0, count: buckets)
            intakes[f].records.withUnsafeBufferPointer { records in
                for record in records where record.reason == none { perBucket[Int(record.holder) >> shift] += 1 }
            }
            counted.withLock { $0[f] = perBucket }
        }
        counts = counted.withLock { $0 }.map { $0.isEmpty ? [Int](repeating: 0, count: buckets) : $0 }
        // Bucket by bucket, file by file.
        var starts = [[Int]](repeating: [Int](repeating: 0, count: buckets), count: intakes.count)
        var bucketStarts = [Int](repeating: 0, count: buckets + 1)
        var total = 0
        for b in 0..<buckets {
            bucketStarts[b] = total
            for f in intakes.indices {
                starts[f][b] = total
                total += counts[f][b]
            }
        }
        bucketStarts[buckets] = total
        self.starts = starts
        self.bucketStarts = bucketStarts
        let places = starts
        // Pass 2: each file's eligible records into their places; no two files write the same place.
        // Uninitialized: pass 2 writes every entry (the counts are of exactly the records it copies), and the pages
        // are first touched there, by both workers.
        entries = [Entry](unsafeUninitializedCapacity: total) { buffer, initialized in
            let all = SharedBuffer(buffer)
            Parallel.forEach(settled.count, workers: workers) { n in
                let f = settled[n]
                var next = places[f]
                intakes[f].records.withUnsafeBufferPointer { records in
                    for (r, record) in records.enumerated() where record.reason == none {
                        let b = Int(record.holder) >> shift
                        (all.elements.baseAddress! + next[b]).initialize(
                            to: Entry(
                                occurredAt: record.occurredAt, file: Int32(f), record: Int32(r),
                                holder: record.holder, amount: record.amount))
                        next[b] += 1
                    }
                }
            }
            initialized = total
        }
    }

    /// Settles every bucket; returns the holders whose balance changed, by holder.
    ///
    /// Each bucket writes its changed holders into its own part of one array, as long as the fewer of its holders
    /// and its entries; the parts are joined at the end.
    mutating func award(
        _ intakes: [FileIntake], snapshot: RegistrySnapshot, campaign: Campaign, workers: Int
    ) -> [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)] {
        let buckets = bucketCount
        let shift = self.shift
        let bucketStarts = self.bucketStarts
        let providers = intakes.map(\.providerIndex)
        let holders = { @Sendable (b: Int) in min(1 << shift, snapshot.holderCount - (b << shift)) }
        var partStarts = [0]
        for b in 0..<buckets {
            partStarts.append(partStarts[b] + min(holders(b), bucketStarts[b + 1] - bucketStarts[b]))
        }
        let parts = partStarts
        let placeholder = Change(holder: 0, balance: Balance(), records: 0)
        var changes = [Change](repeating: placeholder, count: parts[buckets])
        var used = [Int](repeating: 0, count: buckets)
        entries.withUnsafeMutableBufferPointer { buffer in
            changes.withUnsafeMutableBufferPointer { changes in
                used.withUnsafeMutableBufferPointer { used in
                    let (all, out, counts) = (SharedBuffer(buffer), SharedBuffer(changes), SharedBuffer(used))
                    Parallel.forEach(buckets, workers: workers, state: { BucketScratch() }) { scratch, b in
                        let range = bucketStarts[b]..<bucketStarts[b + 1]
                        counts[b] = Self.settle(
                            UnsafeMutableBufferPointer(rebasing: all.elements[range]), firstHolder: b << shift,
                            holders: holders(b), providers: providers, intakes: intakes, snapshot: snapshot,
                            campaign: campaign, scratch: &scratch,
                            into: UnsafeMutableBufferPointer(rebasing: out.elements[parts[b]..<parts[b + 1]]))
                    }
                }
            }
        }
        var changed: [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)] = []
        changed.reserveCapacity(used.reduce(0, +))
        for b in 0..<buckets {
            for change in changes[parts[b]..<(parts[b] + used[b])] {
                changed.append((change.holder, change.balance, change.records))
            }
        }
        return changed
    }

    /// A holder's new balance.
    struct Change {
        var holder: RegistrySnapshot.HolderIndex
        var balance: Balance
        var records: Int
    }

    /// A worker's counters and indexes, reused from bucket to bucket.
    struct BucketScratch {
        var start: [Int32] = []
        var next: [Int32] = []
        var sorted: [Int32] = []
    }

    /// Settles one bucket's entries in place: sorts them by holder, each holder's in the §5 order, and awards
    /// their points; writes the bucket's holders whose balance changed into `changes` and returns how many.
    private static func settle(
        _ bucket: UnsafeMutableBufferPointer<Entry>, firstHolder: Int, holders: Int, providers: [Int32],
        intakes: [FileIntake], snapshot: RegistrySnapshot, campaign: Campaign, scratch: inout BucketScratch,
        into changes: UnsafeMutableBufferPointer<Change>
    ) -> Int {
        guard !bucket.isEmpty else { return 0 }
        // Counting sort of the entries' indexes by holder.
        scratch.start.removeAll(keepingCapacity: true)
        scratch.start.append(contentsOf: repeatElement(0, count: holders + 1))
        scratch.sorted.removeAll(keepingCapacity: true)
        scratch.sorted.append(contentsOf: repeatElement(0, count: bucket.count))
        var changed = 0
        scratch.start.withUnsafeMutableBufferPointer { start in
            for entry in bucket { start[Int(entry.holder) - firstHolder + 1] += 1 }
            for h in 0..<holders { start[h + 1] += start[h] }
            scratch.next.removeAll(keepingCapacity: true)
            scratch.next.append(contentsOf: start)
            scratch.next.withUnsafeMutableBufferPointer { next in
                scratch.sorted.withUnsafeMutableBufferPointer { sorted in
                    for (i, entry) in bucket.enumerated() {
                        let h = Int(entry.holder) - firstHolder
                        sorted[Int(next[h])] = Int32(i)
                        next[h] += 1
                    }
                    for h in 0..<holders where start[h + 1] > start[h] {
                        let group = UnsafeMutableBufferPointer(rebasing: sorted[Int(start[h])..<Int(start[h + 1])])
                        sortInSettlementOrder(
                            group, bucket: UnsafeBufferPointer(bucket), providers: providers, intakes: intakes)
                        let holder = firstHolder + h
                        var balance = snapshot.balances[holder]
                        var records = snapshot.eligibleRecords[holder]
                        for i in group {
                            let (points, reason) = Points.award(
                                amount: Int(bucket[Int(i)].amount), to: &balance, campaign: campaign)
                            bucket[Int(i)].points = Int32(points)
                            bucket[Int(i)].reason = reason.rawValue
                            records += 1
                        }
                        changes[changed] = Change(
                            holder: RegistrySnapshot.HolderIndex(holder), balance: balance, records: records)
                        changed += 1
                    }
                }
            }
        }
        return changed
    }

    /// Sorts one holder's entries (by their indexes in the bucket) in the §5 order: `SettlementOrder.precedes`.
    ///
    /// No two eligible records of a run have the same key (a repeated key is `DUPLICATE`), so the order is total and
    /// any correct sort gives it. A holder has a few records, so insertion sort; many take a heap sort, which needs
    /// no memory of its own.
    private static func sortInSettlementOrder(
        _ group: UnsafeMutableBufferPointer<Int32>, bucket: UnsafeBufferPointer<Entry>, providers: [Int32],
        intakes: [FileIntake]
    ) {
        guard group.count > 1 else { return }
        @inline(__always) func precedes(_ a: Int32, _ b: Int32) -> Bool {
            let x = bucket[Int(a)]
            let y = bucket[Int(b)]
            return SettlementOrder.precedes(
                SettlementOrder.Key(
                    instant: Instant(nanosecondsSinceEpoch: x.occurredAt), provider: providers[Int(x.file)]),
                SettlementOrder.Key(
                    instant: Instant(nanosecondsSinceEpoch: y.occurredAt), provider: providers[Int(y.file)])
            ) {
                let (fx, fy) = (intakes[Int(x.file)], intakes[Int(y.file)])
                return fx.withRecordID(fx.records[Int(x.record)]) { ix in
                    fy.withRecordID(fy.records[Int(y.record)]) { iy in SettlementOrder.compareBytes(ix, iy) }
                }
            }
        }
        guard group.count <= 32 else {
            heapSort(group, by: precedes)
            return
        }
        for i in 1..<group.count {
            let moving = group[i]
            var j = i
            while j > 0 && precedes(moving, group[j - 1]) {
                group[j] = group[j - 1]
                j -= 1
            }
            group[j] = moving
        }
    }

    /// Sorts `items` in place by `precedes` (a strict total order), in O(n log n) and without allocating.
    private static func heapSort(_ items: UnsafeMutableBufferPointer<Int32>, by precedes: (Int32, Int32) -> Bool) {
        @inline(__always) func siftDown(_ root: Int, _ end: Int) {
            var parent = root
            while true {
                var child = 2 * parent + 1
                guard child < end else { return }
                if child + 1 < end && precedes(items[child], items[child + 1]) { child += 1 }
                guard precedes(items[parent], items[child]) else { return }
                items.swapAt(parent, child)
                parent = child
            }
        }
        for root in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(root, items.count) }
        for end in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(0, end)
            siftDown(0, end)
        }
    }

    /// Writes every entry's points and reason into its record, in parallel by file.
    mutating func write(into intakes: inout [FileIntake], workers: Int) {
        let buckets = bucketCount
        let (starts, counts) = (self.starts, self.counts)
        entries.withUnsafeMutableBufferPointer { entries in
            let all = SharedBuffer(entries)
            intakes.withUnsafeMutableBufferPointer { buffer in
                let files = SharedBuffer(buffer)
                let settled = buffer.indices.filter { buffer[$0].verdict == .settle }
                Parallel.forEach(settled.count, workers: workers) { n in
                    let f = settled[n]
                    files.elements[f].records.withUnsafeMutableBufferPointer { records in
                        for b in 0..<buckets {
                            for entry in all.elements[starts[f][b]..<(starts[f][b] + counts[f][b])] {
                                records[Int(entry.record)].points = entry.points
                                records[Int(entry.record)].reason = entry.reason
                            }
                        }
                    }
                }
            }
        }
    }
}
