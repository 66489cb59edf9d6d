public import Crypto
public import Foundation
public import Ledger
import Localization
public import Rules

/// What `register` did: created a holder, or found the one the certificate is bound to.
///
/// `mynapoint register --json` prints it; the JSON keys are `mykey_id`, `certificate_serial` and `status`.
public struct RegistrationOutcome: Sendable, Equatable, Codable {
    /// Whether `register` created the holder; the raw values are the words the JSON carries.
    public enum Status: String, Sendable, Codable {
        /// A new holder with a new MyKey ID.
        case created
        /// The certificate was already bound: the holder's MyKey ID.
        case existing
    }

    /// The holder's current MyKey ID.
    public var myKeyID: String
    /// The card certificate's serial number, in `Certificate.serialHex` form.
    public var certificateSerial: String
    /// Whether the holder was created now or already existed.
    public var status: Status

    /// Creates the outcome for the holder with MyKey ID `myKeyID`, reached through the certificate
    /// `certificateSerial`.
    public init(myKeyID: String, certificateSerial: String, status: Status) {
        self.myKeyID = myKeyID
        self.certificateSerial = certificateSerial
        self.status = status
    }

    private enum CodingKeys: String, CodingKey {
        case myKeyID = "mykey_id"
        case certificateSerial = "certificate_serial"
        case status
    }
}

/// A holder who logged in, with the card (PIN) or with MyKey ID and password; only `Registrar` makes one.
public struct AuthenticatedHolder: Sendable {
    /// How the holder proved who they are.
    public enum Method: Sendable, Equatable {
        /// The card, with its PIN; the certificate serial, and whether a current CRL vouched for it.
        case card(serial: String, revocationChecked: Bool)
        /// MyKey ID and password.
        case password
    }

    /// The holder as the ledger saw them at login.
    public let account: HolderAccount
    /// How they logged in.
    public let method: Method

    /// The audit log's word for the method.
    var via: String {
        switch method {
        case .card(let serial, true): "card \(serial)"
        case .card(let serial, false): "card \(serial) (revocation not checked: no current CRL)"
        case .password: "password"
        }
    }
}

/// What a CRL import did.
public struct CRLImportSummary: Sendable, Equatable {
    /// The CRL's issuer.
    public var issuer: String
    /// When the CRL was issued.
    public var thisUpdate: Date
    /// When the next CRL is due, if the CRL says.
    public var nextUpdate: Date?
    /// The CRL's cRLNumber in hexadecimal, if it has one.
    public var crlNumber: String?
    /// Serials listed, newly revoked, moved earlier, and how many of those are bound to a holder.
    public var counts: RevocationCounts
}

/// Registration and MyKey management (registration spec §2 steps 7–10 and §3) over the ledger; every change is
/// audited and takes effect at once (settlement reads the tables at the start of each run).
///
/// Blocking: every call waits on PostgreSQL; use it from a dedicated thread.
public struct Registrar {
    /// The ledger every call reads and changes, on the calling thread.
    public let ledger: Ledger
    /// The scrypt cost of new password hashes; a login with a hash of weaker cost replaces it.
    public var passwordCost: PasswordHash.ScryptCost
    /// Who acts, for the audit log (the operating-system user at the terminal).
    public var actor: String

    /// A registrar over `ledger`.
    public init(ledger: Ledger, passwordCost: PasswordHash.ScryptCost = .current, actor: String = Ledger.actor) {
        self.ledger = ledger
        self.passwordCost = passwordCost
        self.actor = actor
    }

    // MARK: Registration

    /// The holder the card's certificate is bound to (or linked to by the reissue feed), if any.
    public func existingHolder(for card: VerifiedCard) throws(RegistrationError) -> HolderAccount? {
        try database { try ledger.account(certificate: card.id)?.account }
    }

