/// An open-addressing set of record keys `(provider, record_id)` over records held elsewhere, for finding
/// duplicates within a run without a `String` or allocation per record.
///
/// Entries are `(file, record)` positions; keys are compared through the caller's byte accessor.
struct RecordKeyTable {
    private var slots: [UInt64]
    private var hashes: [UInt32]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(expected: Int) {
        // At most 70 % full: sizes stay a power of two without doubling the memory of large runs.
        var capacity = 16
        while capacity * 7 < expected * 10 { capacity <<= 1 }
        slots = Array(repeating: Self.empty, count: capacity)
        hashes = Array(repeating: 0, count: capacity)
        mask = capacity - 1
    }

    /// FNV-1a of the provider and the record ID's bytes.
    @inline(__always)
    static func hash(provider: Int32, recordID: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(UInt32(bitPattern: provider))
        h = h &* 0x100_0000_01b3
        for b in recordID {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h ^ (h >> 29)
    }

    /// Inserts the key at `position` unless an equal key is present; returns false for a duplicate.
    ///
    /// `equals(other)` tells whether the entry at `other` has the same key.
    mutating func insert(position: UInt64, hash: UInt64, equals: (UInt64) -> Bool) -> Bool {
        if count * 10 >= slots.count * 7 { grow(equals: equals) }
        let short = UInt32(truncatingIfNeeded: hash >> 32)
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot == Self.empty {
                slots[index] = position
                hashes[index] = short
                count += 1
                return true
            }
            if hashes[index] == short && equals(slot) { return false }
            index = (index + 1) & mask
        }
    }

    private mutating func grow(equals: (UInt64) -> Bool) {
        // Sizes are chosen up front from the run's record count, so growing is a fallback: keys already
        // stored are all distinct, so reinserting needs no comparison, only their full hashes, which the
        // table does not keep; callers size the table to avoid this path.
        preconditionFailure("RecordKeyTable sized too small")
    }
}
