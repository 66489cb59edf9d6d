import Postgres
public import Rules

/// A holder as registration and MyKey management see it.
public struct HolderAccount: Sendable, Equatable {
    /// The internal key, which never changes.
    public var holderKey: Int64
    /// The current MyKey ID.
    public var myKey: MyKeyID
    /// active, suspended or revoked.
    public var status: HolderStatus
    /// The scrypt hash of the MyKey ID password, when one is set.
    public var passwordHash: String?
    /// The provider applied with, when the holder applied.
    public var provider: ProviderID?
}

/// A certificate's identity (registration spec §5): its issuer's name and its serial.
///
/// Two issuers may use the
/// same serial, so a serial alone never names a certificate.
public struct CertificateID: Sendable, Hashable, CustomStringConvertible {
    /// The issuer name, in `Certificate.issuer` form.
    public var issuer: String
    /// Uppercase hexadecimal without leading zeros.
    public var serial: String

    /// The certificate `serial` of `issuer`.
    public init(issuer: String, serial: String) {
        self.issuer = issuer
        self.serial = serial
    }

    /// "serial S of ISSUER", for messages.
    public var description: String { "\(serial) of \(issuer)" }

    /// A serial as an operator may type it (either case, colons, leading zeros) as the ledger keeps it: uppercase
    /// hexadecimal, 1–40 digits, no leading zeros; nil when `text` is not one.
    public static func serial(parsing text: String) -> String? {
        var digits = text.uppercased().filter { $0 != ":" }
        guard (1...40).contains(digits.count), digits.allSatisfy({ $0.isHexDigit }) else { return nil }
        while digits.count > 1 && digits.first == "0" { digits.removeFirst() }
        return digits
    }
}

/// A certificate as registration binds it: serial, validity, issuer and public-key hash.
public struct CertificateBinding: Sendable, Equatable {
    /// Uppercase hexadecimal without leading zeros.
    public var serial: String
    /// Start of validity.
    public var notBefore: Instant
    /// End of validity.
    public var notAfter: Instant
    /// The issuer name.
    public var issuer: String
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    public var publicKeySHA256: [UInt8]

    /// Creates a binding.
    public init(serial: String, notBefore: Instant, notAfter: Instant, issuer: String, publicKeySHA256: [UInt8]) {
        self.serial = serial
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.issuer = issuer
        self.publicKeySHA256 = publicKeySHA256
    }

    /// The certificate's identity.
    public var id: CertificateID { CertificateID(issuer: issuer, serial: serial) }
}

/// One row of the reissue/renewal feed: a new certificate for the holder of an old one.
public struct CertificateLink: Sendable, Equatable {
    /// The certificate already bound to the holder.
    public var old: CertificateID
    /// The new card's certificate.
    public var new: CertificateID
    /// The new certificate's validity, when the feed gives it: then it counts for settlement at once.
    public var validity: (notBefore: Instant, notAfter: Instant)?
    /// The line of the feed (0 for a single link), for error messages.
    public var line: Int

    /// Creates a link.
    public init(
        old: CertificateID, new: CertificateID, validity: (notBefore: Instant, notAfter: Instant)? = nil, line: Int = 0
    ) {
        self.old = old
        self.new = new
        self.validity = validity
        self.line = line
    }

    /// Whether both links bind the same certificates with the same validity, from the same line.
    public static func == (lhs: CertificateLink, rhs: CertificateLink) -> Bool {
        lhs.old == rhs.old && lhs.new == rhs.new && lhs.line == rhs.line
            && lhs.validity?.notBefore == rhs.validity?.notBefore && lhs.validity?.notAfter == rhs.validity?.notAfter
    }
}

/// A registry change that the rules forbid; nothing was changed.
public struct RegistryChangeError: Error, Sendable, CustomStringConvertible {
    /// Which rule.
    public enum Code: Sendable, Equatable {
        /// No holder has that certificate or MyKey ID.
        case holderNotFound
        /// The holder's MyKey ID was revoked, which is final.
        case holderRevoked
        /// The holder is suspended.
        case holderSuspended
        /// The holder is not suspended.
        case holderNotSuspended
        /// The MyKey ID is, or was, bound to someone.
        case myKeyTaken
        /// The holder has already applied.
        case alreadyApplied
        /// No provider of that ID.
        case unknownProvider
        /// The certificate is bound to a holder that is not revoked.
        case certificateBound
        /// A link whose old serial is unknown or whose new serial belongs to another holder.
        case invalidLink
        /// A CRL older than the newest already imported for its issuer.
        case staleCRL
    }