    /// Steps 7–10: the holder the certificate is bound to (`existing`, binding a certificate the reissue feed
    /// linked), or a new holder with a new random MyKey ID, the certificate, the password hash and the
    /// application, in one transaction (`created`).
    ///
    /// A certificate bound to a revoked holder gets a new holder: revocation is final, and the person needs a new
    /// MyKey ID.
    public func register(
        _ card: VerifiedCard, password: Password?, apply provider: ProviderID?, at date: Date = Date()
    ) throws(RegistrationError) -> (outcome: RegistrationOutcome, account: HolderAccount) {
        let serial = card.certificate.serialHex
        if let (account, linkedOnly) = try database({ try ledger.account(certificate: card.id) }),
            account.status != .revoked
        {
            if linkedOnly {
                try database {
                    try ledger.bindLinkedCertificate(card.binding, holderKey: account.holderKey, actor: actor)
                }
            }
            var detail = ["certificate_serial": serial, "certificate_issuer": card.certificate.issuer, "via": "card"]
            if !card.revocationChecked { detail["revocation"] = "not checked: no current CRL" }
            try database {
                try ledger.audit(
                    action: "register.existing", subject: account.myKey.description, detail: detail, actor: actor)
            }
            return (
                RegistrationOutcome(myKeyID: account.myKey.description, certificateSerial: serial, status: .existing),
                account
            )
        }
        let hash = try password.map { password throws(RegistrationError) in try self.hash(password) }
        let account = try database(refusing: nil, provider: provider) {
            try ledger.createHolder(
                certificate: card.binding, passwordHash: hash, provider: provider, at: Instant(date),
                revocationChecked: card.revocationChecked, actor: actor, newMyKey: { try Self.randomMyKeyID() })
        }
        return (
            RegistrationOutcome(myKeyID: account.myKey.description, certificateSerial: serial, status: .created),
            account
        )
    }

    /// A MyKey ID of 8 characters `A–Z 0–9` from the cryptographic random generator, each equally likely.
    public static func randomMyKeyID() throws(RegistrationError) -> MyKeyID {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        var id: [UInt8] = []
        while id.count < 8 {
            let bytes: [UInt8]
            do {
                bytes = try SecureRandom.bytes(16)
            } catch {
                throw RegistrationError(.other, .noRandomBytes(detail: "\(error)"))
            }
            // 252 = 7 × 36: bytes above it would make the first characters likelier.
            for byte in bytes where byte < 252 && id.count < 8 {
                id.append(alphabet[Int(byte) % 36])
            }
        }
        return MyKeyID(String(decoding: id, as: UTF8.self))!
    }

    // MARK: Login

    /// Card login: the holder the verified card's certificate is bound to; active holders only.
    ///
    /// It clears failed password logins and any lockout of the holder's MyKey IDs: the card is the way back in.
    public func login(_ card: VerifiedCard) throws(RegistrationError) -> AuthenticatedHolder {
        let serial = card.certificate.serialHex
        guard let (account, linkedOnly) = try database({ try ledger.account(certificate: card.id) }) else {
            throw RegistrationError(.holderNotFound, .notRegistered)
        }
        try requireActive(account)
        if linkedOnly {
            try database { try ledger.bindLinkedCertificate(card.binding, holderKey: account.holderKey, actor: actor) }
        }
        let holder = AuthenticatedHolder(
            account: account, method: .card(serial: serial, revocationChecked: card.revocationChecked))
        _ = try database {
            try ledger.clearPasswordFailures(holderKey: account.holderKey, via: holder.via, actor: actor)
        }
        return holder
    }

    /// MyKey ID + password login at `date`: the current MyKey ID, a set password that matches, an active holder.
    ///
    /// After `Ledger.passwordFailureLimit` consecutive failures the ID is locked for 15 minutes, in the database
    /// (registration spec §5); a card login unlocks it. Unknown IDs, IDs without a password and wrong passwords get
    /// the same reply, the same work (a decoy hash is checked) and the same lockout, so nothing tells whether the
    /// ID exists. A hash made with weaker parameters than `passwordCost` is replaced on success.
    public func login(
        myKey: MyKeyID, password: Password, at date: Date = Date()
    ) throws(RegistrationError) -> AuthenticatedHolder {
        let outcome = try database {
            try ledger.passwordLogin(myKey: myKey, at: Instant(date), actor: actor) { account in
                check(password, against: account?.passwordHash)
            }
        }
        switch outcome {
        case .succeeded(let account):
            try requireActive(account)
            return AuthenticatedHolder(account: account, method: .password)
        case .failed(_, lockedUntil: nil):
            throw RegistrationError(.authenticationFailed, .passwordLoginFailed)
        case .failed(_, lockedUntil: let until?):
            throw RegistrationError(
                .passwordLoginLocked,
                .passwordLoginFailedNowLocked(limit: Ledger.passwordFailureLimit, until: "\(until)"))
        case .locked(let until):
            throw RegistrationError(
                .passwordLoginLocked, .passwordLoginLocked(until: "\(until)", limit: Ledger.passwordFailureLimit))
        }
    }

