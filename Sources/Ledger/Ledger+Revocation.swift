import Crypto
import Postgres
public import Rules

/// What a CRL import changed.
public struct RevocationCounts: Sendable, Equatable {
    /// Serials the CRL lists.
    public var listed = 0
    /// Serials that had no revocation before: revoked now, bound to a holder or not.
    public var newlyRevoked = 0
    /// Serials already revoked whose revocation time the CRL moved earlier.
    public var movedEarlier = 0
    /// Of the newly revoked and moved serials, those bound to a holder's certificate.
    public var bound = 0

    /// No changes.
    public init() {}
}

/// A verified CRL, as the ledger records it.
public struct ImportedCRL: Sendable {
    /// The issuer name, in `Certificate.issuer` form.
    public var issuer: String
    /// SHA-256 of the public key of the trust anchor whose signature verified: which CA generation issued it.
    public var signerKeySHA256: [UInt8]
    /// The cRLNumber, uppercase hexadecimal without leading zeros, when the CRL has one.
    public var crlNumber: String?
    /// When the CRL was issued.
    public var thisUpdate: Instant
    /// When the next CRL is due, when the CRL says.
    public var nextUpdate: Instant?
    /// SHA-256 of the CRL's DER encoding.
    public var sha256: [UInt8]
    /// The listed serials with their revocation times.
    public var entries: [(serial: String, revokedAt: Instant)]

    /// Creates a record of a verified CRL.
    public init(
        issuer: String, signerKeySHA256: [UInt8], crlNumber: String?, thisUpdate: Instant, nextUpdate: Instant?,
        sha256: [UInt8], entries: [(serial: String, revokedAt: Instant)]
    ) {
        self.issuer = issuer
        self.signerKeySHA256 = signerKeySHA256
        self.crlNumber = crlNumber
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.sha256 = sha256
        self.entries = entries
    }
}

/// Where a CRL stands in its issuer's sequence: by cRLNumber when both CRLs have one, else by thisUpdate.
public struct CRLVersion: Sendable, Equatable {
    /// The cRLNumber in hexadecimal, when present.
    public var crlNumber: String?
    /// When the CRL was issued.
    public var thisUpdate: Instant
    /// SHA-256 of its DER encoding: the same CRL imported again is not stale.
    public var sha256: [UInt8]

    /// Creates a version.
    public init(crlNumber: String?, thisUpdate: Instant, sha256: [UInt8]) {
        self.crlNumber = crlNumber
        self.thisUpdate = thisUpdate
        self.sha256 = sha256
    }

    /// Compares two CRLs of one issuer: negative when `self` is older, 0 when neither is newer.
    public func order(comparedTo other: CRLVersion) -> Int {
        if let mine = crlNumber, let theirs = other.crlNumber {
            // Hexadecimal without leading zeros: the longer number is the larger, else the digits decide.
            if mine.utf8.count != theirs.utf8.count { return mine.utf8.count < theirs.utf8.count ? -1 : 1 }
            return mine == theirs ? 0 : (mine < theirs ? -1 : 1)
        }
        return thisUpdate == other.thisUpdate ? 0 : (thisUpdate < other.thisUpdate ? -1 : 1)
    }

    /// The imported CRL that makes `self` stale: one newer, or another CRL of the same place in the sequence.
    ///
    /// Nil when `self` is newer than all of them, or is one of them imported again.
    public func staleAgainst(_ imported: [CRLVersion]) -> CRLVersion? {
        imported.first { other in
            let order = self.order(comparedTo: other)
            return order < 0 || (order == 0 && other.sha256 != sha256)
        }
    }
}

extension Ledger {
    /// The audit log's words for a registration that ran without current revocation data.
    static let revocationNotChecked = "not checked: no current CRL (registration.require_current_crl is false)"

    /// When the certificate was revoked: the earliest time any source gave (CRL, registry, operator); nil when
    /// it is not revoked.
    public func revocationTime(of id: CertificateID) throws -> Instant? {
        let result = try connection.query(
            "SELECT revoked_at_ns FROM certificate_revocations WHERE issuer = $1 AND serial = $2",
            [.text(id.issuer), .text(id.serial)])
        guard result.rowCount == 1 else { return nil }
        return Instant(nanosecondsSinceEpoch: try result[0, 0].int())
    }

    /// The latest `nextUpdate` of the CRLs imported for `issuer` (signed by the key with `signerKeySHA256`, when
    /// given) that is after `now`; nil when no imported CRL of that issuer is current.
    public func currentCRLNextUpdate(issuer: String, signerKeySHA256: [UInt8]?, at now: Instant) throws -> Instant? {
        var sql = "SELECT max(next_update_ns) FROM crl_imports WHERE issuer = $1 AND next_update_ns > $2"
        var parameters: [PostgresBind] = [.text(issuer), .int(now.nanosecondsSinceEpoch)]
        if let signerKeySHA256 {
            sql += " AND signer_key_sha256 = $3"
            parameters.append(.bytes(signerKeySHA256))
        }
        return try connection.query(sql, parameters)[0, 0].optionalInt().map { Instant(nanosecondsSinceEpoch: $0) }
    }