    /// Which rule.
    public var code: Code
    /// One sentence.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension Ledger {
    // MARK: Reading

    private static let accountColumns = """
        SELECT h.holder_key, cur.mykey_id, h.status, h.password_hash, p.provider_id
        FROM holders h
        JOIN mykey_ids cur ON cur.holder_key = h.holder_key AND cur.retired_at_ns IS NULL
        LEFT JOIN applications a ON a.holder_key = h.holder_key
        LEFT JOIN providers p ON p.provider_key = a.provider_key
        """

    private func account(
        where condition: String, _ parameters: [PostgresBind], lock: Bool = false
    ) throws -> HolderAccount? {
        let result = try connection.query(
            Self.accountColumns + " WHERE " + condition + (lock ? " FOR UPDATE OF h" : ""), parameters)
        guard result.rowCount == 1 else { return nil }
        guard let myKey = MyKeyID(try result[0, 1].string()), let status = HolderStatus(name: try result[0, 2].string())
        else { throw LedgerError("a holder row has a malformed MyKey ID or status") }
        return HolderAccount(
            holderKey: try result[0, 0].int(), myKey: myKey, status: status,
            passwordHash: result[0, 3].optionalString(),
            provider: result[0, 4].optionalString().flatMap(ProviderID.init))
    }

    /// The holder with `holderKey`.
    public func account(holderKey: Int64) throws -> HolderAccount? {
        try account(where: "h.holder_key = $1", [.int(holderKey)])
    }

    /// The holder that has or ever had `myKey`.
    public func account(myKey: MyKeyID) throws -> HolderAccount? {
        try account(
            where: "h.holder_key = (SELECT holder_key FROM mykey_ids WHERE mykey_id = $1)", [.text(myKey.description)])
    }

    /// The holder whose current MyKey ID is `myKey` (password login accepts only the current ID).
    public func account(currentMyKey myKey: MyKeyID) throws -> HolderAccount? {
        try account(where: "cur.mykey_id = $1", [.text(myKey.description)])
    }

    /// The holder a certificate belongs to: bound in `certificates`, or linked by the reissue feed.
    public func account(certificate id: CertificateID) throws -> (account: HolderAccount, linkedOnly: Bool)? {
        let parameters: [PostgresBind] = [.text(id.issuer), .text(id.serial)]
        if let bound = try account(
            where: "h.holder_key = (SELECT holder_key FROM certificates WHERE issuer = $1 AND serial = $2)", parameters)
        {
            return (bound, false)
        }
        if let linked = try account(
            where:
                "h.holder_key = (SELECT holder_key FROM certificate_links WHERE new_issuer = $1 AND new_serial = $2)",
            parameters)
        {
            return (linked, true)
        }
        return nil
    }

    // MARK: Registration

