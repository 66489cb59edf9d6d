/// The registry as a settlement run sees it: every provider, holder, MyKey ID, application, certificate and balance,
/// read once when the run starts (settlement spec §4: statuses as they stand when the run starts).
///
/// Holders are addressed by a dense index (`HolderIndex`). What the §4 checks read of a holder is kept in one row
/// (`HolderRow`), so checking a record touches the MyKey ID table's slot, the holder's row and its certificates: a
/// few cache lines and no allocation.
///
/// A snapshot is built in memory, one fact at a time, through one API — `addProvider`, `reserveHolders`, `addHolder`,
/// `setStatus`, `bind`, `setApplication`, `setBalance`, `addCertificates`, `addSettledFile` — whoever builds it: the
/// ledger from the database, tests and benchmarks from values.
///
/// Provider order: `providers` is always in byte order of the provider IDs (`addProvider` traps on any other order),
/// so a provider's index is its rank in that order: `providerIndex(a) < providerIndex(b)` exactly when `a < b`. The
/// settlement order (`SettlementOrder`) compares providers by index and relies on this.
public struct RegistrySnapshot: Sendable {
    /// A dense index into the snapshot's holder columns.
    public typealias HolderIndex = Int32
    /// A provider's index in `providers`: its rank in byte order of the provider IDs.
    public typealias ProviderIndex = Int32

    /// Registered providers, in byte order of their IDs (the settlement order's provider rank).
    public private(set) var providers: [ProviderID] = []
    /// The database key of each provider, parallel to `providers`.
    public private(set) var providerKeys: [Int32] = []
    private var providerIndexByID: [ProviderID: ProviderIndex] = [:]

    /// Each holder's database key.
    public private(set) var holderKeys: [Int64] = []
    /// Each holder's current MyKey ID.
    public private(set) var currentMyKeys: [MyKeyID?] = []
    /// What the §4 checks read of each holder.
    @usableFromInline var rows: [HolderRow] = []
    /// Each holder's balance from earlier runs.
    public private(set) var balances: [Balance] = []
    /// Each holder's number of settled eligible records from earlier runs.
    public private(set) var eligibleRecords: [Int] = []
    /// Every holder's certificates, grouped by holder in holder order (each row says where its group lies).
    @usableFromInline var certificates: [CertificateValidity] = []
    private var holderIndexByKey = HolderKeyIndex()
    @usableFromInline var holderIndexByMyKey = MyKeyTable()

    /// Names and SHA-256 digests of every file settled before, for `ALREADY_SETTLED` and `NAME_REUSED`.
    public private(set) var settledFiles: [String: [UInt8]] = [:]

    /// An empty snapshot: no provider, no holder, no settled file.
    public init() {}

    /// Number of holders.
    public var holderCount: Int { holderKeys.count }

    /// Each holder's status (a copy, O(holders)).
    public var statuses: [HolderStatus] { rows.map(\.status) }
    /// Each holder's applied provider (an index into `providers`), or -1 when the holder has not applied (a copy,
    /// O(holders)).
    public var applicationProviders: [ProviderIndex] { rows.map(\.applicationProvider) }
    /// Each holder's application instant, meaningful only when applied (a copy, O(holders)).
    public var appliedAt: [Instant] { rows.map { Instant(nanosecondsSinceEpoch: $0.appliedAt) } }

    // MARK: Building

    /// Adds a provider and returns its index; providers must be added in strictly increasing byte order of their
    /// IDs, which keeps index order and ID order the same (a programmer error otherwise: it traps).
    @discardableResult
    public mutating func addProvider(_ id: ProviderID, key: Int32) -> ProviderIndex {
        precondition(providers.last.map { $0 < id } ?? true, "providers must be added in byte order of their IDs")
        let index = ProviderIndex(providers.count)
        providerIndexByID[id] = index
        providers.append(id)
        providerKeys.append(key)
        return index
    }

    /// Prepares for `count` holders whose keys lie in `keys`, before the first is added: the columns are allocated
    /// once, and dense keys (identity columns) are then found by an array read instead of a hash.
    public mutating func reserveHolders(_ count: Int, keys: ClosedRange<Int64>) {
        precondition(holderKeys.isEmpty, "holders are reserved before the first is added")
        holderIndexByKey = HolderKeyIndex(minimum: keys.lowerBound, maximum: keys.upperBound, count: count)
        holderKeys.reserveCapacity(count)
        currentMyKeys.reserveCapacity(count)
        rows.reserveCapacity(count)
        balances.reserveCapacity(count)
        eligibleRecords.reserveCapacity(count)
    }

    /// Prepares the MyKey ID table for `count` IDs (current and former) in all.
    public mutating func reserveMyKeys(_ count: Int) {
        holderIndexByMyKey.reserveCapacity(count)
    }

