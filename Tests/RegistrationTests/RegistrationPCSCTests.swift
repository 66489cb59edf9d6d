import Crypto
import Foundation
import Postgres
import Registration
import Rules
import TestSupport
import Testing

@testable import Ledger

/// The registration flow through the real pcscd, vsmartcard's vpcd reader and the virtual JPKI card.
///
/// Everything that uses the virtual readers is in this one serialized suite, and `.virtualReaders` keeps other
/// suites (and other test processes) that use them out while it runs. Blocking calls run on dedicated threads.
@Suite(.serialized, .virtualReaders, .enabled(if: ProcessInfo.processInfo.environment["MYNAPOINT_SKIP_PCSC"] != "1"))
struct RegistrationPCSCTests {
    init() throws {
        try #require(
            FileManager.default.fileExists(atPath: "/run/pcscd/pcscd.comm"),
            """
            pcscd is not running (no /run/pcscd/pcscd.comm): start it with \
            `source Scripts/services.sh && start_pcscd $PWD/.build/services/pcscd` or run Scripts/test.sh; \
            set MYNAPOINT_SKIP_PCSC=1 to skip the PC/SC tests
            """)
    }

    /// Inserts `card`, runs the card flow, removes the card and waits until pcscd has seen it go; the flow's
    /// outcome.
    ///
    /// Throws when the card could not be put in or taken out, which is no outcome of the flow.
    func login(
        _ card: VirtualJPKICard, _ fixture: Fixture, person: ScriptedPerson = ScriptedPerson(),
        options: CardLoginOptions? = nil
    ) async throws -> Result<VerifiedCard, RegistrationError> {
        let options = options ?? fixture.options()
        return try await blocking {
            try card.whileInserted {
                Result { () throws(RegistrationError) in
                    try CardLogin.run(options: options, ledger: fixture.ledger, interaction: person)
                }
            }
        }.get()
    }

    func card(
        _ fixture: Fixture, serial: String, triesLeft: Int = 3, by ca: TestCA? = nil,
        notBefore: Date? = nil, notAfter: Date? = nil
    ) async throws -> VirtualJPKICard {
        let leaf = try await fixture.leaf(serial: serial, by: ca, notBefore: notBefore, notAfter: notAfter)
        return VirtualJPKICard(leaf: leaf, ca: ca ?? fixture.pki.ca, pin: testPIN, triesLeft: triesLeft)
    }

    @Test func happyRegistrationThenTheSameCardIsExisting() async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D10001")
        let person = ScriptedPerson()
        let verified = try await login(card, fixture, person: person).get()
        #expect(verified.reader == VirtualReaders.cardReader)
        #expect(verified.certificate.serialHex == "D10001")
        // Tries left shown before the PIN is asked; at 3 tries no confirmation.
        #expect(person.events == ["waiting", "card \(VirtualReaders.cardReader)", "tries 3", "pin?"])
        let (outcome, account) = try fixture.registrar.register(
            verified, password: try Password(testPassword), apply: ProviderID("PAYA"))
        #expect(outcome.status == .created)
        #expect(outcome.certificateSerial == "D10001")
        #expect(try fixture.ledger.holder(myKey: account.myKey)?.providerID == "PAYA")

        // The signature came from inside one transaction, and the card was reset afterwards (PIN state gone).
        let log = card.apduLog
        #expect(log.contains { $0.starts(with: [0x80, 0x2A, 0x00, 0x80, 51]) })
        #expect(card.applet.pinTriesLeft == 3)

        let second = try await login(card, fixture).get()
        let again = try fixture.registrar.register(second, password: nil, apply: nil)
        #expect(again.outcome.status == .existing)
        #expect(again.outcome.myKeyID == account.myKey.description)
        #expect(!(try fixture.allText().contains(testPIN)))
    }

    @Test func wrongPINThenRightPINShowsTriesAndResetsTheCounter() async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D20001")
        let wrong = try await login(card, fixture, person: ScriptedPerson(pin: "0000"))
        #expect(wrong.registrationError?.code == .wrongPIN(triesLeft: 2))
        #expect(wrong.registrationError?.message.contains("2 tries left") == true)
        #expect(!(wrong.registrationError?.message.contains("0000") ?? true))
        // Never retried automatically: exactly one VERIFY with a PIN reached the card.
        #expect(card.apduLog.filter { $0.count > 5 && $0[1] == 0x20 }.count == 1)

        let person = ScriptedPerson()
        _ = try await login(card, fixture, person: person).get()
        #expect(person.events.contains("tries 2"))
        #expect(card.applet.pinTriesLeft == 3)
    }

    @Test func aPINThatBlocksTheCard() async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D30001", triesLeft: 1)
        let declined = ScriptedPerson(pin: "0000", confirmLastTry: false)
        #expect(try await login(card, fixture, person: declined).registrationError?.code == .declined)
        #expect(declined.events.suffix(2) == ["tries 1", "confirm?"])
        #expect(!card.receivedPINVerify)

        let person = ScriptedPerson(pin: "0000", confirmLastTry: true)
        let blocked = try await login(card, fixture, person: person)
        #expect(blocked.registrationError?.code == .pinBlocked)
        #expect(blocked.registrationError?.message.contains("municipal office") == true)
        #expect(card.applet.pinTriesLeft == 0)
    }

    @Test func aBlockedCardIsRefusedBeforeAnyVERIFY() async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D40001", triesLeft: 0)
        let person = ScriptedPerson()
        let outcome = try await login(card, fixture, person: person)
        #expect(outcome.registrationError?.code == .pinBlocked)
        #expect(!card.receivedPINVerify)
        #expect(!person.events.contains("pin?"))
        // The tries-left query (VERIFY without data) was sent.
        #expect(card.apduLog.contains([0x00, 0x20, 0x00, 0x80]))
    }

    @Test func anUntrustedIssuerIsRefused() async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D50001", by: fixture.pki.unknownCA)
        let person = ScriptedPerson()
        #expect(try await login(card, fixture, person: person).registrationError?.code == .untrustedCertificate)
        #expect(!person.events.contains("pin?"))
        #expect(!card.receivedPINVerify)
    }

    @Test func anExpiredCertificateIsRefused() async throws {
        let fixture = try await Fixture()
        let card = try await card(
            fixture, serial: "D60001", notBefore: Date().addingTimeInterval(-800 * 86_400),
            notAfter: Date().addingTimeInterval(-86_400))
        #expect(try await login(card, fixture).registrationError?.code == .certificateExpired)
        #expect(!card.receivedPINVerify)
    }

    @Test func aRevokedCertificateIsRefused() async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D70001")
        let crl = try await fixture.pki.revocationList(
            by: fixture.pki.ca, revoked: [("D70001", Date().addingTimeInterval(-3600))],
            thisUpdate: Date().addingTimeInterval(-60), nextUpdate: Date().addingTimeInterval(86_400))
        _ = try fixture.registrar.importCRL(crl.der, source: "revoked.crl", trustStore: fixture.trust)
        #expect(try await login(card, fixture).registrationError?.code == .certificateRevoked)
        #expect(!card.receivedPINVerify)
    }

    @Test func aForgedSignatureIsRefused() async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D80001")
        card.applet.forgeSignature = true
        #expect(try await login(card, fixture).registrationError?.code == .signatureInvalid)
        #expect(try fixture.ledger.connection.query("SELECT count(*) FROM holders")[0, 0].int() == 0)
    }

    /// The card vanishes on the command of `point` (it closes its connection instead of answering), and `login`
    /// waits until pcscd has seen it go, so the next test finds the reader settled.
    @Test(arguments: [VirtualJPKIApplet.RemovalPoint.verify, .sign, .readCertificate])
    func aCardRemovedMidFlow(at point: VirtualJPKIApplet.RemovalPoint) async throws {
        let fixture = try await Fixture()
        let card = try await card(fixture, serial: "D90001")
        card.applet.removeAt = point
        let outcome = try await login(card, fixture)
        #expect(outcome.registrationError?.code == .cardRemoved, "\(outcome)")
        // It vanished at the intended step: the command of that step was the last to reach it.
        let last = try #require(card.apduLog.last)
        #expect(Self.isCommand(last, of: point), "last command \(last)")
        #expect(try fixture.ledger.connection.query("SELECT count(*) FROM holders")[0, 0].int() == 0)
    }

    /// After a card vanished mid-command, pcscd's failed reset marks the reader empty before its own poll has seen
    /// the card go.
    ///
    /// A card put in at once must still be seen arriving, and work.
    @Test func aCardRightAfterOneRemovedMidFlowIsSeen() async throws {
        let fixture = try await Fixture()
        let vanishing = try await card(fixture, serial: "D90002")
        vanishing.applet.removeAt = .verify
        // Both cards are made first, so that nothing slows the second one down.
        let next = try await card(fixture, serial: "D90003")
        #expect(try await login(vanishing, fixture).registrationError?.code == .cardRemoved)
        let verified = try await login(next, fixture).get()
        #expect(verified.certificate.serialHex == "D90003")
    }

    /// Whether `apdu` is the command the flow sends at `point`.
    static func isCommand(_ apdu: [UInt8], of point: VirtualJPKIApplet.RemovalPoint) -> Bool {
        switch point {
        case .readCertificate: apdu.starts(with: [0x00, 0xB0])
        case .verify: apdu.starts(with: [0x00, 0x20]) && apdu.count > 5  // a VERIFY carrying the PIN
        case .sign: apdu.starts(with: [0x80, 0x2A])
        }
    }

    @Test func aCardWithoutTheJPKIApplication() async throws {
        let fixture = try await Fixture()
        let leaf = try await fixture.leaf(serial: "DA0001")
        let card = VirtualJPKICard(leaf: leaf, ca: fixture.pki.ca, pin: testPIN, jpki: false)
        #expect(try await login(card, fixture).registrationError?.code == .notMyNumberCard)
    }

    @Test func noCardTimesOutWithAVisibleWait() async throws {
        let fixture = try await Fixture()
        let person = ScriptedPerson()
        let options = fixture.options(reader: VirtualReaders.emptyReader, timeout: .milliseconds(1500))
        let outcome = await blocking {
            try CardLogin.run(options: options, ledger: fixture.ledger, interaction: person)
        }
        #expect(outcome.registrationError?.code == .noCard)
        #expect(person.events == ["waiting"])
    }

    @Test func noReaderOfThatName() async throws {
        let fixture = try await Fixture()
        let options = fixture.options(reader: "No Such Reader 00 00", timeout: .seconds(1))
        let outcome = await blocking {
            try CardLogin.run(options: options, ledger: fixture.ledger, interaction: ScriptedPerson())
        }
        #expect(outcome.registrationError?.code == .noReader)
        #expect(outcome.registrationError?.message.contains("No Such Reader 00 00") == true)
    }
}