    /// Creates a holder with a new MyKey ID from `newMyKey` (asked again when one is taken), binds the
    /// certificate, and sets the password hash and application, all in one transaction with audit entries.
    ///
    /// A certificate bound to a revoked holder moves to the new holder (a revoked MyKey ID is final, and the
    /// person needs a new one); bound to any other holder it is `.certificateBound`.
    ///
    /// `revocationChecked` false (registration without a current CRL, allowed by configuration) is recorded in the
    /// audit entry.
    public func createHolder(
        certificate: CertificateBinding, passwordHash: String?, provider: ProviderID?, at: Instant,
        revocationChecked: Bool = true, actor: String = Ledger.actor, newMyKey: () throws -> MyKeyID
    ) throws -> HolderAccount {
        try connection.transaction { connection in
            let providerKey = try provider.map { try Self.providerKey(of: $0, connection: connection) }
            let previousHolder = try Self.revokedHolder(of: certificate, connection: connection)
            let holderKey = try connection.query(
                "INSERT INTO holders (status, password_hash) VALUES ('active', $1) RETURNING holder_key",
                [passwordHash.map { .text($0) } ?? .null])[0, 0].int()
            let myKey = try Self.bindNewMyKey(holderKey: holderKey, connection: connection, newMyKey: newMyKey)
            if previousHolder != nil {
                try connection.query(
                    """
                    UPDATE certificates SET holder_key = $2, not_before_ns = $3, not_after_ns = $4,
                        public_key_sha256 = $6 WHERE serial = $1 AND issuer = $5
                    """, Self.certificateParameters(certificate, holderKey: holderKey))
            } else {
                try connection.query(
                    """
                    INSERT INTO certificates (serial, holder_key, not_before_ns, not_after_ns, issuer, public_key_sha256)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    """, Self.certificateParameters(certificate, holderKey: holderKey))
            }
            var detail = [
                "certificate_serial": certificate.serial, "certificate_issuer": certificate.issuer, "via": "card",
            ]
            if !revocationChecked { detail["revocation"] = Self.revocationNotChecked }
            try audit(action: "holder.create", subject: myKey.description, detail: detail, actor: actor)
            if let previousHolder {
                try audit(
                    action: "certificate.rebind", subject: myKey.description,
                    detail: ["certificate_serial": certificate.serial, "from_holder_key": "\(previousHolder)"],
                    actor: actor)
            }
            if passwordHash != nil {
                try audit(action: "password.set", subject: myKey.description, detail: ["via": "card"], actor: actor)
            }
            if let provider, let providerKey {
                try connection.query(
                    "INSERT INTO applications (holder_key, provider_key, applied_at_ns) VALUES ($1, $2, $3)",
                    [.int(holderKey), .int(providerKey), .int(at.nanosecondsSinceEpoch)])
                try audit(
                    action: "application.create", subject: myKey.description,
                    detail: ["provider_id": provider.value, "via": "card"], actor: actor)
            }
            return HolderAccount(
                holderKey: holderKey, myKey: myKey, status: .active, passwordHash: passwordHash, provider: provider)
        }
    }

    /// The key of a registered provider; `.unknownProvider` when none has that ID.
    private static func providerKey(of provider: ProviderID, connection: PostgresConnection) throws -> Int64 {
        let found = try connection.query(
            "SELECT provider_key FROM providers WHERE provider_id = $1", [.text(provider.value)])
        guard found.rowCount == 1 else {
            throw RegistryChangeError(.unknownProvider, "no provider \(provider) is registered")
        }
        return try found[0, 0].int()
    }

    /// The revoked holder a certificate is bound to, locking its row (nil when unbound); `.certificateBound` when
    /// it is bound to a holder that is not revoked.
    private static func revokedHolder(
        of certificate: CertificateBinding, connection: PostgresConnection
    ) throws -> Int64? {
        let bound = try connection.query(
            """
            SELECT c.holder_key, h.status FROM certificates c JOIN holders h ON h.holder_key = c.holder_key
            WHERE c.issuer = $1 AND c.serial = $2 FOR UPDATE OF c
            """, [.text(certificate.issuer), .text(certificate.serial)])
        guard bound.rowCount == 1 else { return nil }
        guard try bound[0, 1].string() == HolderStatus.revoked.name else {
            throw RegistryChangeError(.certificateBound, "certificate \(certificate.serial) is already bound")
        }
        return try bound[0, 0].int()
    }

    /// Binds the first free MyKey ID `newMyKey` gives (up to 16 tries) to the new holder.
    private static func bindNewMyKey(
        holderKey: Int64, connection: PostgresConnection, newMyKey: () throws -> MyKeyID
    ) throws -> MyKeyID {
        for _ in 0..<16 {
            let candidate = try newMyKey()
            let inserted = try connection.query(
                """
                INSERT INTO mykey_ids (mykey_id, holder_key) VALUES ($1, $2)
                ON CONFLICT (mykey_id) DO NOTHING RETURNING mykey_id
                """, [.text(candidate.description), .int(holderKey)])
            if inserted.rowCount == 1 { return candidate }
        }
        throw LedgerError("no free MyKey ID after 16 random tries")
    }

