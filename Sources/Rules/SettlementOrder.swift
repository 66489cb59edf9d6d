/// The order in which a holder's eligible records of one run are settled (settlement spec §5):
/// by instant, then provider ID, then record ID, strings in byte order.
public enum SettlementOrder {
    /// Three-way byte comparison: negative, zero or positive as `a` sorts before, with or after `b`.
    @inlinable
    public static func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] {
            return a[i] < b[i] ? -1 : 1
        }
        return a.count - b.count
    }

    /// True when the record (`instant`, `provider`, `record`) is settled before the other one.
    @inlinable
    public static func precedes(
        _ instant: Instant, _ provider: UnsafeRawBufferPointer, _ record: UnsafeRawBufferPointer,
        _ otherInstant: Instant, _ otherProvider: UnsafeRawBufferPointer, _ otherRecord: UnsafeRawBufferPointer
    ) -> Bool {
        if instant != otherInstant { return instant < otherInstant }
        let byProvider = compareBytes(provider, otherProvider)
        if byProvider != 0 { return byProvider < 0 }
        return compareBytes(record, otherRecord) < 0
    }
}
