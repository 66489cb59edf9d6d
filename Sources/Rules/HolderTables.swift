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
struct MyKeyTable: Sendable {
    private var keys: [UInt64]
    private var values: [Int32]
    private var mask: Int
    private var shift: UInt64
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: -1, count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// Makes room for `capacity` keys in all, so that binding that many never grows the table.
    mutating func reserveCapacity(_ capacity: Int) {
        if capacity * 2 > keys.count { grow(to: capacity) }
    }

    /// The holder of `key` (a packed MyKey ID; never 0).
    @inline(__always)
    func find(_ key: UInt64) -> Int32? {
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// Binds `key` to `value`, replacing an earlier binding.
    mutating func set(_ key: UInt64, _ value: Int32) {
        if (count + 1) * 2 > keys.count { grow(to: keys.count) }
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key {
                values[i] = value
                return
            }
            if k == 0 {
                keys[i] = key
                values[i] = value
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow(to capacity: Int) {
        var bigger = MyKeyTable(capacity: capacity)
        for (k, v) in zip(keys, values) where k != 0 { bigger.set(k, v) }
        self = bigger
    }
}
