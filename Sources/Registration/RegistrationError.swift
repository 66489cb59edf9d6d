public import Localization

/// A registration or MyKey management failure, in words a person at the terminal can act on.
public struct RegistrationError: Error, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Code: Sendable, Equatable {
        /// pcscd is not running.
        case serviceUnavailable
        /// No reader is attached, or none of the requested name.
        case noReader
        /// No card was presented before the timeout.
        case noCard
        /// The card was removed (or stopped answering) during the flow.
        case cardRemoved
        /// The reader went away during the flow.
        case readerGone
        /// Another application holds the card exclusively.
        case cardBusy
        /// Talking to the card failed for another PC/SC reason; `message` says which.
        case cardCommunication
        /// The card has no JPKI application: not a My Number card.
        case notMyNumberCard
        /// The PIN was wrong; `triesLeft` tries remain before the card blocks.
        case wrongPIN(triesLeft: Int)
        /// The user-authentication PIN is blocked; only the municipal office can reset it.
        case pinBlocked
        /// The PIN is not 4 digits; nothing was sent to the card.
        case invalidPIN
        /// The person declined to use the last PIN try.
        case declined
        /// The card answered with a status word the protocol does not allow at this step.
        case unexpectedStatus(UInt16)
        /// The card's data (certificate, token information) is malformed.
        case malformedCardData
        /// The certificate does not chain to a configured trust anchor.
        case untrustedCertificate
        /// The certificate has expired.
        case certificateExpired
        /// The certificate is not valid yet.
        case certificateNotYetValid
        /// The certificate is revoked (CRL import).
        case certificateRevoked
        /// The card's signature over the challenge does not verify with the certificate's key.
        case signatureInvalid
        /// No holder is bound to the certificate or MyKey ID.
        case holderNotFound
        /// The holder's MyKey ID was revoked.
        case holderRevoked
        /// The operator suspended the holder's MyKey ID.
        case holderSuspended
        /// The holder is not suspended (unsuspend).
        case holderNotSuspended
        /// The MyKey ID is, or was, bound to someone: IDs are never reused.
        case myKeyTaken
        /// MyKey ID and password do not match, or no password is set.
        case authenticationFailed
        /// Password login for the MyKey ID is locked after too many failures; the card (PIN) unlocks it.
        case passwordLoginLocked
        /// The holder already applied; an application cannot be changed.
        case alreadyApplied
        /// No provider of that ID is registered.
        case unknownProvider
        /// The password does not meet the rules, or the two entries differ.
        case invalidPassword
        /// A CRL that does not parse, or is not signed by a trust anchor that was valid at its thisUpdate and may
        /// sign CRLs.
        case untrustedCRL
        /// A CRL older than the newest already imported for its issuer.
        case staleCRL
        /// No imported CRL of the certificate's issuer is current (its nextUpdate has passed, or none was imported).
        case revocationDataNotCurrent
        /// A certificate link that cannot be applied (unknown old serial, serial bound elsewhere, bad CSV).
        case invalidLink
        /// Input that is not of the required form (MyKey ID, serial, confirmation).
        case invalidInput
        /// The database failed.
        case database
        /// The configuration (trust anchors) cannot be used.
        case configuration
        /// Anything else; `message` says what.
        case other
    }

    /// What went wrong.
    public var code: Code
    /// One sentence for the person at the terminal, in English; never holds a PIN or password.
    public var message: String
    /// The sentence as a resident reads it in either language, when the failure is one a resident meets.
    public var holderMessage: HolderMessage?

    /// Creates an error of kind `code` with `message`, one sentence for the person at the terminal.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        self.holderMessage = nil
    }

    /// Creates an error of kind `code` that a resident reads as `message`, in their language.
    public init(_ code: Code, _ message: HolderMessage) {
        self.code = code
        self.message = message.english
        self.holderMessage = message
    }

    /// The sentence in `language`; a failure only operators meet is in English.
    public func text(_ language: Language) -> String {
        holderMessage?.text(language) ?? message
    }

    /// The message alone, as the terminal shows it.
    public var description: String { message }
}
