import Crypto
import Foundation
import Postgres
import Registration
import Rules
import SmartCard
import Synchronization
import TestSupport
import Testing

@testable import Ledger

/// The PIN of every test card, and the passwords the tests set: distinctive, so a scan for them cannot hit by chance.
let testPIN = "8461"
let testPassword = "Kumquat-Lantern-93"
let otherPassword = "Marigold-Teapot-57"

/// A migrated temporary database with two providers, the shared test PKI, and a trust store of both JPKI CA
/// generations (not the unknown CA); unless told otherwise, a current, empty CRL of each generation is imported,
/// as card flows need (registration spec §5).
final class Fixture: @unchecked Sendable {
    // @unchecked: the connection is used by one test's thread at a time (libpq: one thread per connection).
    let database: TemporaryDatabase
    let ledger: Ledger
    let pki: TestPKI
    let trust: TrustStore

    init(currentCRLs: Bool = true) async throws {
        pki = try await TestPKI.shared()
        database = try TemporaryDatabase.create(prefix: "registration")
        ledger = Ledger(connection: try database.connect())
        try ledger.migrate()
        try ledger.connection.execute(
            "INSERT INTO providers (provider_id, name) VALUES ('PAYA', 'Pay A'), ('PAYB', 'Pay B')")
        trust = TrustStore(anchors: [pki.ca.certificate, pki.caNextGeneration.certificate])
        if currentCRLs {
            for ca in [pki.ca, pki.caNextGeneration] { try await importCurrentCRL(by: ca) }
        }
    }

    /// Imports a CRL of `ca`, issued a minute ago and due in a day, listing `revoked`.
    @discardableResult
    func importCurrentCRL(
        by ca: TestCA, revoked: [(serialHex: String, revokedAt: Date)] = []
    ) async throws -> CRLImportSummary {
        let crl = try await pki.revocationList(
            by: ca, revoked: revoked, thisUpdate: Date().addingTimeInterval(-60),
            nextUpdate: Date().addingTimeInterval(86_400))
        return try registrar.importCRL(crl.der, source: "current.crl", trustStore: trust)
    }

    /// The certificate `serial` of the test JPKI CA.
    func id(_ serial: String) -> CertificateID { CertificateID(issuer: TestPKI.jpkiName, serial: serial) }

    deinit {
        ledger.connection.close()
        database.drop()
    }

    var registrar: Registrar { Registrar(ledger: ledger, passwordCost: .cheap, actor: "tester@test") }

    /// A leaf of the current CA generation, valid from a year ago for four years, with the shared key.
    func leaf(
        serial: String, by ca: TestCA? = nil, notBefore: Date? = nil, notAfter: Date? = nil
    ) async throws -> TestLeaf {
        try await pki.issueLeaf(
            by: ca ?? pki.ca, serialHex: serial, notBefore: notBefore ?? Date().addingTimeInterval(-365 * 86_400),
            notAfter: notAfter ?? Date().addingTimeInterval(3 * 365 * 86_400), key: pki.sharedLeafKey)
    }

    /// Options for the flow; the card is in before the flow starts, so the generous wait ends at once unless
    /// something is wrong, and a loaded machine cannot make it run out.
    func options(
        reader: String? = VirtualReaders.cardReader, timeout: Duration = .seconds(30), requireCurrentCRL: Bool = true
    ) -> CardLoginOptions {
        var options = CardLoginOptions(reader: reader, timeout: timeout, trustStore: trust)
        options.requireCurrentCRL = requireCurrentCRL
        return options
    }