    /// Binds a certificate the reissue feed linked to `holderKey`, now that the card presented it (its real
    /// validity, issuer and key replace whatever the feed said).
    public func bindLinkedCertificate(
        _ certificate: CertificateBinding, holderKey: Int64, actor: String = Ledger.actor
    )
        throws
    {
        try connection.transaction { connection in
            let written = try connection.query(
                """
                INSERT INTO certificates (serial, holder_key, not_before_ns, not_after_ns, issuer, public_key_sha256)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (issuer, serial) DO UPDATE SET not_before_ns = EXCLUDED.not_before_ns,
                    not_after_ns = EXCLUDED.not_after_ns, public_key_sha256 = EXCLUDED.public_key_sha256
                WHERE certificates.holder_key = EXCLUDED.holder_key
                RETURNING serial
                """, Self.certificateParameters(certificate, holderKey: holderKey))
            guard written.rowCount == 1 else {
                throw RegistryChangeError(
                    .certificateBound, "certificate \(certificate.id) is bound to another holder")
            }
            let myKey = try account(holderKey: holderKey)?.myKey.description
            try audit(
                action: "certificate.bind", subject: myKey,
                detail: [
                    "certificate_serial": certificate.serial, "certificate_issuer": certificate.issuer, "via": "card",
                ], actor: actor)
        }
    }

    private static func certificateParameters(_ certificate: CertificateBinding, holderKey: Int64) -> [PostgresBind] {
        [
            .text(certificate.serial), .int(holderKey), .int(certificate.notBefore.nanosecondsSinceEpoch),
            .int(certificate.notAfter.nanosecondsSinceEpoch), .text(certificate.issuer),
            .bytes(certificate.publicKeySHA256),
        ]
    }

    // MARK: Holder actions (card or password login)

    /// Locks the holder's row and checks that it is active.
    private func lockActive(_ holderKey: Int64) throws -> HolderAccount {
        guard let account = try account(where: "h.holder_key = $1", [.int(holderKey)], lock: true) else {
            throw RegistryChangeError(.holderNotFound, "no such holder")
        }
        switch account.status {
        case .active: return account
        case .suspended:
            throw RegistryChangeError(.holderSuspended, "MyKey ID \(account.myKey) is suspended by the operator")
        case .revoked: throw RegistryChangeError(.holderRevoked, "MyKey ID \(account.myKey) was revoked")
        }
    }

    /// Changes the holder's MyKey ID; the old one stays bound to the holder (retired now) and is never reused.
    public func changeMyKey(
        holderKey: Int64, to newID: MyKeyID, at: Instant, via: String, actor: String = Ledger.actor
    )
        throws -> HolderAccount
    {
        try connection.transaction { connection in
            let account = try lockActive(holderKey)
            let taken = try connection.query("SELECT 1 FROM mykey_ids WHERE mykey_id = $1", [.text(newID.description)])
            guard taken.rowCount == 0 else {
                throw RegistryChangeError(.myKeyTaken, "MyKey ID \(newID) is or was in use; choose another")
            }
            try connection.query(
                "UPDATE mykey_ids SET retired_at_ns = $2 WHERE holder_key = $1 AND retired_at_ns IS NULL",
                [.int(holderKey), .int(at.nanosecondsSinceEpoch)])
            // A concurrent change taking the same ID fails here on the primary key, rolling everything back.
            try connection.query(
                "INSERT INTO mykey_ids (mykey_id, holder_key) VALUES ($1, $2)",
                [.text(newID.description), .int(holderKey)])
            try audit(
                action: "mykey.change", subject: newID.description,
                detail: ["old_mykey_id": account.myKey.description, "via": via],
                actor: actor)
            var changed = account
            changed.myKey = newID
            return changed
        }
    }

    /// Revokes the holder's MyKey ID: final; settlement rejects the holder's records from the next run.
    public func revokeHolder(holderKey: Int64, via: String, actor: String = Ledger.actor) throws -> HolderAccount {
        try connection.transaction { connection in
            var account = try lockActive(holderKey)
            try connection.query(
                "UPDATE holders SET status = 'revoked', status_changed_at = now() WHERE holder_key = $1",
                [.int(holderKey)])
            try audit(action: "mykey.revoke", subject: account.myKey.description, detail: ["via": via], actor: actor)
            account.status = .revoked
            return account
        }
    }

