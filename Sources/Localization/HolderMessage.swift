/// What a resident reads while registering and managing a MyKey ID: prompts, questions, warnings, refusals and
/// the lines that say what was done.
///
/// The cases carry the values a message shows, already in their printed form (a MyKey ID, a serial, an RFC 3339
/// time), so the same value appears in both languages.
public enum HolderMessage: LocalizedMessage, Equatable {
    /// A MyKey ID's standing, as a resident is told it.
    public enum Standing: String, Sendable, CaseIterable {
        /// In use.
        case active
        /// Suspended by the operator.
        case suspended
        /// Revoked for good.
        case revoked
    }

    /// A step of the card protocol, named when the card answers something the protocol does not allow.
    public enum CardStep: Sendable, Equatable {
        /// Selecting an elementary file (its identifier in hexadecimal).
        case selectingFile(String)
        /// Asking how many PIN tries are left.
        case askingTriesLeft
        /// Verifying the PIN.
        case verifyingPIN
        /// Signing the challenge.
        case signing
        /// Reading a file.
        case readingFile
    }

    // MARK: The card flow

    /// Asks for the card: in the named reader, or any; how long the program waits.
    case insertCard(reader: String?, seconds: Int)
    /// The countdown while waiting for the card.
    case waitingForCard(seconds: Int)
    /// A card was found in a reader and is being read.
    case cardFound(reader: String)
    /// The PIN tries left before the card blocks, of 3.
    case triesLeft(Int)
    /// Only one PIN try is left: a wrong PIN now blocks the card.
    case lastTryWarning
    /// Asks whether to use the last try.
    case lastTryQuestion
    /// The prompt for the user-authentication PIN.
    case pinPrompt
    /// The card proved it holds the key of its certificate (its serial).
    case cardProved(serial: String)

    // MARK: Passwords

    /// The prompt for the password of a MyKey ID.
    case passwordPrompt(myKey: String)
    /// The prompt for a new password, with its least length.
    case newPasswordPrompt(minimum: Int)
    /// The prompt to type the new password again.
    case passwordAgainPrompt
    /// A password too short or too long.
    case passwordLength(minimum: Int, maximum: Int)
    /// A password with control characters.
    case passwordControlCharacters
    /// The two entries of a new password differ.
    case passwordsDiffer

    // MARK: Registration and MyKey ID management

    /// The card was registered before: its MyKey ID and standing.
    case alreadyRegistered(myKey: String, standing: Standing)
    /// A new MyKey ID was created.
    case registered(myKey: String)
    /// The holder had already applied with this provider.
    case alreadyAppliedWith(provider: String)
    /// The application for Mynapoint with a provider was made.
    case applied(provider: String)
    /// Revoking a MyKey ID cannot be undone.
    case revokeWarning(myKey: String)
    /// Asks the resident to type the MyKey ID being revoked.
    case revokePrompt
    /// The MyKey ID was changed.
    case myKeyChanged(from: String, to: String)
    /// The MyKey ID is revoked.
    case myKeyRevoked(myKey: String)
    /// The password was changed (after password login) or reset (after card login).
    case passwordSet(myKey: String, reset: Bool)
    /// The MyKey ID applied with a provider (the `apply` command).
    case appliedWith(myKey: String, provider: String)

    // MARK: Refusals and failures

