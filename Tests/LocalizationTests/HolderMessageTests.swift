import Localization
import TestSupport
import Testing

/// Every message a resident reads, in both languages, saying the same IDs and numbers.
@Suite struct HolderMessageTests {
    static let samples: [HolderMessage] = [
        .insertCard(reader: nil, seconds: 60), .insertCard(reader: "Reader 00 00", seconds: 5),
        .waitingForCard(seconds: 42), .cardFound(reader: "Reader 00 00"), .triesLeft(2), .lastTryWarning,
        .lastTryQuestion, .pinPrompt, .cardProved(serial: "E2E001"), .passwordPrompt(myKey: "AB12CD34"),
        .newPasswordPrompt(minimum: 8), .passwordAgainPrompt, .passwordLength(minimum: 8, maximum: 128),
        .passwordControlCharacters, .passwordsDiffer, .alreadyRegistered(myKey: "AB12CD34", standing: .active),
        .alreadyRegistered(myKey: "AB12CD34", standing: .suspended), .registered(myKey: "AB12CD34"),
        .alreadyAppliedWith(provider: "PAYA1"), .applied(provider: "PAYA1"), .revokeWarning(myKey: "AB12CD34"),
        .revokePrompt, .myKeyChanged(from: "AB12CD34", to: "ZZ99ZZ99"), .myKeyRevoked(myKey: "AB12CD34"),
        .passwordSet(myKey: "AB12CD34", reset: true), .passwordSet(myKey: "AB12CD34", reset: false),
        .appliedWith(myKey: "AB12CD34", provider: "PAYA1"), .error("E_42"),
        .failed(command: "registration", detail: "code 7"), .noTrustAnchors,
        .trustAnchorUnreadable(file: "/etc/ca1.pem"), .trustAnchorWithoutCertificate(file: "/etc/ca1.pem"),
        .serviceUnavailable, .noReader, .noReaderNamed("Reader 01", attached: ["Reader 00 00", "Reader 02"]),
        .noCardWithin(seconds: 30), .noCardInTime, .readerGone, .cardRemoved, .cardBusy,
        .cardCommunication(detail: "0x80100066"), .notMyNumberCard(status: "6A82"), .missingCardFile("0017"),
        .notJPKIToken, .fileWithoutCertificate("000A"), .certificateUnreadable(detail: "ASN1_1"), .cardFileTooLong,
        .cardFileShort, .emptySignature, .signRefused, .unexpectedStatus("6F00", .selectingFile("0018")),
        .unexpectedStatus("6F01", .askingTriesLeft), .unexpectedStatus("6F02", .verifyingPIN),
        .unexpectedStatus("6F03", .signing), .unexpectedStatus("6F04", .readingFile), .pinBlockedBeforeTry,
        .pinBlocked, .wrongPINNowBlocked, .wrongPIN(triesLeft: 2), .wrongPIN(triesLeft: 1), .declinedLastTry,
        .pinFormat, .myKeyFormat, .providerIDFormat, .pinUnreadable(detail: "EIO_5"), .noChallenge(detail: "RAND_1"),
        .signatureInvalid,
        .certificateExpired(on: "2026-01-31T00:00:00Z"), .certificateNotYetValid(from: "2027-04-01T00:00:00Z"),
        .untrustedCertificate(issuer: "CN=CA 2"), .certificateRevoked(serial: "A60001", on: "2026-05-01T09:00:00Z"),
        .noCurrentCRL(issuer: "CN=CA 2"), .noCurrentCRLOfAnyAnchor, .revocationCheckFailed(detail: "SQLSTATE 08006"),
        .notRegistered, .passwordLoginFailed, .passwordLoginFailedNowLocked(limit: 5, until: "2026-12-01T21:00:00Z"),
        .passwordLoginLocked(until: "2026-12-01T21:00:00Z", limit: 5), .myKeySuspended("AB12CD34"),
        .myKeyRevokedAlready("AB12CD34"), .confirmationMismatch(myKey: "AB12CD34"), .myKeyTaken("ZZ99ZZ99"),
        .alreadyApplied, .unknownProvider("PAYB2"), .databaseFailed(detail: "SQLSTATE 57P01"),
        .noRandomBytes(detail: "RAND_2"), .passwordHashFailed(detail: "scrypt_1"), .nothingOnDescriptor(3),
        .noTerminal, .terminalUnusable, .terminalClosed,
    ]

    @Test func everyMessageInBothLanguages() {
        checkParity(Self.samples)
    }

    /// The terms of the program's own guidance for residents, where a resident meets them.
    @Test(arguments: [
        (HolderMessage.pinPrompt, "利用者証明用電子証明書の暗証番号（数字4桁）"),
        (.triesLeft(2), "残り回数"),
        (.insertCard(reader: nil, seconds: 60), "マイナンバーカード"),
        (.pinBlockedBeforeTry, "お住まいの市区町村の窓口で初期化"),
        (.wrongPINNowBlocked, "お住まいの市区町村の窓口"),
        (.certificateRevoked(serial: "A60001", on: "2026-05-01T09:00:00Z"), "失効"),
        (.certificateExpired(on: "2026-01-31T00:00:00Z"), "有効期限"),
        (.myKeySuspended("AB12CD34"), "利用停止"),
        (.myKeyRevokedAlready("AB12CD34"), "失効"),
        (.registered(myKey: "AB12CD34"), "マイキーID"),
        (.applied(provider: "PAYA1"), "キャッシュレス決済サービス"),
        (.alreadyApplied, "申込"),
        (.revokeWarning(myKey: "AB12CD34"), "ポイント"),
    ])
    func japaneseUsesTheProgramsTerms(message: HolderMessage, term: String) {
        #expect(message.japanese.contains(term), "\(message.japanese)")
    }

    /// The English is what the terminal showed before there was a Japanese one: scripts and tests match it.
    @Test func englishPromptsAreUnchanged() {
        #expect(HolderMessage.pinPrompt.english == "User-authentication PIN (4 digits): ")
        #expect(HolderMessage.triesLeft(3).english == "PIN tries left: 3 of 3.")
        #expect(HolderMessage.wrongPIN(triesLeft: 2).english == "wrong PIN: 2 tries left before the card blocks")
        #expect(HolderMessage.error("x").english == "mynapoint: error: x")
        #expect(
            HolderMessage.insertCard(reader: "R", seconds: 60).english
                == "Insert your My Number card into the reader \"R\" (waiting up to 60 s; Ctrl-C to stop).")
    }

    /// A Japanese message says the resident's values and nothing in English: no run of English words.
    @Test func japaneseHasNoEnglishSentence() {
        for sample in Self.samples {
            #expect(!EnglishText.hasPhrase(sample.japanese), "\(sample.key): \(sample.japanese)")
        }
    }
}