    /// Compares `password` with `stored` in constant time, or with a decoy of the same cost when there is no hash,
    /// and prepares a rehash when `stored` was made with weaker parameters than `passwordCost`.
    private func check(_ password: Password, against stored: String?) -> PasswordCheck {
        guard let stored else {
            // Spend the same effort as a real check, so timing does not reveal unknown IDs either.
            if let decoy = try? PasswordHash.decoy(cost: passwordCost) {
                _ = PasswordHash.verify(password: password.text, encoded: decoy)
            }
            return .mismatch
        }
        guard PasswordHash.verify(password: password.text, encoded: stored) else { return .mismatch }
        guard PasswordHash.needsRehash(stored, cost: passwordCost), let hash = try? self.hash(password) else {
            return .match(rehash: nil)
        }
        let from = PasswordHash.cost(of: stored).map(\.description) ?? "unreadable"
        return .match(rehash: PasswordRehash(hash: hash, from: from, to: passwordCost.description))
    }

    private func requireActive(_ account: HolderAccount) throws(RegistrationError) {
        switch account.status {
        case .active: return
        case .suspended:
            throw RegistrationError(.holderSuspended, .myKeySuspended(account.myKey.description))
        case .revoked:
            throw RegistrationError(.holderRevoked, .myKeyRevokedAlready(account.myKey.description))
        }
    }

    // MARK: Holder actions

    /// Changes the MyKey ID; the old one stays bound to the holder and is never given to anyone else.
    public func changeMyKey(
        _ holder: AuthenticatedHolder, to newID: MyKeyID, at date: Date = Date()
    )
        throws(RegistrationError) -> HolderAccount
    {
        try database(refusing: holder, newID: newID) {
            try ledger.changeMyKey(
                holderKey: holder.account.holderKey, to: newID, at: Instant(date), via: holder.via, actor: actor)
        }
    }

    /// Revokes the MyKey ID, irreversibly; `confirmation` must be the current MyKey ID, typed by the person.
    public func revoke(_ holder: AuthenticatedHolder, confirmation: String) throws(RegistrationError) -> HolderAccount {
        guard HolderInput.normalized(confirmation) == holder.account.myKey.description else {
            throw RegistrationError(.invalidInput, .confirmationMismatch(myKey: holder.account.myKey.description))
        }
        return try database(refusing: holder) {
            try ledger.revokeHolder(holderKey: holder.account.holderKey, via: holder.via, actor: actor)
        }
    }

    /// Sets a new password: a change after password login, a reset after card login.
    public func setPassword(_ holder: AuthenticatedHolder, to password: Password) throws(RegistrationError) {
        let hash = try hash(password)
        let action = holder.method == .password ? "password.change" : "password.reset"
        try database(refusing: holder) {
            try ledger.setPasswordHash(
                holderKey: holder.account.holderKey, hash: hash, action: action, via: holder.via, actor: actor)
        }
    }

    /// Applies for Mynapoint with `provider`, once; an application cannot be changed.
    public func apply(
        _ holder: AuthenticatedHolder, provider: ProviderID, at date: Date = Date()
    )
        throws(RegistrationError)
    {
        try database(refusing: holder, provider: provider) {
            try ledger.apply(
                holderKey: holder.account.holderKey, provider: provider, at: Instant(date), via: holder.via,
                actor: actor)
        }
    }

    // MARK: Operator actions

    /// Suspends the holder that has or had `myKey` (after a leak or fraud report).
    public func suspend(myKey: MyKeyID, reason: String) throws(RegistrationError) -> HolderAccount {
        try database { try ledger.setSuspended(true, myKey: myKey, reason: reason, actor: actor) }
    }

    /// Lifts a suspension.
    public func unsuspend(myKey: MyKeyID, reason: String) throws(RegistrationError) -> HolderAccount {
        try database { try ledger.setSuspended(false, myKey: myKey, reason: reason, actor: actor) }
    }

    /// Applies the reissue/renewal feed, all or nothing.
    @discardableResult
    public func link(_ links: [CertificateLink]) throws(RegistrationError) -> Int {
        try database { try ledger.linkCertificates(links, actor: actor) }
    }

    /// Operator action: revokes a certificate at `at` (or moves its revocation earlier; the earliest time wins).
    @discardableResult
    public func revokeCertificate(
        _ id: CertificateID, at: Instant, reason: String
    ) throws(RegistrationError) -> (old: Instant?, new: Instant) {
        try database { try ledger.revokeCertificate(id, at: at, reason: reason, actor: actor) }
    }

