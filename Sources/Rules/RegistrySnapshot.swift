/// The registry as a settlement run sees it: every provider, holder, MyKey ID, application, certificate and balance,
/// read once when the run starts (settlement spec §4: statuses as they stand when the run starts).
///
/// Holders are addressed by a dense index (`HolderIndex`), their columns kept in parallel arrays so a lookup touches
/// a few cache lines and no allocation.
///
/// A snapshot is built in memory, one fact at a time, through one API — `addProvider`, `reserveHolders`, `addHolder`,
/// `bind`, `setApplication`, `setBalance`, `addCertificates`, `addSettledFile` — whoever builds it: the ledger from
/// the database, tests and benchmarks from values.
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
    /// Each holder's status.
    public private(set) var statuses: [HolderStatus] = []
    /// Each holder's applied provider (an index into `providers`), or -1 when the holder has not applied.
    public private(set) var applicationProviders: [ProviderIndex] = []
    /// Each holder's application instant (meaningful only when applied).
    public private(set) var appliedAt: [Instant] = []
    /// Each holder's balance from earlier runs.
    public private(set) var balances: [Balance] = []
    /// Each holder's number of settled eligible records from earlier runs.
    public private(set) var eligibleRecords: [Int] = []
    /// Where each holder's certificates start in `certificates`; one more entry than holders.
    private var certificateStart: [Int32] = [0]
    private var certificates: [CertificateValidity] = []
    private var holderIndexByKey = HolderKeyIndex()
    private var holderIndexByMyKey = MyKeyTable()

    /// Names and SHA-256 digests of every file settled before, for `ALREADY_SETTLED` and `NAME_REUSED`.
    public private(set) var settledFiles: [String: [UInt8]] = [:]

    /// An empty snapshot: no provider, no holder, no settled file.
    public init() {}

    /// Number of holders.
    public var holderCount: Int { holderKeys.count }

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
        statuses.reserveCapacity(count)
        applicationProviders.reserveCapacity(count)
        appliedAt.reserveCapacity(count)
        balances.reserveCapacity(count)
        eligibleRecords.reserveCapacity(count)
        certificateStart.reserveCapacity(count + 1)
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
        statuses.append(status)
        applicationProviders.append(-1)
        appliedAt.append(.distantFuture)
        balances.append(Balance())
        eligibleRecords.append(0)
        certificateStart.append(Int32(certificates.count))
        holderIndexByKey[key] = index
        return index
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
        applicationProviders[Int(holder)] = provider
        appliedAt[Int(holder)] = instant
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
            certificateStart[Int(last) + 1] = Int32(certificates.count)
            return
        }
        var start = Array(repeating: Int32(0), count: holderCount + 1)
        for h in 0..<holderCount { start[h + 1] = certificateStart[h + 1] - certificateStart[h] }
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
            for validity in certificates[Int(certificateStart[h])..<Int(certificateStart[h + 1])] {
                grouped[Int(next[h])] = validity
                next[h] += 1
            }
        }
        for (holder, validity) in added {
            grouped[Int(next[Int(holder)])] = validity
            next[Int(holder)] += 1
        }
        certificateStart = start
        certificates = grouped
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
    public func holder(myKey: MyKeyID) -> HolderIndex? { lookup(myKey) }

    @usableFromInline
    func lookup(_ myKey: MyKeyID) -> HolderIndex? { holderIndexByMyKey.find(myKey.rawValue) }

    /// The certificates of a holder.
    public func certificates(of holder: HolderIndex) -> ArraySlice<CertificateValidity> {
        certificates[Int(certificateStart[Int(holder)])..<Int(certificateStart[Int(holder) + 1])]
    }

    /// The eligibility reason (§4 checks 3–10) of a record of `provider` at `occurredAt` under `myKey`, with the
    /// holder that has or ever had `myKey` (nil for none).
    ///
    /// - Complexity: one hash lookup, then O(c) in the holder's number of certificates.
    public func eligibility(
        myKey: MyKeyID, provider: ProviderIndex, occurredAt: Instant, campaign: Campaign
    ) -> (holder: HolderIndex?, reason: Reason) {
        guard let holder = lookup(myKey) else {
            let reason = Eligibility.check(
                occurredAt: occurredAt, provider: provider, holderStatus: nil, application: nil,
                certificates: EmptyCollection(), campaign: campaign)
            return (nil, reason)
        }
        let h = Int(holder)
        let applied = applicationProviders[h]
        let start = Int(certificateStart[h])
        let end = Int(certificateStart[h + 1])
        let reason = certificates.withUnsafeBufferPointer { all in
            Eligibility.check(
                occurredAt: occurredAt, provider: provider, holderStatus: statuses[h],
                application: applied < 0 ? nil : (provider: applied, at: appliedAt[h]),
                certificates: UnsafeBufferPointer(rebasing: all[start..<end]), campaign: campaign)
        }
        return (holder, reason)
    }
}
