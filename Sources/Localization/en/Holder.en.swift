extension HolderMessage {
    /// The message in English.
    public var english: String {
        switch self {
        case .insertCard(let reader, let seconds):
            "Insert your My Number card into \(reader.map { "the reader \"\($0)\"" } ?? "a card reader") "
                + "(waiting up to \(seconds) s; Ctrl-C to stop)."
        case .waitingForCard(let seconds): "Waiting for the card… \(seconds) s left "
        case .cardFound(let reader): "Card found in \"\(reader)\"; reading its certificate."
        case .triesLeft(let tries): "PIN tries left: \(tries) of 3."
        case .lastTryWarning:
            "Warning: only 1 PIN try is left. A wrong PIN now blocks the card until the municipal office resets it."
        case .lastTryQuestion: "Use the last try? Type yes to go on: "
        case .pinPrompt: "User-authentication PIN (4 digits): "
        case .cardProved(let serial): "The card proved its certificate \(serial)."
        case .passwordPrompt(let myKey): "Password for MyKey ID \(myKey): "
        case .newPasswordPrompt(let minimum): "New password for MyKey ID login (\(minimum)+ characters): "
        case .passwordAgainPrompt: "Type the password again: "
        case .passwordLength(let minimum, let maximum): "a password has \(minimum) to \(maximum) characters"
        case .passwordControlCharacters: "a password cannot contain control characters"
        case .passwordsDiffer: "the two passwords differ; nothing was changed"
        case .alreadyRegistered(let myKey, let standing):
            "This card is already registered: MyKey ID \(myKey) (\(standing.rawValue))."
        case .registered(let myKey): "Registered: your MyKey ID is \(myKey)."
        case .alreadyAppliedWith(let provider): "Already applied with \(provider)."
        case .applied(let provider): "Applied for Mynapoint with \(provider)."
        case .revokeWarning(let myKey):
            "Revoking MyKey ID \(myKey) cannot be undone; its points become unusable."
        case .revokePrompt: "Type the MyKey ID to revoke it: "
        case .myKeyChanged(let old, let new): "MyKey ID changed from \(old) to \(new)"
        case .myKeyRevoked(let myKey): "MyKey ID \(myKey) is revoked"
        case .passwordSet(let myKey, let reset):
            "The password of MyKey ID \(myKey) is \(reset ? "reset" : "changed")"
        case .appliedWith(let myKey, let provider): "MyKey ID \(myKey) applied with \(provider)"
        case .error(let detail): "mynapoint: error: \(detail)"
        case .failed(let command, let detail): "\(command) failed: \(detail)"
        case .noTrustAnchors:
            "no trust anchors: give --trust-anchor FILE or set trust_anchors in the configuration"
        case .trustAnchorUnreadable(let file): "cannot read the trust anchor file \(file)"
        case .trustAnchorWithoutCertificate(let file): "the trust anchor file \(file) holds no PEM certificate"
        case .serviceUnavailable: "the PC/SC service (pcscd) is not running"
        case .noReader: "no card reader is attached; connect one and try again"
        case .noReaderNamed(let reader, let attached):
            "no reader named \"\(reader)\" is attached"
                + (attached.isEmpty ? "" : " (attached: \(attached.joined(separator: ", ")))")
        case .noCardWithin(let seconds): "no card was presented within \(seconds) s"
        case .noCardInTime: "no card was presented in time"
        case .readerGone: "the card reader is no longer available"
        case .cardRemoved: "the card was removed; insert it again and start over"
        case .cardBusy: "another application is using the card; close it and try again"
        case .cardCommunication(let detail): "talking to the card failed: \(detail)"
        case .notMyNumberCard(let status):
            "the card has no JPKI application (status \(status)): it is not a My Number card"
        case .missingCardFile(let file):
            "the card's JPKI application lacks EF \(file): it is not a usable My Number card"
        case .notJPKIToken: "the card's token information does not name a JPKI card"
        case .fileWithoutCertificate(let file): "EF \(file) does not start with a DER certificate"
        case .certificateUnreadable(let detail): "the card's certificate does not parse: \(detail)"
        case .cardFileTooLong: "a card file longer than READ BINARY can address"
        case .cardFileShort: "a card file ended before its declared length"
        case .emptySignature: "the card returned an empty signature"
        case .signRefused: "the card refused to sign: the PIN is not verified"
        case .unexpectedStatus(let status, let step): "the card answered \(status) when \(Self.english(step))"
        case .pinBlockedBeforeTry: "the card's PIN is blocked; it can be reset only at your municipal office"
        case .pinBlocked: "the PIN is blocked; the municipal office can reset it"
        case .wrongPINNowBlocked: "wrong PIN: the card is now blocked; the municipal office can reset the PIN"
        case .wrongPIN(let left): "wrong PIN: \(left) \(left == 1 ? "try" : "tries") left before the card blocks"
        case .declinedLastTry: "stopped before the last PIN try; nothing was sent to the card"
        case .pinFormat: "a PIN is 4 digits; nothing was sent to the card"
        case .myKeyFormat: "a MyKey ID is 8 characters of A–Z 0–9"
        case .providerIDFormat: "a provider ID is 1–16 characters of A–Z 0–9"
        case .pinUnreadable(let detail): "cannot read the PIN: \(detail)"
        case .noChallenge(let detail): "no random challenge: \(detail)"
        case .signatureInvalid: "the card's signature does not match its certificate: the card is not genuine"
        case .certificateExpired(let date):
            "the card's certificate expired on \(date); renew it at the municipal office"
        case .certificateNotYetValid(let date): "the card's certificate is valid only from \(date)"
        case .untrustedCertificate(let issuer):
            "the card's certificate (issuer \(issuer)) does not chain to a configured trust anchor"
        case .certificateRevoked(let serial, let date):
            "the card's certificate \(serial) was revoked on \(date); renew it at the municipal office"
        case .noCurrentCRL(let issuer):
            "no current CRL of \(issuer) is imported, so revocation cannot be checked; "
                + "import a current CRL with `mynapoint crl import FILE` and try again"
        case .noCurrentCRLOfAnyAnchor:
            "no current CRL of any trust anchor is imported, so revocation cannot be checked; "
                + "import a current CRL with `mynapoint crl import FILE` and try again"
        case .revocationCheckFailed(let detail): "checking revocation failed: \(detail)"
        case .notRegistered: "this card is not registered; run `mynapoint register` first"
        case .passwordLoginFailed: "MyKey ID or password is wrong (or no password is set: log in with the card)"
        case .passwordLoginFailedNowLocked(let limit, let until):
            "MyKey ID or password is wrong; after \(limit) failures in a row, password login "
                + "for this MyKey ID is locked until \(until): log in with the card (PIN) to unlock it"
        case .passwordLoginLocked(let until, let limit):
            "password login for this MyKey ID is locked until \(until) after \(limit) "
                + "failures in a row; log in with the card (PIN) to unlock it"
        case .myKeySuspended(let myKey): "MyKey ID \(myKey) is suspended by the operator; contact the help desk"
        case .myKeyRevokedAlready(let myKey): "MyKey ID \(myKey) was revoked; register again to get a new MyKey ID"
        case .confirmationMismatch(let myKey): "the confirmation does not match MyKey ID \(myKey); nothing was revoked"
        case .myKeyTaken(let myKey): "MyKey ID \(myKey) is or was in use; choose another"
        case .alreadyApplied: "this MyKey ID already applied for Mynapoint; an application cannot be changed"
        case .unknownProvider(let provider): "no provider \(provider) is registered"
        case .databaseFailed(let detail): "the database failed: \(detail)"
        case .noRandomBytes(let detail): "no random bytes for a MyKey ID: \(detail)"
        case .passwordHashFailed(let detail): "hashing the password failed: \(detail)"
        case .nothingOnDescriptor(let fd): "nothing to read on file descriptor \(fd)"
        case .noTerminal: "no terminal to ask on; for unattended use give --pin-fd / --password-fd / --confirm"
        case .terminalUnusable: "cannot turn the terminal's echo off"
        case .terminalClosed: "the terminal closed"
        }
    }

    /// A card step in English.
    private static func english(_ step: CardStep) -> String {
        switch step {
        case .selectingFile(let file): "selecting EF \(file)"
        case .askingTriesLeft: "asking the PIN's tries left"
        case .verifyingPIN: "verifying the PIN"
        case .signing: "signing"
        case .readingFile: "reading a file"
        }
    }
}
