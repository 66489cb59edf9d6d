public import Rules

/// The registry as a settlement run sees it: every holder, MyKey ID, application, certificate and balance,
/// read once when the run starts (settlement spec §4: statuses as they stand when the run starts).
///
/// Holders are addressed by a dense index (`HolderIndex`), their columns kept in parallel arrays so a
/// lookup touches a few cache lines and no allocation.
public struct RegistrySnapshot: Sendable {
    /// A dense index into the snapshot's holder columns.
    public typealias HolderIndex = Int32

    /// Registered providers, in byte order of their IDs (the settlement order's provider rank).
    public internal(set) var providers: [ProviderID] = []
    /// The database key of each provider, parallel to `providers`.
    public internal(set) var providerKeys: [Int32] = []
    var providerIndexByID: [ProviderID: Int32] = [:]

    /// Each holder's database key.
    public internal(set) var holderKeys: [Int64] = []
    /// Each holder's current MyKey ID.
    public internal(set) var currentMyKeys: [MyKeyID?] = []
    /// Each holder's status.
    public internal(set) var statuses: [HolderStatus] = []
    /// Each holder's applied provider (an index into `providers`), or -1 when the holder has not applied.
    public internal(set) var applicationProviders: [Int32] = []
    /// Each holder's application instant (meaningful only when applied).
    public internal(set) var appliedAt: [Instant] = []
    /// Each holder's balance from earlier runs.
    public var balances: [Balance] = []
    /// Each holder's number of settled eligible records from earlier runs.
    public var eligibleRecords: [Int] = []
    var certificateStart: [Int32] = [0]
    var certificates: [CertificateValidity] = []
    var holderIndexByKey = HolderKeyIndex()
    var holderIndexByMyKey = MyKeyTable()

    /// Names and SHA-256 digests of every file settled before, for `ALREADY_SETTLED` and `NAME_REUSED`.
    public var settledFiles: [String: [UInt8]] = [:]

    /// An empty snapshot.
    public init() {}

    /// Number of holders.
    public var holderCount: Int { holderKeys.count }

    /// Adds a provider; providers must be added in byte order of their IDs.
    public mutating func addProvider(_ id: ProviderID, key: Int32) {
        precondition(providers.last.map { $0 < id } ?? true, "providers must be added in byte order")
        providerIndexByID[id] = Int32(providers.count)
        providers.append(id)
        providerKeys.append(key)
    }

    /// The index of a registered provider, or nil.
    public func providerIndex(_ id: ProviderID) -> Int32? { providerIndexByID[id] }

    /// Adds a holder with its certificates; returns its index.
    @discardableResult
    public mutating func addHolder(
        key: Int64, currentMyKey: MyKeyID?, status: HolderStatus, application: (provider: Int32, at: Instant)?,
        certificates holderCertificates: [CertificateValidity], balance: Balance = Balance(),
        eligibleRecords records: Int = 0
    ) -> HolderIndex {
        let index = HolderIndex(holderKeys.count)
        holderKeys.append(key)
        currentMyKeys.append(currentMyKey)
        statuses.append(status)
        applicationProviders.append(application?.provider ?? -1)
        appliedAt.append(application?.at ?? .distantFuture)
        balances.append(balance)
        eligibleRecords.append(records)
        certificates.append(contentsOf: holderCertificates)
        certificateStart.append(Int32(certificates.count))
        holderIndexByKey[key] = index
        if let currentMyKey { holderIndexByMyKey.set(currentMyKey.rawValue, index) }
        return index
    }

    /// Binds a MyKey ID (current or former) to a holder.
    public mutating func bind(_ myKey: MyKeyID, to holder: HolderIndex) {
        holderIndexByMyKey.set(myKey.rawValue, holder)
    }

    /// The holder with a database key.
    public func holder(key: Int64) -> HolderIndex? { holderIndexByKey[key] }

    /// The holder that has or ever had `myKey`.
    @inlinable
    public func holder(myKey: MyKeyID) -> HolderIndex? { lookup(myKey) }

    @usableFromInline
    func lookup(_ myKey: MyKeyID) -> HolderIndex? { holderIndexByMyKey.find(myKey.rawValue) }

    /// The eligibility reason (§4 checks 3–10) of a record of `provider` at `occurredAt` under `myKey`.
    public func eligibility(
        myKey: MyKeyID, provider: Int32, occurredAt: Instant, campaign: Campaign
    ) -> (
        holder: HolderIndex?, reason: Reason
    ) {
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

    /// The certificates of a holder.
    public func certificates(of holder: HolderIndex) -> ArraySlice<CertificateValidity> {
        certificates[Int(certificateStart[Int(holder)])..<Int(certificateStart[Int(holder) + 1])]
    }
}