    /// Every value of every text-like column of every table, for secret scans.
    func allText() throws -> String {
        let columns = try ledger.connection.query(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'jsonb', 'character varying', 'bytea')
            """)
        var text = ""
        for row in columns {
            let table = try row[0].string()
            let column = try row[1].string()
            let values = try ledger.connection.query("SELECT \"\(column)\"::text FROM \"\(table)\"")
            for value in values { text += (value[0].optionalString() ?? "") + "\n" }
        }
        return text
    }

    /// The audit actions, oldest first.
    func auditActions() throws -> [String] {
        try ledger.connection.query(
            "SELECT action FROM audit_log WHERE action NOT IN ('migrate', 'crl.import') ORDER BY audit_id"
        ).map {
            try $0[0].string()
        }
    }
}

/// A person at the terminal, scripted: answers the PIN and the last-try question, and records what was shown.
final class ScriptedPerson: CardInteraction, @unchecked Sendable {
    // @unchecked: used by one flow's thread, then read by the test after the flow ended.
    private(set) var events: [String] = []
    let pin: String
    let confirm: Bool

    init(pin: String = testPIN, confirmLastTry: Bool = true) {
        self.pin = pin
        self.confirm = confirmLastTry
    }

    func waitingForCard(reader: String?, remaining: Duration) {
        if events.last != "waiting" { events.append("waiting") }
    }
    func cardFound(reader: String) { events.append("card \(reader)") }
    func showTriesLeft(_ tries: Int) { events.append("tries \(tries)") }
    func confirmLastTry() -> Bool {
        events.append("confirm?")
        return confirm
    }
    func readPIN() throws(RegistrationError) -> PIN {
        events.append("pin?")
        guard let pin = PIN(pin) else { throw RegistrationError(.invalidPIN, "a PIN is 4 digits") }
        return pin
    }
}

/// A `CardChannel` straight to an applet, without pcscd: for the protocol and the flows' database side.
final class AppletChannel: CardChannel {
    let applet: VirtualJPKIApplet
    private(set) var log: [[UInt8]] = []
    private(set) var transactions = 0
    private(set) var inTransaction = false
    /// The commands sent inside a transaction.
    private(set) var transacted: [[UInt8]] = []

    init(_ applet: VirtualJPKIApplet) {
        self.applet = applet
        applet.powerOn()
    }

    func transmit(_ command: CommandAPDU) throws(SmartCardError) -> ResponseAPDU {
        log.append(command.bytes)
        if inTransaction { transacted.append(command.bytes) }
        return try ResponseAPDU(bytes: applet.process(command.bytes))
    }
    func beginTransaction() throws(SmartCardError) {
        inTransaction = true
        transactions += 1
    }
    func endTransaction(_ disposition: Disposition) throws(SmartCardError) {
        inTransaction = false
        if disposition == .reset { applet.reset() }
    }
    func disconnect(_ disposition: Disposition) { applet.reset() }
}

/// An applet holding `leaf`.
func applet(_ leaf: TestLeaf, pki: TestPKI, triesLeft: Int = 3, jpki: Bool = true) -> VirtualJPKIApplet {
    VirtualJPKIApplet(
        certificate: leaf.certificate.der, caCertificate: pki.ca.certificate.der, privateKey: leaf.privateKey,
        pin: testPIN, triesLeft: triesLeft, jpki: jpki)
}

/// Card login through an in-process channel (no pcscd).
func loginInProcess(
    _ applet: VirtualJPKIApplet, fixture: Fixture, person: ScriptedPerson = ScriptedPerson(),
    requireCurrentCRL: Bool = true
) throws -> VerifiedCard {
    let card = JPKICard(channel: AppletChannel(applet))
    return try CardLogin.authenticate(
        card: card, reader: "in-process", options: fixture.options(requireCurrentCRL: requireCurrentCRL),
        ledger: fixture.ledger, interaction: person)
}

/// Expects `body` to fail with a `RegistrationError` of `code`; returns it.
@discardableResult
func expectFailure<T>(
    _ code: RegistrationError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) -> RegistrationError? {
    let error = #expect(throws: RegistrationError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
    return error
}

/// Runs blocking PC/SC and database calls on a dedicated thread, keeping them off Swift's cooperative pool.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error> {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: Result { try body() }) }.start()
    }
}

extension Result {
    /// The error as a `RegistrationError`, if it is one.
    var registrationError: RegistrationError? {
        if case .failure(let error) = self { return error as? RegistrationError }
        return nil
    }
}

extension PasswordHash.ScryptCost {
    /// N = 2^10: fast enough to hash in every test; what ships is `current`.
    static let cheap = PasswordHash.ScryptCost(ln: 10, r: 8, p: 1)
}
