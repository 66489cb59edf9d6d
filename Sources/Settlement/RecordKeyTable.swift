import Rules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the records of one provider's files whose key (the record ID) appeared earlier in those files, without a
/// `String` or an allocation per record.
///
/// Each key is hashed (64 bits, a word at a time) and its record's position copied, in run order, into the part of
/// an array chosen by the hash's top bits: parts of a few thousand keys. Equal keys have equal hashes, so they meet in
/// the same part, in the order the run has them; each part is then checked on its own with an open-addressing table
/// (`RecordKeyTable`) small enough to stay in the cache, where a big one would miss it on nearly every key.
enum RecordKeys {
    /// A key's hash and its record's position (`Settle.position`).
    struct Entry {
        var hash: UInt64
        var position: UInt64
    }

    /// Keys per part, about: the part's table (16 bytes a slot, at most half full) stays in the second-level cache.
    static let partSize = 4096

    /// The positions of the records of `files` (one provider's, in run order) whose key appeared earlier in them;
    /// records that are malformed or already `DUPLICATE` take no part.
    static func duplicates(in intakes: [FileIntake], files: [Int]) -> [UInt64] {
        var keys = 0
        for f in files { keys += intakes[f].records.count { takesPart($0) } }
        var bits = 0
        while keys >> bits > partSize { bits += 1 }
        let shift = UInt64(64 - bits)
        let partOf = { (hash: UInt64) in bits == 0 ? 0 : Int(hash >> shift) }
        // Pass 1: keys per part; pass 2: each key into its part, in run order.
        // Pass 1: each key's hash, and the keys per part; pass 2: each key into its part, in run order.
        var hashes = [UInt64]()
        hashes.reserveCapacity(keys)
        var starts = [Int](repeating: 0, count: (1 << bits) + 1)
        starts.withUnsafeMutableBufferPointer { starts in
            forEachKey(intakes, files: files) { hash, _ in
                hashes.append(hash)
                starts[partOf(hash) + 1] += 1
            }
            for p in 0..<(1 << bits) { starts[p + 1] += starts[p] }
        }
        var next = starts
        var k = 0
        let entries = [Entry](unsafeUninitializedCapacity: keys) { buffer, initialized in
            let base = buffer.baseAddress!
            next.withUnsafeMutableBufferPointer { next in
                hashes.withUnsafeBufferPointer { hashes in
                    forEachPosition(intakes, files: files) { position in
                        let hash = hashes[k]
                        let p = partOf(hash)
                        (base + next[p]).initialize(to: Entry(hash: hash, position: position))
                        next[p] += 1
                        k += 1
                    }
                }
            }
            initialized = keys
        }
        hashes = []
        var table = RecordKeyTable(capacity: 2 * partSize)
        var duplicates: [UInt64] = []
        entries.withUnsafeBufferPointer { entries in
            for p in 0..<(1 << bits) {
                table.removeAll(keepingCapacityFor: starts[p + 1] - starts[p])
                for entry in entries[starts[p]..<starts[p + 1]] {
                    let seen = table.insert(entry) { a, b in sameRecordID(intakes, a, b) }
                    if seen { duplicates.append(entry.position) }
                }
            }
        }
        return duplicates
    }

    /// Calls `body` with the hash and position of every key of `files`, in run order.
    @inline(__always)
    private static func forEachKey(_ intakes: [FileIntake], files: [Int], _ body: (UInt64, UInt64) -> Void) {
        for f in files {
            intakes[f].recordIDs.withUnsafeBytes { ids in
                intakes[f].records.withUnsafeBufferPointer { records in
                    for (r, record) in records.enumerated() where takesPart(record) {
                        let start = Int(record.recordIDOffset)
                        let id = UnsafeRawBufferPointer(rebasing: ids[start..<(start + Int(record.recordIDLength))])
                        body(hash(id), Settle.position(file: f, record: r))
                    }
                }
            }
        }
    }