    /// An error line, as the terminal shows it.
    case error(String)
    /// A command failed for a reason the program has no words for; the detail is the system's.
    case failed(command: String, detail: String)
    /// No trust anchor is given or configured.
    case noTrustAnchors
    /// A trust anchor file cannot be read.
    case trustAnchorUnreadable(file: String)
    /// A trust anchor file holds no PEM certificate.
    case trustAnchorWithoutCertificate(file: String)
    /// The PC/SC service is not running.
    case serviceUnavailable
    /// No reader is attached.
    case noReader
    /// No reader of the name given is attached (and those that are).
    case noReaderNamed(String, attached: [String])
    /// No card came within the time given.
    case noCardWithin(seconds: Int)
    /// No card came in time.
    case noCardInTime
    /// The reader went away.
    case readerGone
    /// The card was removed during the flow.
    case cardRemoved
    /// Another application holds the card.
    case cardBusy
    /// Talking to the card failed; the detail is PC/SC's.
    case cardCommunication(detail: String)
    /// The card has no JPKI application (the status word it answered).
    case notMyNumberCard(status: String)
    /// The JPKI application lacks an elementary file.
    case missingCardFile(String)
    /// The token information does not name a JPKI card.
    case notJPKIToken
    /// An elementary file does not start with a DER certificate.
    case fileWithoutCertificate(String)
    /// The certificate on the card does not parse; the detail is the parser's.
    case certificateUnreadable(detail: String)
    /// A card file longer than READ BINARY can address.
    case cardFileTooLong
    /// A card file shorter than it says.
    case cardFileShort
    /// The card returned an empty signature.
    case emptySignature
    /// The card refused to sign because the PIN is not verified.
    case signRefused
    /// The card answered a status word the protocol does not allow at a step.
    case unexpectedStatus(String, CardStep)
    /// The PIN is blocked, found before any try.
    case pinBlockedBeforeTry
    /// The PIN is blocked.
    case pinBlocked
    /// A wrong PIN blocked the card.
    case wrongPINNowBlocked
    /// A wrong PIN, and the tries left.
    case wrongPIN(triesLeft: Int)
    /// The resident declined the last try.
    case declinedLastTry
    /// The typed PIN is not 4 digits.
    case pinFormat
    /// A MyKey ID given on the command line is not 8 of A–Z 0–9.
    case myKeyFormat
    /// A provider ID given on the command line is not 1–16 of A–Z 0–9.
    case providerIDFormat
    /// The PIN could not be read; the detail is the system's.
    case pinUnreadable(detail: String)
    /// No random challenge; the detail is the system's.
    case noChallenge(detail: String)
    /// The card's signature does not match its certificate.
    case signatureInvalid
    /// The certificate expired (when).
    case certificateExpired(on: String)
    /// The certificate is not valid yet (from when).
    case certificateNotYetValid(from: String)
    /// The certificate does not chain to a trust anchor (its issuer).
    case untrustedCertificate(issuer: String)
    /// The certificate was revoked (its serial, when).
    case certificateRevoked(serial: String, on: String)
    /// No current CRL of the certificate's issuer was imported.
    case noCurrentCRL(issuer: String)
    /// No current CRL of any trust anchor was imported.
    case noCurrentCRLOfAnyAnchor
    /// Checking revocation failed in the database; the detail is the database's.
    case revocationCheckFailed(detail: String)
    /// The card is not registered.
    case notRegistered
    /// The MyKey ID or password is wrong.
    case passwordLoginFailed
    /// The MyKey ID or password is wrong, and password login is now locked (failures in a row, until when).
    case passwordLoginFailedNowLocked(limit: Int, until: String)
    /// Password login is locked (until when, after how many failures in a row).
    case passwordLoginLocked(until: String, limit: Int)
    /// The MyKey ID is suspended.
    case myKeySuspended(String)
    /// The MyKey ID is revoked.
    case myKeyRevokedAlready(String)
    /// The typed confirmation is not the MyKey ID.
    case confirmationMismatch(myKey: String)
    /// The new MyKey ID is or was someone's.
    case myKeyTaken(String)
    /// The holder applied already (and with which provider, when known).
    case alreadyApplied
    /// No provider of the ID is registered.
    case unknownProvider(String)
    /// The database failed; the detail is the database's.
    case databaseFailed(detail: String)
    /// No random bytes for a new MyKey ID; the detail is the system's.
    case noRandomBytes(detail: String)
    /// Hashing the password failed; the detail is the hash's.
    case passwordHashFailed(detail: String)
    /// Nothing to read on a file descriptor.
    case nothingOnDescriptor(Int32)
    /// No terminal to ask on.
    case noTerminal
    /// The terminal's settings cannot be read or changed.
    case terminalUnusable
    /// The terminal closed.
    case terminalClosed

    /// The kinds of message, without their values.
    public enum Key: CaseIterable, Hashable, Sendable {
        case insertCard, waitingForCard, cardFound, triesLeft, lastTryWarning, lastTryQuestion, pinPrompt, cardProved
        case passwordPrompt, newPasswordPrompt, passwordAgainPrompt, passwordLength, passwordControlCharacters
        case passwordsDiffer, alreadyRegistered, registered, alreadyAppliedWith, applied, revokeWarning, revokePrompt
        case myKeyChanged, myKeyRevoked, passwordSet, appliedWith, error, failed, noTrustAnchors, trustAnchorUnreadable
        case trustAnchorWithoutCertificate, serviceUnavailable, noReader, noReaderNamed, noCardWithin, noCardInTime
        case readerGone, cardRemoved, cardBusy, cardCommunication, notMyNumberCard, missingCardFile, notJPKIToken
        case fileWithoutCertificate, certificateUnreadable, cardFileTooLong, cardFileShort, emptySignature
        case signRefused, unexpectedStatus, pinBlockedBeforeTry, pinBlocked, wrongPINNowBlocked, wrongPIN
        case myKeyFormat, providerIDFormat
        case declinedLastTry, pinFormat, pinUnreadable, noChallenge, signatureInvalid, certificateExpired
        case certificateNotYetValid, untrustedCertificate, certificateRevoked, noCurrentCRL, noCurrentCRLOfAnyAnchor
        case revocationCheckFailed, notRegistered, passwordLoginFailed, passwordLoginFailedNowLocked
        case passwordLoginLocked, myKeySuspended, myKeyRevokedAlready, confirmationMismatch, myKeyTaken
        case alreadyApplied, unknownProvider, databaseFailed, noRandomBytes, passwordHashFailed, nothingOnDescriptor,
            noTerminal
        case terminalUnusable, terminalClosed
    }