    /// Adds a holder by its database key, with no MyKey ID, application, certificate or earlier balance yet; returns
    /// its index.
    ///
    /// Each key is added once.
    @discardableResult
    public mutating func addHolder(key: Int64, status: HolderStatus) -> HolderIndex {
        precondition(holderIndexByKey[key] == nil, "a holder key is added once")
        let index = HolderIndex(holderKeys.count)
        holderKeys.append(key)
        currentMyKeys.append(nil)
        let end = Int32(certificates.count)
        rows.append(
            HolderRow(
                firstCertificate: CertificateValidity(notBefore: .distantPast, notAfter: .distantPast), status: status,
                certificateStart: end, certificateEnd: end, applicationProvider: -1,
                appliedAt: Instant.distantFuture.nanosecondsSinceEpoch))
        balances.append(Balance())
        eligibleRecords.append(0)
        holderIndexByKey[key] = index
        return index
    }

    /// Changes a holder's status (a builder that adds every holder as active, then reads only the others).
    public mutating func setStatus(of holder: HolderIndex, _ status: HolderStatus) {
        precondition(holder >= 0 && Int(holder) < holderCount, "no such holder")
        rows[Int(holder)].status = status
    }

    /// Binds a MyKey ID the holder has or ever had; `isCurrent` marks the one it has now.
    public mutating func bind(_ myKey: MyKeyID, to holder: HolderIndex, isCurrent: Bool) {
        precondition(holder >= 0 && Int(holder) < holderCount, "no such holder")
        holderIndexByMyKey.set(myKey.rawValue, holder)
        if isCurrent { currentMyKeys[Int(holder)] = myKey }
    }

    /// Records the holder's application: the provider it chose and when.
    public mutating func setApplication(of holder: HolderIndex, provider: ProviderIndex, at instant: Instant) {
        precondition(provider >= 0 && Int(provider) < providers.count, "no such provider")
        rows[Int(holder)].applicationProvider = provider
        rows[Int(holder)].appliedAt = instant.nanosecondsSinceEpoch
    }

    /// Records what the holder received in earlier runs: its balance and its number of settled eligible records.
    public mutating func setBalance(of holder: HolderIndex, _ balance: Balance, eligibleRecords records: Int) {
        balances[Int(holder)] = balance
        eligibleRecords[Int(holder)] = records
    }

    /// Adds certificates to their holders, after the ones each holder already has, in the order given.
    ///
    /// Certificates are kept grouped by holder in one array: adding to the last holder appends, anything else
    /// regroups all of them (a counting sort), so add them in one call, or holder by holder as holders are added.
    /// - Complexity: O(c) for c added to the last holder; otherwise O(holders + certificates).
    public mutating func addCertificates(_ added: [(holder: HolderIndex, validity: CertificateValidity)]) {
        let last = HolderIndex(holderCount - 1)
        if last >= 0 && added.allSatisfy({ $0.holder == last }) {
            certificates.append(contentsOf: added.lazy.map(\.validity))
            rows[Int(last)].certificateEnd = Int32(certificates.count)
            refreshFirstCertificate(of: Int(last))
            return
        }
        var start = Array(repeating: Int32(0), count: holderCount + 1)
        for h in 0..<holderCount { start[h + 1] = rows[h].certificateEnd - rows[h].certificateStart }
        for (holder, _) in added {
            precondition(holder >= 0 && holder <= last, "no such holder")
            start[Int(holder) + 1] += 1
        }
        for h in 0..<holderCount { start[h + 1] += start[h] }
        var next = start
        var grouped = [CertificateValidity](
            repeating: CertificateValidity(notBefore: .distantPast, notAfter: .distantPast),
            count: certificates.count + added.count)
        for h in 0..<holderCount {
            for validity in certificates[Int(rows[h].certificateStart)..<Int(rows[h].certificateEnd)] {
                grouped[Int(next[h])] = validity
                next[h] += 1
            }
        }
        for (holder, validity) in added {
            grouped[Int(next[Int(holder)])] = validity
            next[Int(holder)] += 1
        }
        certificates = grouped
        for h in 0..<holderCount {
            rows[h].certificateStart = start[h]
            rows[h].certificateEnd = start[h + 1]
            refreshFirstCertificate(of: h)
        }
    }

    /// Copies the holder's first certificate into its row.
    private mutating func refreshFirstCertificate(of h: Int) {
        let row = rows[h]
        if row.certificateEnd > row.certificateStart {
            rows[h].firstCertificate = certificates[Int(row.certificateStart)]
        }
    }

    /// Records a file settled before, by name and SHA-256 digest.
    public mutating func addSettledFile(_ name: String, sha256: [UInt8]) {
        settledFiles[name] = sha256
    }

