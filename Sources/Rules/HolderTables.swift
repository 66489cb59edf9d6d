/// Holder index by database key: a plain array when the keys are dense (identity columns), a dictionary
/// otherwise.
///
/// Most snapshot rows are joined through it, so a lookup is an array read, not a hash.
struct HolderKeyIndex: Sendable {
    private var base: Int64 = 0
    private var dense: [Int32] = []
    private var sparse: [Int64: Int32] = [:]
    private var isDense = false

    init() {}

    /// Prepares for keys in `minimum…maximum` (from the table's bounds) for `count` holders.
    init(minimum: Int64, maximum: Int64, count: Int) {
        let span = maximum &- minimum
        if count > 0, span >= 0, span < Int64(count) * 4 + 4096 {
            base = minimum
            dense = Array(repeating: -1, count: Int(span) + 1)
            isDense = true
        } else {
            sparse.reserveCapacity(count)
        }
    }

    subscript(key: Int64) -> Int32? {
        get {
            if isDense {
                let offset = key &- base
                guard offset >= 0, offset < Int64(dense.count) else { return nil }
                let value = dense[Int(offset)]
                return value < 0 ? nil : value
            }
            return sparse[key]
        }
        set {
            if isDense {
                let offset = key &- base
                if offset >= 0, offset < Int64(dense.count) {
                    dense[Int(offset)] = newValue ?? -1
                    return
                }
                // A key outside the announced bounds: fall back to the dictionary for everything.
                for (i, value) in dense.enumerated() where value >= 0 { sparse[base + Int64(i)] = value }
                dense = []
                isDense = false
            }
            sparse[key] = newValue
        }
    }
}

/// Holder index by MyKey ID (current and former): open addressing over the packed 64-bit IDs with a
/// multiplicative hash — the lookup every record of a run makes.
///
/// Each slot holds the ID and its holder side by side, so a lookup that hits at once reads one cache line.
@usableFromInline
struct MyKeyTable: Sendable {
    @usableFromInline var slots: [Slot]
    @usableFromInline var mask: Int
    @usableFromInline var shift: UInt64
    private(set) var count = 0

    /// A packed MyKey ID (0 for an empty slot: no valid ID packs to 0) and its holder.
    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var key: UInt64
        @usableFromInline var value: Int32

        @usableFromInline
        init(key: UInt64, value: Int32) {
            self.key = key
            self.value = value
        }
    }

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(key: 0, value: -1), count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    @inlinable @inline(__always)
    func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// Makes room for `capacity` keys in all, so that binding that many never grows the table.
    mutating func reserveCapacity(_ capacity: Int) {
        if capacity * 2 > slots.count { grow(to: capacity) }
    }

    /// The holder of `key` (a packed MyKey ID; never 0).
    @inlinable @inline(__always)
    func find(_ key: UInt64) -> Int32? {
        slots.withUnsafeBufferPointer { slots in
            var i = slot(key)
            while true {
                let found = slots[i]
                if found.key == key { return found.value }
                if found.key == 0 { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// The first slot each key's probe reads (one read per key, nothing depending on it, so that the reads overlap).
    @inlinable
    func firstSlots(of keys: UnsafeBufferPointer<UInt64>, into out: UnsafeMutableBufferPointer<Slot>) {
        slots.withUnsafeBufferPointer { slots in
            for (i, key) in keys.enumerated() { out[i] = slots[slot(key)] }
        }
    }

    /// Binds `key` to `value`, replacing an earlier binding.
    mutating func set(_ key: UInt64, _ value: Int32) {
        if (count + 1) * 2 > slots.count { grow(to: slots.count) }
        var i = slot(key)
        while true {
            let k = slots[i].key
            if k == key {
                slots[i].value = value
                return
            }
            if k == 0 {
                slots[i] = Slot(key: key, value: value)
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow(to capacity: Int) {
        var bigger = MyKeyTable(capacity: capacity)
        for slot in slots where slot.key != 0 { bigger.set(slot.key, slot.value) }
        self = bigger
    }
}