    /// The message's kind.
    public var key: Key {
        switch self {
        case .insertCard: .insertCard
        case .waitingForCard: .waitingForCard
        case .cardFound: .cardFound
        case .triesLeft: .triesLeft
        case .lastTryWarning: .lastTryWarning
        case .lastTryQuestion: .lastTryQuestion
        case .pinPrompt: .pinPrompt
        case .cardProved: .cardProved
        case .passwordPrompt: .passwordPrompt
        case .newPasswordPrompt: .newPasswordPrompt
        case .passwordAgainPrompt: .passwordAgainPrompt
        case .passwordLength: .passwordLength
        case .passwordControlCharacters: .passwordControlCharacters
        case .passwordsDiffer: .passwordsDiffer
        case .alreadyRegistered: .alreadyRegistered
        case .registered: .registered
        case .alreadyAppliedWith: .alreadyAppliedWith
        case .applied: .applied
        case .revokeWarning: .revokeWarning
        case .revokePrompt: .revokePrompt
        case .myKeyChanged: .myKeyChanged
        case .myKeyRevoked: .myKeyRevoked
        case .passwordSet: .passwordSet
        case .appliedWith: .appliedWith
        case .error: .error
        case .failed: .failed
        case .noTrustAnchors: .noTrustAnchors
        case .trustAnchorUnreadable: .trustAnchorUnreadable
        case .trustAnchorWithoutCertificate: .trustAnchorWithoutCertificate
        case .serviceUnavailable: .serviceUnavailable
        case .noReader: .noReader
        case .noReaderNamed: .noReaderNamed
        case .noCardWithin: .noCardWithin
        case .noCardInTime: .noCardInTime
        case .readerGone: .readerGone
        case .cardRemoved: .cardRemoved
        case .cardBusy: .cardBusy
        case .cardCommunication: .cardCommunication
        case .notMyNumberCard: .notMyNumberCard
        case .missingCardFile: .missingCardFile
        case .notJPKIToken: .notJPKIToken
        case .fileWithoutCertificate: .fileWithoutCertificate
        case .certificateUnreadable: .certificateUnreadable
        case .cardFileTooLong: .cardFileTooLong
        case .cardFileShort: .cardFileShort
        case .emptySignature: .emptySignature
        case .signRefused: .signRefused
        case .unexpectedStatus: .unexpectedStatus
        case .pinBlockedBeforeTry: .pinBlockedBeforeTry
        case .pinBlocked: .pinBlocked
        case .wrongPINNowBlocked: .wrongPINNowBlocked
        case .wrongPIN: .wrongPIN
        case .declinedLastTry: .declinedLastTry
        case .pinFormat: .pinFormat
        case .myKeyFormat: .myKeyFormat
        case .providerIDFormat: .providerIDFormat
        case .pinUnreadable: .pinUnreadable
        case .noChallenge: .noChallenge
        case .signatureInvalid: .signatureInvalid
        case .certificateExpired: .certificateExpired
        case .certificateNotYetValid: .certificateNotYetValid
        case .untrustedCertificate: .untrustedCertificate
        case .certificateRevoked: .certificateRevoked
        case .noCurrentCRL: .noCurrentCRL
        case .noCurrentCRLOfAnyAnchor: .noCurrentCRLOfAnyAnchor
        case .revocationCheckFailed: .revocationCheckFailed
        case .notRegistered: .notRegistered
        case .passwordLoginFailed: .passwordLoginFailed
        case .passwordLoginFailedNowLocked: .passwordLoginFailedNowLocked
        case .passwordLoginLocked: .passwordLoginLocked
        case .myKeySuspended: .myKeySuspended
        case .myKeyRevokedAlready: .myKeyRevokedAlready
        case .confirmationMismatch: .confirmationMismatch
        case .myKeyTaken: .myKeyTaken
        case .alreadyApplied: .alreadyApplied
        case .unknownProvider: .unknownProvider
        case .databaseFailed: .databaseFailed
        case .noRandomBytes: .noRandomBytes
        case .passwordHashFailed: .passwordHashFailed
        case .nothingOnDescriptor: .nothingOnDescriptor
        case .noTerminal: .noTerminal
        case .terminalUnusable: .terminalUnusable
        case .terminalClosed: .terminalClosed
        }
    }
}
