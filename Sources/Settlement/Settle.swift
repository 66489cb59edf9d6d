import Ledger
import Rules

/// The pure middle of a run: duplicates within the run, then points in the §5 order.
enum Settle {
    /// A position of a record in a run: file index in the high half, record index in the low half.
    @inline(__always)
    static func position(file: Int, record: Int) -> UInt64 { UInt64(file) << 32 | UInt64(record) }

    /// Marks `DUPLICATE` on every record whose key was settled before (the `earlier` positions) or appears
    /// earlier in this run (files in name order, lines in file order). Malformed lines take no part.
    static func markDuplicates(_ intakes: inout [FileIntake], earlier: [UInt64]) {
        let duplicate = Reason.duplicate.rawValue
        for position in earlier {
            intakes[Int(position >> 32)].records[Int(position & 0xFFFF_FFFF)].reason = duplicate
        }
        var expected = 0
        for intake in intakes where intake.verdict == .settle { expected += intake.records.count }
        var table = RecordKeyTable(expected: expected)
        for f in intakes.indices where intakes[f].verdict == .settle {
            let provider = intakes[f].providerIndex
            for r in intakes[f].records.indices {
                let record = intakes[f].records[r]
                if record.isMalformed || record.reason == duplicate { continue }
                let inserted = intakes[f].withRecordID(record) { bytes -> Bool in
                    let hash = RecordKeyTable.hash(provider: provider, recordID: bytes)
                    return table.insert(position: position(file: f, record: r), hash: hash) { other in
                        let of = Int(other >> 32)
                        let otherIntake = intakes[of]
                        guard otherIntake.providerIndex == provider else { return false }
                        let otherRecord = otherIntake.records[Int(other & 0xFFFF_FFFF)]
                        return otherIntake.withRecordID(otherRecord) { $0.elementsEqual(bytes) }
                    }
                }
                if !inserted { intakes[f].records[r].reason = duplicate }
            }
        }
    }

    /// Awards points to the eligible records, holder by holder in the §5 order, after each holder's balance
    /// from earlier runs; returns the holders whose balance changed and their new balances.
    static func awardPoints(
        _ intakes: inout [FileIntake], snapshot: RegistrySnapshot, campaign: Campaign
    ) -> [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)] {
        struct Entry {
            var holder: Int32
            var file: Int32
            var record: Int32
            var occurredAt: Int64
        }
        var entries: [Entry] = []
        for f in intakes.indices where intakes[f].verdict == .settle {
            for (r, record) in intakes[f].records.enumerated() where record.reason == Reason.none.rawValue {
                entries.append(
                    Entry(holder: record.holder, file: Int32(f), record: Int32(r), occurredAt: record.occurredAt))
            }
        }
        entries.sort { a, b in
            if a.holder != b.holder { return a.holder < b.holder }
            if a.occurredAt != b.occurredAt { return a.occurredAt < b.occurredAt }
            let fa = intakes[Int(a.file)]
            let fb = intakes[Int(b.file)]
            if fa.providerIndex != fb.providerIndex { return fa.providerIndex < fb.providerIndex }
            return fa.withRecordID(fa.records[Int(a.record)]) { ra in
                fb.withRecordID(fb.records[Int(b.record)]) { rb in SettlementOrder.compareBytes(ra, rb) < 0 }
            }
        }
        var changed: [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)] = []
        var index = 0
        while index < entries.count {
            let holder = entries[index].holder
            var balance = snapshot.balances[Int(holder)]
            var records = snapshot.eligibleRecords[Int(holder)]
            while index < entries.count && entries[index].holder == holder {
                let entry = entries[index]
                let amount = Int(intakes[Int(entry.file)].records[Int(entry.record)].amount)
                let (points, reason) = Points.award(amount: amount, to: &balance, campaign: campaign)
                intakes[Int(entry.file)].records[Int(entry.record)].points = Int32(points)
                intakes[Int(entry.file)].records[Int(entry.record)].reason = reason.rawValue
                records += 1
                index += 1
            }
            changed.append((holder, balance, records))
        }
        return changed
    }
}
