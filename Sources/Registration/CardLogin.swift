public import Crypto
public import Foundation
public import Ledger
import Localization
public import Rules
import SmartCard

/// The person at the terminal, as the card flow needs them: told what happens, asked for the PIN.
///
/// Called on the thread running `CardLogin.run`, in flow order.
public protocol CardInteraction: AnyObject {
    /// No card yet: waiting, with about `remaining` left; called when the wait starts and about every second.
    func waitingForCard(reader: String?, remaining: Duration)
    /// A card is in `reader`; reading it.
    func cardFound(reader: String)
    /// The PIN's tries left, shown before the PIN is asked.
    func showTriesLeft(_ tries: Int)
    /// At one try left: whether to go on (a wrong PIN now blocks the card).
    func confirmLastTry() -> Bool
    /// The PIN, asked once; never retried automatically.
    func readPIN() throws(RegistrationError) -> PIN
}

/// A card whose certificate chains to a trust anchor, is valid and not revoked, and whose holder proved
/// possession of the key with the PIN.
public struct VerifiedCard: Sendable {
    /// The user-authentication certificate.
    public let certificate: Certificate
    /// The reader it was in.
    public let reader: String
    /// Whether revocation was checked against a current CRL; false only when the configuration allows card flows
    /// without one (`registration.require_current_crl`), and then every audit entry says so.
    public let revocationChecked: Bool

    /// The certificate's identity: issuer and serial.
    public var id: CertificateID { CertificateID(issuer: certificate.issuer, serial: certificate.serialHex) }

    /// The certificate as the ledger binds it.
    public var binding: CertificateBinding {
        CertificateBinding(
            serial: certificate.serialHex, notBefore: Instant(certificate.notBefore),
            notAfter: Instant(certificate.notAfter),
            issuer: certificate.issuer, publicKeySHA256: certificate.publicKeySHA256)
    }
}

/// What `CardLogin.run` needs besides the person.
public struct CardLoginOptions: Sendable {
    /// The reader to use; any reader with a card when nil.
    public var reader: String?
    /// How long to wait for a card.
    public var timeout: Duration
    /// The configured trust anchors.
    public var trustStore: TrustStore
    /// The time certificates must be valid at (now, except in tests).
    public var now: @Sendable () -> Date
    /// Whether a current CRL of the certificate's issuer is required (registration spec §5: fail closed).
    public var requireCurrentCRL = true

    /// Options with the clock set to now.
    public init(reader: String? = nil, timeout: Duration = .seconds(60), trustStore: TrustStore) {
        self.reader = reader
        self.timeout = timeout
        self.trustStore = trustStore
        self.now = { Date() }
    }
}

/// Registration spec §2 steps 1–6: find the card, read and check its certificate, show the tries left, take the
/// PIN once, and have the card sign a fresh challenge.
public enum CardLogin {
    /// Runs the card steps against pcscd; blocking (use a dedicated thread).
    ///
    /// Revocation comes from the ledger (one fact per issuer and serial, from every source). When current revocation
    /// data is required and no trust anchor has a current CRL, it refuses before asking for a card: no certificate
    /// could pass.
    public static func run(
        options: CardLoginOptions, ledger: Ledger, interaction: some CardInteraction
    ) throws(RegistrationError) -> VerifiedCard {
        try requireSomeCurrentCRL(options: options, ledger: ledger)
        let context: SmartCardContext
        do {
            context = try SmartCardContext()
        } catch {
            throw JPKICard.map(error)
        }
        let reader = try waitForCard(context: context, options: options, interaction: interaction)
        interaction.cardFound(reader: reader)
        let connection: SmartCardConnection
        do {
            connection = try context.connect(reader: reader)
        } catch {
            throw JPKICard.map(error)
        }
        let card = JPKICard(channel: connection)
        defer { card.disconnect() }
        return try authenticate(card: card, reader: reader, options: options, ledger: ledger, interaction: interaction)
    }

    /// Steps 2–6 on a connected card: the part that needs no pcscd, so tests can drive it through any channel.
    public static func authenticate(
        card: JPKICard, reader: String, options: CardLoginOptions, ledger: Ledger, interaction: some CardInteraction
    ) throws(RegistrationError) -> VerifiedCard {
        try card.selectApplication()
        try card.readTokenInfo()
        let der = try card.readCertificateDER()
        let certificate: Certificate
        do {
            certificate = try Certificate(der: der)
        } catch {
            throw RegistrationError(.malformedCardData, .certificateUnreadable(detail: "\(error)"))
        }
        let now = options.now()
        try check(certificate, trustStore: options.trustStore, at: now)
        let revocationChecked = try checkRevocation(certificate, options: options, ledger: ledger, at: now)

        switch try card.pinStatus() {
        case .blocked:
            throw RegistrationError(.pinBlocked, .pinBlockedBeforeTry)
        case .triesLeft(let tries):
            interaction.showTriesLeft(tries)
            if tries == 1 && !interaction.confirmLastTry() {
                throw RegistrationError(.declined, .declinedLastTry)
            }
        }
        let pin = try interaction.readPIN()

        let challenge: [UInt8]
        do {
            challenge = try SecureRandom.bytes(32)
        } catch {
            throw RegistrationError(.cardCommunication, .noChallenge(detail: "\(error)"))
        }
        let signature = try card.verifyAndSign(pin: pin, digestInfo: DigestInfo.sha256(challenge))
        guard certificate.publicKey.verifyRSASHA256(signature: signature, message: challenge) else {
            throw RegistrationError(.signatureInvalid, .signatureInvalid)
        }
        return VerifiedCard(certificate: certificate, reader: reader, revocationChecked: revocationChecked)
    }