    /// Sets the holder's password hash; `action` says which audit entry (`password.change`, `password.reset`).
    public func setPasswordHash(
        holderKey: Int64, hash: String, action: String, via: String, actor: String = Ledger.actor
    )
        throws
    {
        try connection.transaction { connection in
            let account = try lockActive(holderKey)
            try connection.query(
                "UPDATE holders SET password_hash = $2 WHERE holder_key = $1", [.int(holderKey), .text(hash)])
            try audit(action: action, subject: account.myKey.description, detail: ["via": via], actor: actor)
        }
    }

    /// Records the holder's one application, with `provider`, at `at`; an existing application is never changed.
    public func apply(
        holderKey: Int64, provider: ProviderID, at: Instant, via: String, actor: String = Ledger.actor
    ) throws {
        try connection.transaction { connection in
            let account = try lockActive(holderKey)
            if let existing = account.provider {
                throw RegistryChangeError(
                    .alreadyApplied,
                    "MyKey ID \(account.myKey) already applied with \(existing); an application cannot be changed")
            }
            let inserted = try connection.query(
                """
                INSERT INTO applications (holder_key, provider_key, applied_at_ns)
                SELECT $1, provider_key, $3 FROM providers WHERE provider_id = $2
                RETURNING provider_key
                """, [.int(holderKey), .text(provider.value), .int(at.nanosecondsSinceEpoch)])
            guard inserted.rowCount == 1 else {
                throw RegistryChangeError(.unknownProvider, "no provider \(provider) is registered")
            }
            try audit(
                action: "application.create", subject: account.myKey.description,
                detail: ["provider_id": provider.value, "via": via], actor: actor)
        }
    }

    // MARK: Operator actions

    /// Suspends (or, with `suspend` false, reinstates) the holder that has or had `myKey`; audited with `reason`.
    public func setSuspended(
        _ suspend: Bool, myKey: MyKeyID, reason: String, actor: String = Ledger.actor
    ) throws
        -> HolderAccount
    {
        try connection.transaction { connection in
            guard
                var account = try account(
                    where: "h.holder_key = (SELECT holder_key FROM mykey_ids WHERE mykey_id = $1)",
                    [.text(myKey.description)], lock: true)
            else { throw RegistryChangeError(.holderNotFound, "no holder has or had MyKey ID \(myKey)") }
            switch (account.status, suspend) {
            case (.revoked, _):
                throw RegistryChangeError(.holderRevoked, "MyKey ID \(account.myKey) was revoked; that is final")
            case (.suspended, true):
                throw RegistryChangeError(.holderSuspended, "MyKey ID \(account.myKey) is already suspended")
            case (.active, false):
                throw RegistryChangeError(.holderNotSuspended, "MyKey ID \(account.myKey) is not suspended")
            case (.active, true), (.suspended, false):
                break
            }
            let status: HolderStatus = suspend ? .suspended : .active
            try connection.query(
                "UPDATE holders SET status = $2, status_changed_at = now() WHERE holder_key = $1",
                [.int(account.holderKey), .text(status.name)])
            try audit(
                action: suspend ? "holder.suspend" : "holder.unsuspend", subject: account.myKey.description,
                detail: ["reason": reason, "given_mykey_id": myKey.description], actor: actor)
            account.status = status
            return account
        }
    }

    /// Applies the reissue/renewal feed, all or nothing, set-based: each new certificate is linked to the holder of
    /// its old certificate (both by issuer and serial), and bound as a certificate at once when the feed gives its
    /// validity.
    ///
    /// A link already recorded identically is accepted again (the feed may be replayed).
    /// - Complexity: a fixed number of statements, whatever the number of links.
    @discardableResult
    public func linkCertificates(_ links: [CertificateLink], actor: String = Ledger.actor) throws -> Int {
        guard !links.isEmpty else { return 0 }
        return try connection.transaction { connection in
            try Self.stageLinks(links, connection: connection)
            try Self.checkLinks(connection: connection)
            try connection.query(
                """
                INSERT INTO certificate_links (new_issuer, new_serial, old_issuer, old_serial, holder_key, linked_by)
                SELECT new_issuer, new_serial, old_issuer, old_serial, holder_key, $1 FROM link_resolved
                ON CONFLICT (new_issuer, new_serial) DO NOTHING
                """, [.text(actor)])
            try connection.execute(
                """
                INSERT INTO certificates (issuer, serial, holder_key, not_before_ns, not_after_ns)
                SELECT new_issuer, new_serial, holder_key, not_before_ns, not_after_ns FROM link_resolved
                WHERE not_before_ns IS NOT NULL AND not_after_ns IS NOT NULL
                ON CONFLICT (issuer, serial) DO NOTHING
                """)
            try audit(
                action: "certificate.link", subject: nil,
                detail: [
                    "links": "\(links.count)",
                    "first": "\(links[0].old) -> \(links[0].new)",
                ], actor: actor)
            return links.count
        }
    }