    /// Calls `body` with the position of every key of `files`, in run order (as `forEachKey` does).
    @inline(__always)
    private static func forEachPosition(_ intakes: [FileIntake], files: [Int], _ body: (UInt64) -> Void) {
        for f in files {
            intakes[f].records.withUnsafeBufferPointer { records in
                for (r, record) in records.enumerated() where takesPart(record) {
                    body(Settle.position(file: f, record: r))
                }
            }
        }
    }

    /// Whether a record's key is checked: not when it is malformed or already known to be settled.
    @inline(__always)
    private static func takesPart(_ record: IntakeRecord) -> Bool {
        !record.isMalformed && record.reason != Reason.duplicate.rawValue
    }

    /// Whether the records at two positions have the same record ID.
    private static func sameRecordID(_ intakes: [FileIntake], _ a: UInt64, _ b: UInt64) -> Bool {
        let (fa, fb) = (intakes[Int(a >> 32)], intakes[Int(b >> 32)])
        return fa.withRecordID(fa.records[Int(a & 0xFFFF_FFFF)]) { x in
            fb.withRecordID(fb.records[Int(b & 0xFFFF_FFFF)]) { y in
                x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
            }
        }
    }

    /// A 64-bit hash of a record ID, eight bytes at a time; its top bits choose the part, its low bits the slot.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = UInt64(bytes.count) &* multiplier
        let count = bytes.count
        if count > 0, let base = bytes.baseAddress {
            var offset = 0
            while count - offset >= 8 {
                h = mix(h, base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                offset += 8
            }
            if offset < count {
                // The last bytes, as the low bytes of a word read so that it ends where the ID ends (when the ID is
                // long enough), or byte by byte.
                let rest = count - offset
                var word: UInt64 = 0
                if count >= 8 {
                    word = base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) >> UInt64(8 * (8 - rest))
                } else {
                    for i in 0..<rest {
                        word |= UInt64(base.load(fromByteOffset: offset + i, as: UInt8.self)) << (8 * i)
                    }
                }
                h = mix(h, word)
            }
        }
        // Final avalanche (MurmurHash3's), so that the top bits depend on every byte.
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        return h ^ (h >> 33)
    }

    @inline(__always)
    private static func mix(_ h: UInt64, _ word: UInt64) -> UInt64 {
        let x = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
        return x << 31 | x >> 33
    }
}

/// An open-addressing set of record keys, by hash and position, for one part of `RecordKeys`: cleared and refilled
/// part after part, never grown (it is sized for the largest part).
struct RecordKeyTable {
    private var slots: [RecordKeys.Entry]
    private var mask: Int
    private static let empty = RecordKeys.Entry(hash: 0, position: .max)

    /// A table for at most `capacity / 2` keys.
    init(capacity: Int) {
        var size = 16
        while size < capacity { size <<= 1 }
        slots = Array(repeating: Self.empty, count: size)
        mask = size - 1
    }

    /// Empties the table and makes it at least twice as large as `count` keys need.
    mutating func removeAll(keepingCapacityFor count: Int) {
        var size = 16
        while size < 2 * count { size <<= 1 }
        if size > slots.count {
            self = RecordKeyTable(capacity: size)
            return
        }
        // Only the slots a part of this size uses are cleared, so many small parts cost little.
        mask = size - 1
        slots.withUnsafeMutableBufferPointer { slots in
            for i in 0..<size { slots[i] = Self.empty }
        }
    }

    /// Inserts `entry` unless a key equal to it is present; returns true when one was (the entry is a duplicate).
    ///
    /// `same(a, b)` tells whether the keys at positions `a` and `b` are equal; it is asked only when the hashes are.
    @inline(__always)
    mutating func insert(_ entry: RecordKeys.Entry, same: (UInt64, UInt64) -> Bool) -> Bool {
        var index = Int(truncatingIfNeeded: entry.hash) & mask
        while true {
            let slot = slots[index]
            if slot.position == Self.empty.position {
                slots[index] = entry
                return false
            }
            if slot.hash == entry.hash && same(slot.position, entry.position) { return true }
            index = (index + 1) & mask
        }
    }
}