    /// Imports a CRL (DER or PEM) signed by a trust anchor that was valid at its thisUpdate and may sign CRLs;
    /// refuses one older than the newest imported for its issuer; revokes the serials it lists at their listed
    /// times (the earliest known time wins).
    public func importCRL(
        _ bytes: [UInt8], source: String, trustStore: TrustStore
    ) throws(RegistrationError)
        -> CRLImportSummary
    {
        let crl: CertificateRevocationList
        do {
            crl = try CertificateRevocationList(bytes: bytes)
        } catch {
            throw RegistrationError(.untrustedCRL, "\(source) is not a DER or PEM X.509 CRL")
        }
        let signer = try Self.verify(crl, source: source, trustStore: trustStore)
        let record = ImportedCRL(
            issuer: crl.issuer, signerKeySHA256: signer.publicKeySHA256, crlNumber: crl.crlNumber,
            thisUpdate: Instant(crl.thisUpdate), nextUpdate: crl.nextUpdate.map { Instant($0) },
            sha256: SHA256.hash(crl.der),
            entries: crl.entries.map { (serial: $0.serialHex, revokedAt: Instant($0.revokedAt)) })
        let counts = try database { try ledger.recordCRL(record, source: source, actor: actor) }
        return CRLImportSummary(
            issuer: crl.issuer, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, crlNumber: crl.crlNumber,
            counts: counts)
    }

    /// The trust anchor that signed `crl`, or a refusal that says why none may have.
    private static func verify(
        _ crl: CertificateRevocationList, source: String, trustStore: TrustStore
    ) throws(RegistrationError) -> Certificate {
        do {
            return try trustStore.verify(crl)
        } catch {
            let why: String =
                switch error.code {
                case .expired, .notYetValid: "its signing trust anchor was not valid at the CRL's thisUpdate"
                case .usageNotPermitted: "its signing trust anchor may not sign CRLs (no cRLSign key usage)"
                default: "it is not signed by a configured trust anchor"
                }
            throw RegistrationError(
                .untrustedCRL, "\(source) (issuer \(crl.issuer)) is refused: \(why); nothing was imported")
        }
    }

    // MARK: Support

    private func hash(_ password: Password) throws(RegistrationError) -> String {
        do {
            return try PasswordHash.hash(password: password.text, cost: passwordCost)
        } catch {
            throw RegistrationError(.other, .passwordHashFailed(detail: "\(error.code)"))
        }
    }

    /// Runs a ledger call for `holder`, turning a refusal the holder can meet into words they read in their
    /// language: the ledger's own sentences are English, for operators.
    private func database<T>(
        refusing holder: AuthenticatedHolder?, newID: MyKeyID? = nil, provider: ProviderID? = nil,
        _ body: () throws -> T
    ) throws(RegistrationError) -> T {
        do {
            return try database(body)
        } catch {
            let myKey = holder?.account.myKey.description
            let message: HolderMessage? =
                switch error.code {
                case .holderSuspended: myKey.map { .myKeySuspended($0) }
                case .holderRevoked: myKey.map { .myKeyRevokedAlready($0) }
                case .myKeyTaken: newID.map { .myKeyTaken($0.description) }
                case .alreadyApplied: .alreadyApplied
                case .unknownProvider: provider.map { .unknownProvider($0.description) }
                default: nil
                }
            guard let message else { throw error }
            throw RegistrationError(error.code, message)
        }
    }

    /// Runs a ledger call, turning its failures into registration outcomes.
    private func database<T>(_ body: () throws -> T) throws(RegistrationError) -> T {
        do {
            return try body()
        } catch let error as RegistryChangeError {
            let code: RegistrationError.Code =
                switch error.code {
                case .holderNotFound: .holderNotFound
                case .holderRevoked: .holderRevoked
                case .holderSuspended: .holderSuspended
                case .holderNotSuspended: .holderNotSuspended
                case .myKeyTaken: .myKeyTaken
                case .alreadyApplied: .alreadyApplied
                case .unknownProvider: .unknownProvider
                case .certificateBound, .invalidLink: .invalidLink
                case .staleCRL: .staleCRL
                }
            throw RegistrationError(code, error.message)
        } catch let error as RegistrationError {
            throw error
        } catch {
            throw RegistrationError(.database, .databaseFailed(detail: "\(error)"))
        }
    }
}