    /// Records a verified CRL, all or nothing: refuses it as stale when a newer CRL of the same issuer and signing
    /// key was imported before; revokes every listed serial (bound or not) at the earliest known time; records
    /// the import and an audit entry.
    /// - Complexity: a fixed number of statements, whatever the number of entries.
    public func recordCRL(_ crl: ImportedCRL, source: String, actor: String = Ledger.actor) throws -> RevocationCounts {
        try connection.transaction { connection in
            // One import per issuer at a time: the staleness check and the insert must see each other.
            try connection.query("SELECT pg_advisory_xact_lock(hashtext($1))", [.text(crl.issuer)])
            try refuseStale(crl, connection: connection)
            var counts = try Self.revoke(crl, connection: connection)
            counts.listed = crl.entries.count
            try connection.query(
                """
                INSERT INTO crl_imports (issuer, signer_key_sha256, crl_number, this_update_ns, next_update_ns, sha256,
                    entries, newly_revoked, imported_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """,
                [
                    .text(crl.issuer), .bytes(crl.signerKeySHA256), crl.crlNumber.map { .text($0) } ?? .null,
                    .int(crl.thisUpdate.nanosecondsSinceEpoch),
                    crl.nextUpdate.map { .int($0.nanosecondsSinceEpoch) } ?? .null, .bytes(crl.sha256),
                    .int(Int64(counts.listed)), .int(Int64(counts.newlyRevoked)), .text(actor),
                ])
            try audit(
                action: "crl.import", subject: crl.issuer,
                detail: [
                    "source": source, "crl_number": crl.crlNumber ?? "", "this_update": crl.thisUpdate.description,
                    "next_update": crl.nextUpdate?.description ?? "", "sha256": crl.sha256.hexString,
                    "listed": "\(counts.listed)", "newly_revoked": "\(counts.newlyRevoked)",
                    "moved_earlier": "\(counts.movedEarlier)", "bound": "\(counts.bound)",
                ], actor: actor)
            return counts
        }
    }

    /// Throws `.staleCRL` when an imported CRL of the same issuer and signing key is newer than `crl`.
    private func refuseStale(_ crl: ImportedCRL, connection: PostgresConnection) throws {
        let rows = try connection.query(
            "SELECT crl_number, this_update_ns, sha256 FROM crl_imports WHERE issuer = $1 AND signer_key_sha256 = $2",
            [.text(crl.issuer), .bytes(crl.signerKeySHA256)])
        var imported: [CRLVersion] = []
        for row in rows {
            imported.append(
                CRLVersion(
                    crlNumber: row[0].optionalString(), thisUpdate: Instant(nanosecondsSinceEpoch: try row[1].int()),
                    sha256: try row[2].bytes()))
        }
        let version = CRLVersion(crlNumber: crl.crlNumber, thisUpdate: crl.thisUpdate, sha256: crl.sha256)
        if let newer = version.staleAgainst(imported) {
            throw RegistryChangeError(
                .staleCRL,
                "the CRL (\(Self.describe(version))) is stale: a CRL of \(crl.issuer) at or after it "
                    + "(\(Self.describe(newer))) was imported before; nothing was imported — import the current CRL")
        }
    }

    private static func describe(_ version: CRLVersion) -> String {
        (version.crlNumber.map { "crlNumber \($0), " } ?? "") + "thisUpdate \(version.thisUpdate)"
    }

    /// Revokes the CRL's serials: new revocations inserted, known ones moved earlier when the CRL says so.
    private static func revoke(_ crl: ImportedCRL, connection: PostgresConnection) throws -> RevocationCounts {
        try connection.execute("CREATE TEMPORARY TABLE crl_entries (serial text, revoked_at_ns bigint) ON COMMIT DROP")
        if !crl.entries.isEmpty {
            try connection.copyIn("COPY crl_entries FROM STDIN (FORMAT binary)") { writer in
                for entry in crl.entries {
                    writer.beginRow(fieldCount: 2)
                    writer.writeText(entry.serial)
                    writer.writeInt64(entry.revokedAt.nanosecondsSinceEpoch)
                }
            }
        }
        let result = try connection.query(
            """
            WITH changed AS (
                INSERT INTO certificate_revocations (issuer, serial, revoked_at_ns, source)
                SELECT $1, serial, min(revoked_at_ns), 'crl' FROM crl_entries GROUP BY serial
                ON CONFLICT (issuer, serial) DO UPDATE SET revoked_at_ns = EXCLUDED.revoked_at_ns, source = 'crl'
                WHERE EXCLUDED.revoked_at_ns < certificate_revocations.revoked_at_ns
                RETURNING issuer, serial, xmax = 0 AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), count(c.serial)
            FROM changed LEFT JOIN certificates c USING (issuer, serial)
            """, [.text(crl.issuer)])
        var counts = RevocationCounts()
        counts.newlyRevoked = Int(try result[0, 0].int())
        counts.movedEarlier = Int(try result[0, 1].int())
        counts.bound = Int(try result[0, 2].int())
        return counts
    }

    /// Operator action: revokes a certificate at `at`, or moves its revocation earlier; a later time than the one
    /// known changes nothing (the earliest wins).
    ///
    /// Returns the revocation time before and after.
    @discardableResult
    public func revokeCertificate(
        _ id: CertificateID, at: Instant, reason: String, actor: String = Ledger.actor
    ) throws -> (old: Instant?, new: Instant) {
        try connection.transaction { connection in
            let old = try revocationTime(of: id)
            try connection.query(
                """
                INSERT INTO certificate_revocations (issuer, serial, revoked_at_ns, source) VALUES ($1, $2, $3, 'operator')
                ON CONFLICT (issuer, serial) DO UPDATE SET revoked_at_ns = EXCLUDED.revoked_at_ns, source = 'operator'
                WHERE EXCLUDED.revoked_at_ns < certificate_revocations.revoked_at_ns
                """, [.text(id.issuer), .text(id.serial), .int(at.nanosecondsSinceEpoch)])
            let new = old.map { min($0, at) } ?? at
            try audit(
                action: "certificate.revoke", subject: id.serial,
                detail: [
                    "issuer": id.issuer, "reason": reason, "requested_at": at.description,
                    "old_revoked_at": old?.description ?? "", "new_revoked_at": new.description,
                ], actor: actor)
            return (old, new)
        }
    }
}