    /// Copies the feed into `link_resolved`, each link with the holder of its old certificate (NULL if none).
    private static func stageLinks(_ links: [CertificateLink], connection: PostgresConnection) throws {
        try connection.execute(
            """
            CREATE TEMPORARY TABLE link_feed (line integer, old_issuer text, old_serial text, new_issuer text,
                new_serial text, not_before_ns bigint, not_after_ns bigint) ON COMMIT DROP
            """)
        try connection.copyIn("COPY link_feed FROM STDIN (FORMAT binary)") { writer in
            for link in links {
                writer.beginRow(fieldCount: 7)
                writer.writeInt32(Int32(clamping: link.line))
                writer.writeText(link.old.issuer)
                writer.writeText(link.old.serial)
                writer.writeText(link.new.issuer)
                writer.writeText(link.new.serial)
                if let validity = link.validity {
                    writer.writeInt64(validity.notBefore.nanosecondsSinceEpoch)
                    writer.writeInt64(validity.notAfter.nanosecondsSinceEpoch)
                } else {
                    writer.writeNull()
                    writer.writeNull()
                }
            }
        }
        try connection.execute(
            """
            CREATE TEMPORARY TABLE link_resolved ON COMMIT DROP AS
            SELECT f.line, f.old_issuer, f.old_serial, f.new_issuer, f.new_serial, f.not_before_ns, f.not_after_ns,
                   coalesce(c.holder_key, l.holder_key) AS holder_key
            FROM link_feed f
            LEFT JOIN certificates c ON c.issuer = f.old_issuer AND c.serial = f.old_serial
            LEFT JOIN certificate_links l ON l.new_issuer = f.old_issuer AND l.new_serial = f.old_serial
            """)
    }

    /// Refuses the staged feed, naming the first bad line, when a link cannot be applied.
    private static func checkLinks(connection: PostgresConnection) throws {
        let problems: [(String, String)] = [
            (
                """
                SELECT line, old_serial || ' of ' || old_issuer FROM link_resolved WHERE holder_key IS NULL
                ORDER BY line LIMIT 1
                """, "no holder has certificate"
            ),
            (
                """
                SELECT r.line, r.new_serial || ' of ' || r.new_issuer FROM link_resolved r
                WHERE EXISTS (SELECT 1 FROM certificates c WHERE c.issuer = r.new_issuer AND c.serial = r.new_serial
                              AND c.holder_key <> r.holder_key)
                   OR EXISTS (SELECT 1 FROM certificate_links l WHERE l.new_issuer = r.new_issuer
                              AND l.new_serial = r.new_serial AND l.holder_key <> r.holder_key)
                ORDER BY r.line LIMIT 1
                """, "already belongs to another holder: certificate"
            ),
            (
                """
                SELECT min(line), new_serial || ' of ' || new_issuer FROM link_resolved GROUP BY new_issuer, new_serial
                HAVING count(DISTINCT holder_key) > 1 OR count(*) > 1 ORDER BY 1 LIMIT 1
                """, "appears more than once in the feed: certificate"
            ),
        ]
        for (sql, what) in problems {
            let found = try connection.query(sql)
            if found.rowCount > 0 {
                let line = try found[0, 0].int()
                throw RegistryChangeError(
                    .invalidLink, "\(line > 0 ? "line \(line): " : "")\(what) \(try found[0, 1].string())")
            }
        }
    }
}
