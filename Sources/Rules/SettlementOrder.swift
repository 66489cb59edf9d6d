/// The order in which a holder's eligible records of one run are settled (settlement spec §5): by `occurred_at` as
/// an instant, then provider ID, then record ID, the IDs in byte order.
///
/// Providers are compared by their index in the run's `RegistrySnapshot`, not by their IDs: the snapshot keeps its
/// providers in byte order of their IDs (`RegistrySnapshot.addProvider` traps on any other order), so comparing
/// indexes is comparing the IDs in byte order, without touching a string.
public enum SettlementOrder {
    /// The part of a record's place in the order known without its record ID.
    public struct Key: Sendable, Equatable {
        /// When the record occurred.
        public var instant: Instant
        /// The record's provider, as its index in the run's snapshot (its rank in byte order of the IDs).
        public var provider: RegistrySnapshot.ProviderIndex

        /// A key from a record's instant and its provider's index.
        @inlinable
        public init(instant: Instant, provider: RegistrySnapshot.ProviderIndex) {
            self.instant = instant
            self.provider = provider
        }
    }

    /// True when the record with key `a` is settled before the record with key `b`.
    ///
    /// `compareRecordIDs` compares the two records' IDs three-way (as `compareBytes(a, b)` does); it is called only
    /// when instant and provider are equal, which is rare, so callers may fetch the IDs there.
    @inlinable
    public static func precedes(_ a: Key, _ b: Key, compareRecordIDs: () -> Int) -> Bool {
        if a.instant != b.instant { return a.instant < b.instant }
        if a.provider != b.provider { return a.provider < b.provider }
        return compareRecordIDs() < 0
    }

    /// Three-way byte comparison: negative, zero or positive as `a` sorts before, with or after `b`.
    @inlinable
    public static func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] {
            return a[i] < b[i] ? -1 : 1
        }
        return a.count - b.count
    }
}