    // MARK: Reading

    /// The index of a registered provider, or nil.
    public func providerIndex(_ id: ProviderID) -> ProviderIndex? { providerIndexByID[id] }

    /// The holder with a database key.
    public func holder(key: Int64) -> HolderIndex? { holderIndexByKey[key] }

    /// The holder that has or ever had `myKey`.
    @inlinable
    public func holder(myKey: MyKeyID) -> HolderIndex? { holderIndexByMyKey.find(myKey.rawValue) }

    /// The holder that has or ever had the MyKey ID packed as `rawValue` (a valid `MyKeyID.rawValue`).
    @inlinable
    public func holder(myKeyRawValue rawValue: UInt64) -> HolderIndex? { holderIndexByMyKey.find(rawValue) }

    /// The certificates of a holder.
    public func certificates(of holder: HolderIndex) -> ArraySlice<CertificateValidity> {
        let row = rows[Int(holder)]
        return certificates[Int(row.certificateStart)..<Int(row.certificateEnd)]
    }

    /// The eligibility reason (§4 checks 3–10) of a record of `provider` at `occurredAt` under `myKey`, with the
    /// holder that has or ever had `myKey` (nil for none).
    ///
    /// - Complexity: one hash lookup, then O(c) in the holder's number of certificates.
    @inlinable
    public func eligibility(
        myKey: MyKeyID, provider: ProviderIndex, occurredAt: Instant, campaign: Campaign
    ) -> (holder: HolderIndex?, reason: Reason) {
        let holder = holder(myKey: myKey)
        return (holder, eligibility(of: holder, provider: provider, occurredAt: occurredAt, campaign: campaign))
    }

    /// The eligibility reason (§4 checks 3–10) of a record of `provider` at `occurredAt` whose MyKey ID belongs to
    /// `holder` (nil for none), the holder found beforehand.
    ///
    /// - Complexity: O(c) in the holder's number of certificates.
    @inlinable
    public func eligibility(
        of holder: HolderIndex?, provider: ProviderIndex, occurredAt: Instant, campaign: Campaign
    ) -> Reason {
        guard let holder else {
            return Eligibility.check(
                occurredAt: occurredAt, provider: provider, holderStatus: nil, application: nil,
                certificates: EmptyCollection(), campaign: campaign)
        }
        return certificates.withUnsafeBufferPointer { all in
            Self.check(rows[Int(holder)], all: all, provider: provider, at: occurredAt, campaign: campaign)
        }
    }
}

extension RegistrySnapshot {
    /// Records checked together by `eligibility(myKeys:occurredAt:provider:campaign:holders:reasons:)`: enough for
    /// the cache misses of a block to overlap, few enough for the block's rows to stay in the first-level cache.
    @usableFromInline static let eligibilityBlock = 64

    /// The holders and eligibility reasons (§4 checks 3–10) of many records of one provider, exactly as
    /// `eligibility(myKey:provider:occurredAt:campaign:)` gives them one by one: for record `i`, with the packed MyKey
    /// ID `myKeys[i]` (a valid `MyKeyID.rawValue`) and `occurred_at` `occurredAt[i]` in nanoseconds, `holders[i]` is
    /// its holder or -1 and `reasons[i]` its reason.
    ///
    /// The records are taken a block at a time: first the block's MyKey ID slots are read, then its holders' rows,
    /// then the checks run on what was read. Reading a block's slots or rows one after another, with nothing depending
    /// on them in between, keeps their cache misses in flight together instead of one record's after another's. What
    /// a block reads is kept in `scratch`, which a caller reuses from call to call.
    ///
    /// - Complexity: O(n) lookups, then O(c) per record in its holder's number of certificates.
    public func eligibility(
        myKeys: UnsafeBufferPointer<UInt64>, occurredAt: UnsafeBufferPointer<Int64>, provider: ProviderIndex,
        campaign: Campaign, holders: UnsafeMutableBufferPointer<HolderIndex>,
        reasons: UnsafeMutableBufferPointer<Reason>,
        scratch: inout EligibilityScratch
    ) {
        precondition(
            occurredAt.count == myKeys.count && holders.count == myKeys.count && reasons.count == myKeys.count,
            "one entry per record in every buffer")
        let block = Self.eligibilityBlock
        scratch.slots.withUnsafeMutableBufferPointer { slots in
            scratch.rows.withUnsafeMutableBufferPointer { found in
                rows.withUnsafeBufferPointer { rows in
                    certificates.withUnsafeBufferPointer { all in
                        var start = 0
                        while start < myKeys.count {
                            let count = min(block, myKeys.count - start)
                            holderIndexByMyKey.firstSlots(
                                of: UnsafeBufferPointer(rebasing: myKeys[start..<(start + count)]), into: slots)
                            for i in 0..<count {
                                let key = myKeys[start + i]
                                let slot = slots[i]
                                holders[start + i] =
                                    slot.key == key
                                    ? slot.value : slot.key == 0 ? -1 : holderIndexByMyKey.find(key) ?? -1
                            }
                            for i in 0..<count {
                                let holder = holders[start + i]
                                if holder >= 0 { found[i] = rows[Int(holder)] }
                            }
                            for i in 0..<count {
                                let instant = Instant(nanosecondsSinceEpoch: occurredAt[start + i])
                                reasons[start + i] =
                                    holders[start + i] < 0
                                    ? Eligibility.check(
                                        occurredAt: instant, provider: provider, holderStatus: nil, application: nil,
                                        certificates: EmptyCollection(), campaign: campaign)
                                    : Self.check(
                                        found[i], all: all, provider: provider, at: instant, campaign: campaign)
                            }
                            start += count
                        }
                    }
                }
            }
        }
    }

