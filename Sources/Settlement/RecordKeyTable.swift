/// An open-addressing set of record keys `(provider, record_id)` whose bytes are held elsewhere, for finding
/// duplicates within a run without a `String` or allocation per record.
///
/// The table stores, per slot, an entry the caller chooses (any 64-bit value but `UInt64.max`; `Settle` uses the
/// key's offset and length in its own copy of the key bytes) and the upper half of the key's hash. Keys are compared
/// only through the caller's `equals`, and only when those 32 hash bits match.
///
/// The table is sized once for the keys it will hold and never grows.
struct RecordKeyTable {
    private var slots: [UInt64]
    private var hashes: [UInt32]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    /// A table for at most `expected` keys.
    init(expected: Int) {
        // At most 70 % full with `expected` keys: sizes stay a power of two without doubling the memory of large runs.
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

    /// Inserts `entry`, the key with `hash`, unless an equal key is present; returns false for a duplicate.
    ///
    /// `equals(other)` tells whether the stored entry `other` has the same key. Inserting more keys than the table
    /// was sized for is a programmer error: the table would have to grow, and it keeps no full hashes to rehash with.
    mutating func insert(_ entry: UInt64, hash: UInt64, equals: (UInt64) -> Bool) -> Bool {
        precondition(count * 10 < slots.count * 7, "RecordKeyTable sized too small")
        let short = UInt32(truncatingIfNeeded: hash >> 32)
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot == Self.empty {
                slots[index] = entry
                hashes[index] = short
                count += 1
                return true
            }
            if hashes[index] == short && equals(slot) { return false }
            index = (index + 1) & mask
        }
    }
}