    /// Refuses a revoked certificate, and one whose issuer has no current CRL unless the options allow that;
    /// returns whether a current CRL vouched for the answer.
    static func checkRevocation(
        _ certificate: Certificate, options: CardLoginOptions, ledger: Ledger, at now: Date
    ) throws(RegistrationError) -> Bool {
        // The CRL must come from the CA generation that issued the certificate: another generation's CRL, though
        // of the same name, says nothing about this certificate.
        let signer = options.trustStore.issuingAnchor(of: certificate)
        let current: Instant?
        let revokedAt: Instant?
        do {
            current = try ledger.currentCRLNextUpdate(
                issuer: certificate.issuer, signerKeySHA256: signer?.publicKeySHA256, at: Instant(now))
            revokedAt = try ledger.revocationTime(
                of: CertificateID(issuer: certificate.issuer, serial: certificate.serialHex))
        } catch {
            throw RegistrationError(.database, .revocationCheckFailed(detail: "\(error)"))
        }
        if let revokedAt, revokedAt <= Instant(now) {
            throw RegistrationError(
                .certificateRevoked, .certificateRevoked(serial: certificate.serialHex, on: "\(revokedAt)"))
        }
        if current == nil && options.requireCurrentCRL {
            throw RegistrationError(.revocationDataNotCurrent, .noCurrentCRL(issuer: certificate.issuer))
        }
        return current != nil
    }

    /// Refuses at once when current revocation data is required and no trust anchor has a current CRL.
    static func requireSomeCurrentCRL(options: CardLoginOptions, ledger: Ledger) throws(RegistrationError) {
        guard options.requireCurrentCRL else { return }
        let now = Instant(options.now())
        do {
            for anchor in options.trustStore.anchors
            where try ledger.currentCRLNextUpdate(
                issuer: anchor.subject, signerKeySHA256: anchor.publicKeySHA256, at: now) != nil
            {
                return
            }
        } catch {
            throw RegistrationError(.database, .revocationCheckFailed(detail: "\(error)"))
        }
        throw RegistrationError(.revocationDataNotCurrent, .noCurrentCRLOfAnyAnchor)
    }

    /// Chain to a trust anchor and validity at `time`.
    static func check(_ certificate: Certificate, trustStore: TrustStore, at time: Date) throws(RegistrationError) {
        do {
            try trustStore.verify(certificate, at: time)
        } catch {
            switch error.code {
            case .expired:
                throw RegistrationError(
                    .certificateExpired, .certificateExpired(on: "\(Instant(certificate.notAfter))"))
            case .notYetValid:
                throw RegistrationError(
                    .certificateNotYetValid, .certificateNotYetValid(from: "\(Instant(certificate.notBefore))"))
            default:
                throw RegistrationError(.untrustedCertificate, .untrustedCertificate(issuer: certificate.issuer))
            }
        }
    }

    /// Waits in steps of about a second, so the person sees the time left; tells no reader from no card.
    static func waitForCard(
        context: SmartCardContext, options: CardLoginOptions, interaction: some CardInteraction
    ) throws(RegistrationError) -> String {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: options.timeout)
        let wanted = options.reader.map { [$0] }
        while true {
            let remaining = clock.now.duration(to: deadline)
            interaction.waitingForCard(reader: options.reader, remaining: max(remaining, .zero))
            do {
                return try context.waitForCard(readers: wanted, timeout: min(max(remaining, .zero), .seconds(1)))
            } catch  where error.code == .timeout && clock.now < deadline {
                continue
            } catch  where error.code == .timeout {
                let readers = (try? context.readers()) ?? []
                if let reader = options.reader, !readers.contains(reader) {
                    throw RegistrationError(.noReader, .noReaderNamed(reader, attached: readers))
                }
                if readers.isEmpty {
                    throw RegistrationError(.noReader, .noReader)
                }
                throw RegistrationError(.noCard, .noCardWithin(seconds: Int(options.timeout.components.seconds)))
            } catch {
                throw JPKICard.map(error)
            }
        }
    }
}

extension Instant {
    /// The instant of a `Date`, to the nanosecond as far as a `Date` holds it.
    public init(_ date: Date) {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanoseconds = ((date.timeIntervalSince1970 - seconds) * 1e9).rounded()
        self.init(nanosecondsSinceEpoch: Int64(seconds) * 1_000_000_000 + Int64(nanoseconds))
    }
}