    /// The §4 checks 4–10 of a record against its holder's row.
    @inlinable @inline(__always)
    static func check(
        _ row: HolderRow, all: UnsafeBufferPointer<CertificateValidity>, provider: ProviderIndex, at instant: Instant,
        campaign: Campaign
    ) -> Reason {
        Eligibility.check(
            occurredAt: instant, provider: provider, holderStatus: row.status,
            application: row.applicationProvider < 0
                ? nil : (provider: row.applicationProvider, at: Instant(nanosecondsSinceEpoch: row.appliedAt)),
            certificates: HolderCertificates(row: row, all: all), campaign: campaign)
    }
}

/// Where `RegistrySnapshot.eligibility(myKeys:occurredAt:provider:campaign:holders:reasons:scratch:)` keeps what a
/// block of records reads: one per thread, reused from call to call, so that no call allocates.
public struct EligibilityScratch: Sendable {
    @usableFromInline var slots: [MyKeyTable.Slot]
    @usableFromInline var rows: [HolderRow]

    /// Scratch for any number of calls.
    public init() {
        slots = Array(repeating: MyKeyTable.Slot(key: 0, value: -1), count: RegistrySnapshot.eligibilityBlock)
        rows = Array(
            repeating: HolderRow(
                firstCertificate: CertificateValidity(notBefore: .distantPast, notAfter: .distantPast),
                status: .active, certificateStart: 0, certificateEnd: 0, applicationProvider: -1, appliedAt: 0),
            count: RegistrySnapshot.eligibilityBlock)
    }
}

/// A holder's certificates in their order: the first from the holder's row, the others from the snapshot's
/// `certificates`, which are read only when the holder has more than one.
@usableFromInline
struct HolderCertificates: Sequence, IteratorProtocol {
    @usableFromInline let first: CertificateValidity
    @usableFromInline let all: UnsafeBufferPointer<CertificateValidity>
    @usableFromInline let start: Int
    @usableFromInline let end: Int
    @usableFromInline var index: Int

    @inlinable
    init(row: HolderRow, all: UnsafeBufferPointer<CertificateValidity>) {
        first = row.firstCertificate
        self.all = all
        start = Int(row.certificateStart)
        end = Int(row.certificateEnd)
        index = start
    }

    @inlinable
    mutating func next() -> CertificateValidity? {
        guard index < end else { return nil }
        defer { index += 1 }
        return index == start ? first : all[index]
    }
}

/// What the §4 checks read of one holder, in one row of 48 bytes with its first certificate: for most holders,
/// checking a record reads the MyKey ID table's slot and this row, nothing else.
@usableFromInline
struct HolderRow: Sendable {
    /// The first of the holder's certificates (meaningful when it has any).
    @usableFromInline var firstCertificate: CertificateValidity
    /// The holder's status.
    @usableFromInline var status: HolderStatus
    /// Where the holder's certificates start in the snapshot's `certificates`.
    @usableFromInline var certificateStart: Int32
    /// Where they end.
    @usableFromInline var certificateEnd: Int32
    /// The applied provider, or -1.
    @usableFromInline var applicationProvider: RegistrySnapshot.ProviderIndex
    /// The application instant in nanoseconds (meaningful only when applied).
    @usableFromInline var appliedAt: Int64

    @usableFromInline
    init(
        firstCertificate: CertificateValidity, status: HolderStatus, certificateStart: Int32, certificateEnd: Int32,
        applicationProvider: RegistrySnapshot.ProviderIndex, appliedAt: Int64
    ) {
        self.firstCertificate = firstCertificate
        self.status = status
        self.certificateStart = certificateStart
        self.certificateEnd = certificateEnd
        self.applicationProvider = applicationProvider
        self.appliedAt = appliedAt
    }
}
