/// A holder's MyKey status (settlement spec §4, checks 5–6).
public enum HolderStatus: UInt8, Sendable, CaseIterable {
    case active = 0
    case suspended = 1
    case revoked = 2

    /// The status as written in the registry and reports.
    public var name: String {
        switch self {
        case .active: "active"
        case .suspended: "suspended"
        case .revoked: "revoked"
        }
    }

    /// The status named `name`, or nil.
    public init?(name: String) {
        guard let status = HolderStatus.allCases.first(where: { $0.name == name }) else { return nil }
        self = status
    }
}

/// When one of a holder's certificates can vouch for a record.
public struct CertificateValidity: Sendable, Equatable {
    /// First instant of validity (inclusive).
    public var notBefore: Instant
    /// End of validity (exclusive).
    public var notAfter: Instant
    /// When the certificate was revoked, if it was.
    public var revokedAt: Instant?

    /// A certificate's validity window and revocation time.
    public init(notBefore: Instant, notAfter: Instant, revokedAt: Instant? = nil) {
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.revokedAt = revokedAt
    }

    /// The validity period covers `instant`.
    @inlinable
    public func covers(_ instant: Instant) -> Bool { notBefore <= instant && instant < notAfter }

    /// Valid at `instant`: covering it and not revoked at or before it.
    @inlinable
    public func isValid(at instant: Instant) -> Bool {
        covers(instant) && (revokedAt.map { $0 > instant } ?? true)
    }
}

/// The eligibility checks of settlement spec §4 that follow the duplicate check (checks 3–10).
public enum Eligibility {
    /// The first reason that rejects a well-formed, first-seen record, or `.none` when it is eligible.
    ///
    /// `holder` is nil when no holder has or ever had the record's MyKey ID. `Provider` is whatever the caller
    /// identifies providers by (an index, an ID); only equality matters.
    ///
    /// - Complexity: O(c) in the holder's number of certificates.
    @inlinable
    public static func check<Provider: Equatable, Certificates: Sequence<CertificateValidity>>(
        occurredAt: Instant,
        provider: Provider,
        holderStatus: HolderStatus?,
        application: (provider: Provider, at: Instant)?,
        certificates: Certificates,
        campaign: Campaign
    ) -> Reason {
        guard campaign.isInWindow(occurredAt) else { return .outOfWindow }
        guard let status = holderStatus else { return .unknownMyKey }
        switch status {
        case .revoked: return .myKeyRevoked
        case .suspended: return .myKeySuspended
        case .active: break
        }
        guard let application else { return .notApplied }
        guard application.provider == provider else { return .otherProvider }
        guard occurredAt >= application.at else { return .beforeApplication }
        var covered = false
        for certificate in certificates where certificate.covers(occurredAt) {
            if certificate.isValid(at: occurredAt) { return .none }
            covered = true
        }
        return covered ? .certRevoked : .certExpired
    }
}
