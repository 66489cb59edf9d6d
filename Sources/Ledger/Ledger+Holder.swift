import Postgres
public import Rules

/// A holder as `holder show` prints it (settlement spec §9; the JSON keys are the spec's).
public struct HolderView: Sendable, Codable, Equatable {
    /// One of the holder's certificates, with its revocation as every other reader sees it.
    public struct CertificateView: Sendable, Codable, Equatable {
        /// The issuer name.
        public var issuer: String
        /// The serial, uppercase hexadecimal.
        public var serial: String
        /// Start of validity, RFC 3339.
        public var notBefore: String
        /// End of validity, RFC 3339.
        public var notAfter: String
        /// When it was revoked (the earliest time any source gave), RFC 3339; nil when not revoked.
        public var revokedAt: String?

        /// The JSON keys of `holder show`.
        enum CodingKeys: String, CodingKey {
            case issuer, serial
            case notBefore = "not_before"
            case notAfter = "not_after"
            case revokedAt = "revoked_at"
        }
    }

    /// The current MyKey ID.
    public var myKey: String
    /// active, suspended or revoked.
    public var status: String
    /// The provider applied with, when the holder applied.
    public var providerID: String?
    /// Eligible amount settled so far, in yen.
    public var eligibleAmount: Int
    /// Points granted so far.
    public var points: Int
    /// Settled eligible records.
    public var records: Int
    /// The holder's certificates, by issuer and serial.
    public var certificates: [CertificateView]

    /// The JSON keys of `holder show`.
    enum CodingKeys: String, CodingKey {
        case status, points, records, certificates
        case myKey = "mykey_id"
        case providerID = "provider_id"
        case eligibleAmount = "eligible_amount"
    }
}

extension Ledger {
    /// The holder that has or ever had `myKey`, with its current MyKey ID, balance and certificates; nil when none.
    public func holder(myKey: MyKeyID) throws -> HolderView? {
        let result = try connection.query(
            """
            SELECT cur.mykey_id, h.status, p.provider_id, coalesce(l.eligible_amount, 0), coalesce(l.points, 0),
                   coalesce(l.records, 0), h.holder_key
            FROM mykey_ids m
            JOIN holders h ON h.holder_key = m.holder_key
            LEFT JOIN mykey_ids cur ON cur.holder_key = h.holder_key AND cur.retired_at_ns IS NULL
            LEFT JOIN applications a ON a.holder_key = h.holder_key
            LEFT JOIN providers p ON p.provider_key = a.provider_key
            LEFT JOIN ledger l ON l.holder_key = h.holder_key
            WHERE m.mykey_id = $1
            """, [.text(myKey.description)])
        guard result.rowCount == 1 else { return nil }
        return HolderView(
            myKey: result[0, 0].isNull ? myKey.description : try result[0, 0].string(),
            status: try result[0, 1].string(),
            providerID: result[0, 2].isNull ? nil : try result[0, 2].string(),
            eligibleAmount: Int(try result[0, 3].int()), points: Int(try result[0, 4].int()),
            records: Int(try result[0, 5].int()), certificates: try certificates(holderKey: try result[0, 6].int()))
    }

    /// The holder's certificates with their revocation (the same fact settlement and registration read).
    private func certificates(holderKey: Int64) throws -> [HolderView.CertificateView] {
        let rows = try connection.query(
            """
            SELECT c.issuer, c.serial, c.not_before_ns, c.not_after_ns, r.revoked_at_ns FROM certificates c
            LEFT JOIN certificate_revocations r ON r.issuer = c.issuer AND r.serial = c.serial
            WHERE c.holder_key = $1 ORDER BY c.not_before_ns, c.issuer, c.serial
            """, [.int(holderKey)])
        return try rows.map { row in
            HolderView.CertificateView(
                issuer: try row[0].string(), serial: try row[1].string(),
                notBefore: Instant(nanosecondsSinceEpoch: try row[2].int()).description,
                notAfter: Instant(nanosecondsSinceEpoch: try row[3].int()).description,
                revokedAt: try row[4].optionalInt().map { Instant(nanosecondsSinceEpoch: $0).description })
        }
    }
}
