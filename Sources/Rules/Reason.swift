/// The reason on a result row (settlement spec §4 and §5); `none` is an unqualified grant.
///
/// The raw values are stable: they are stored in the database.
public enum Reason: UInt8, Sendable, CaseIterable, Comparable {
    case none = 0
    case malformed = 1
    case duplicate = 2
    case outOfWindow = 3
    case unknownMyKey = 4
    case myKeyRevoked = 5
    case myKeySuspended = 6
    case notApplied = 7
    case otherProvider = 8
    case beforeApplication = 9
    case certRevoked = 10
    case certExpired = 11
    case capPartial = 12
    case capReached = 13

    /// The code written in result files and reports (empty for `none`).
    public var code: String {
        switch self {
        case .none: ""
        case .malformed: "MALFORMED"
        case .duplicate: "DUPLICATE"
        case .outOfWindow: "OUT_OF_WINDOW"
        case .unknownMyKey: "UNKNOWN_MYKEY"
        case .myKeyRevoked: "MYKEY_REVOKED"
        case .myKeySuspended: "MYKEY_SUSPENDED"
        case .notApplied: "NOT_APPLIED"
        case .otherProvider: "OTHER_PROVIDER"
        case .beforeApplication: "BEFORE_APPLICATION"
        case .certRevoked: "CERT_REVOKED"
        case .certExpired: "CERT_EXPIRED"
        case .capPartial: "CAP_PARTIAL"
        case .capReached: "CAP_REACHED"
        }
    }

    /// The reason of a result-file code, or nil for an unknown code.
    public init?(code: String) {
        guard let reason = Reason.allCases.first(where: { $0.code == code }) else { return nil }
        self = reason
    }

    /// True when the row is `REJECTED` (points 0, not eligible); false for the grant reasons.
    public var isRejection: Bool {
        switch self {
        case .none, .capPartial, .capReached: false
        default: true
        }
    }

    /// Orders reasons by their stored number.
    public static func < (lhs: Reason, rhs: Reason) -> Bool { lhs.rawValue < rhs.rawValue }
}
