import Crypto
import Foundation
import Postgres
import Registration
import Rules
import TestSupport
import Testing

@testable import Ledger

/// Registration's database side and every management action, with the card in process (no pcscd), and what
/// settlement then sees (`holder(myKey:)`, `loadSnapshot()`).
@Suite struct ManagementTests {
    /// Registers a new card with the test password and an application with PAYA.
    func registered(_ fixture: Fixture, serial: String) async throws -> (VerifiedCard, HolderAccount) {
        let leaf = try await fixture.leaf(serial: serial)
        let card = try loginInProcess(applet(leaf, pki: fixture.pki), fixture: fixture)
        let (outcome, account) = try fixture.registrar.register(
            card, password: try Password(testPassword), apply: ProviderID("PAYA"))
        #expect(outcome.status == .created)
        return (card, account)
    }

    @Test func registrationBindsTheCertificateAndAppliesOnce() async throws {
        let fixture = try await Fixture()
        let (card, account) = try await registered(fixture, serial: "A10001")
        let row = try fixture.ledger.connection.query(
            """
            SELECT c.holder_key, c.not_before_ns, c.not_after_ns, c.issuer, c.public_key_sha256, r.revoked_at_ns
            FROM certificates c LEFT JOIN certificate_revocations r USING (issuer, serial)
            """)
        #expect(row.rowCount == 1)
        #expect(try row[0, 0].int() == account.holderKey)
        #expect(try row[0, 1].int() == Instant(card.certificate.notBefore).nanosecondsSinceEpoch)
        #expect(try row[0, 2].int() == Instant(card.certificate.notAfter).nanosecondsSinceEpoch)
        #expect(try row[0, 3].string() == TestPKI.jpkiName)
        #expect(try row[0, 4].bytes() == card.certificate.publicKeySHA256)
        #expect(row[0, 5].isNull)
        let view = try #require(try fixture.ledger.holder(myKey: account.myKey))
        #expect(view.status == "active")
        #expect(view.providerID == "PAYA")
        let hash = try #require(account.passwordHash)
        #expect(PasswordHash.verify(password: testPassword, encoded: hash))

        // The same card again: existing, nothing new.
        let again = try fixture.registrar.register(card, password: nil, apply: nil)
        #expect(
            again.outcome
                == RegistrationOutcome(
                    myKeyID: account.myKey.description, certificateSerial: "A10001", status: .existing))
        #expect(try fixture.ledger.connection.query("SELECT count(*) FROM holders")[0, 0].int() == 1)
        #expect(
            try fixture.auditActions() == ["holder.create", "password.set", "application.create", "register.existing"])

        // One application per holder, never changed.
        let holder = try fixture.registrar.login(card)
        expectFailure(.alreadyApplied) { try fixture.registrar.apply(holder, provider: ProviderID("PAYB")!) }
    }

    @Test func applyRequiresARegisteredProvider() async throws {
        let fixture = try await Fixture()
        let leaf = try await fixture.leaf(serial: "A10002")
        let card = try loginInProcess(applet(leaf, pki: fixture.pki), fixture: fixture)
        let (_, account) = try fixture.registrar.register(card, password: try Password(testPassword), apply: nil)
        #expect(account.provider == nil)
        let holder = try fixture.registrar.login(myKey: account.myKey, password: try Password(testPassword))
        expectFailure(.unknownProvider) { try fixture.registrar.apply(holder, provider: ProviderID("NOPE")!) }
        try fixture.registrar.apply(holder, provider: ProviderID("PAYB")!)
        #expect(try fixture.ledger.holder(myKey: account.myKey)?.providerID == "PAYB")
        let snapshot = try fixture.ledger.loadSnapshot()
        let index = try #require(snapshot.holder(myKey: account.myKey))
        #expect(snapshot.applicationProviders[Int(index)] == snapshot.providerIndex(ProviderID("PAYB")!))
    }

    @Test func changeKeepsTheOldIDResolvingAndNeverReusable() async throws {
        let fixture = try await Fixture()
        let (card, account) = try await registered(fixture, serial: "A20001")
        let (_, other) = try await registered(fixture, serial: "A20002")
        let holder = try fixture.registrar.login(card)
        let newID = MyKeyID("NEWID001")!
        let changed = try fixture.registrar.changeMyKey(holder, to: newID)
        #expect(changed.myKey == newID)

        // Settlement: a record under the old ID resolves to the same holder.
        #expect(try fixture.ledger.holder(myKey: account.myKey)?.myKey == "NEWID001")
        let snapshot = try fixture.ledger.loadSnapshot()
        let byOld = try #require(snapshot.holder(myKey: account.myKey))
        #expect(snapshot.holder(myKey: newID) == byOld)
        #expect(snapshot.currentMyKeys[Int(byOld)] == newID)

        // Neither the old ID, nor another holder's, nor the same holder's current one can be taken.
        let otherHolder = try fixture.registrar.login(myKey: other.myKey, password: try Password(testPassword))
        expectFailure(.myKeyTaken) { try fixture.registrar.changeMyKey(otherHolder, to: account.myKey) }
        expectFailure(.myKeyTaken) { try fixture.registrar.changeMyKey(otherHolder, to: newID) }
        let again = try fixture.registrar.login(card)
        expectFailure(.myKeyTaken) { try fixture.registrar.changeMyKey(again, to: account.myKey) }

        // Password login accepts the current ID only.
        expectFailure(.authenticationFailed) {
            try fixture.registrar.login(myKey: account.myKey, password: try Password(testPassword))
        }
        _ = try fixture.registrar.login(myKey: newID, password: try Password(testPassword))
        #expect(try fixture.auditActions().contains("mykey.change"))
    }

    @Test func passwordChangeAndResetAfterCardLogin() async throws {
        let fixture = try await Fixture()
        let (card, account) = try await registered(fixture, serial: "A30001")
        expectFailure(.authenticationFailed) {
            try fixture.registrar.login(myKey: account.myKey, password: try Password(otherPassword))
        }
        expectFailure(.authenticationFailed) {
            try fixture.registrar.login(myKey: MyKeyID("ZZZZZZZZ")!, password: try Password(testPassword))
        }
        let byPassword = try fixture.registrar.login(myKey: account.myKey, password: try Password(testPassword))
        try fixture.registrar.setPassword(byPassword, to: try Password(otherPassword))
        _ = try fixture.registrar.login(myKey: account.myKey, password: try Password(otherPassword))
        // Forgotten: reset after card login.
        let byCard = try fixture.registrar.login(card)
        try fixture.registrar.setPassword(byCard, to: try Password(testPassword))
        _ = try fixture.registrar.login(myKey: account.myKey, password: try Password(testPassword))
        let actions = try fixture.auditActions()
        #expect(actions.contains("password.change"))
        #expect(actions.contains("password.reset"))
    }

    @Test func suspendAndUnsuspendAreOperatorActionsSeenBySettlement() async throws {
        let fixture = try await Fixture()
        let (card, account) = try await registered(fixture, serial: "A40001")
        let suspended = try fixture.registrar.suspend(myKey: account.myKey, reason: "leak report 17")
        #expect(suspended.status == .suspended)
        var snapshot = try fixture.ledger.loadSnapshot()
        #expect(snapshot.statuses[Int(try #require(snapshot.holder(myKey: account.myKey)))] == .suspended)
        // No login while suspended, by card or password.
        expectFailure(.holderSuspended) { try fixture.registrar.login(card) }
        expectFailure(.holderSuspended) {
            try fixture.registrar.login(myKey: account.myKey, password: try Password(testPassword))
        }
        expectFailure(.holderSuspended) { try fixture.registrar.suspend(myKey: account.myKey, reason: "twice") }
        _ = try fixture.registrar.unsuspend(myKey: account.myKey, reason: "cleared")
        expectFailure(.holderNotSuspended) { try fixture.registrar.unsuspend(myKey: account.myKey, reason: "again") }
        snapshot = try fixture.ledger.loadSnapshot()
        #expect(snapshot.statuses[Int(try #require(snapshot.holder(myKey: account.myKey)))] == .active)
        expectFailure(.holderNotFound) { try fixture.registrar.suspend(myKey: MyKeyID("NOBODY00")!, reason: "x") }
        let detail = try fixture.ledger.connection.query(
            "SELECT actor, detail->>'reason' FROM audit_log WHERE action = 'holder.suspend'")
        #expect(try detail[0, 0].string() == "tester@test")
        #expect(try detail[0, 1].string() == "leak report 17")
    }

    @Test func revokeIsFinalAndNeedsTheIDTyped() async throws {
        let fixture = try await Fixture()
        let (card, account) = try await registered(fixture, serial: "A50001")
        let holder = try fixture.registrar.login(card)
        expectFailure(.invalidInput) { try fixture.registrar.revoke(holder, confirmation: "WRONGID1") }
        #expect(try fixture.ledger.holder(myKey: account.myKey)?.status == "active")
        let revoked = try fixture.registrar.revoke(holder, confirmation: account.myKey.description)
        #expect(revoked.status == .revoked)
        let snapshot = try fixture.ledger.loadSnapshot()
        #expect(snapshot.statuses[Int(try #require(snapshot.holder(myKey: account.myKey)))] == .revoked)
        expectFailure(.holderRevoked) { try fixture.registrar.login(card) }
        expectFailure(.holderRevoked) { try fixture.registrar.unsuspend(myKey: account.myKey, reason: "undo") }
        expectFailure(.holderRevoked) { try fixture.registrar.suspend(myKey: account.myKey, reason: "x") }

        // The same card registers again: a new holder with a new MyKey ID; the revoked ID stays revoked.
        let (outcome, fresh) = try fixture.registrar.register(card, password: try Password(testPassword), apply: nil)
        #expect(outcome.status == .created)
        #expect(fresh.myKey != account.myKey)
        #expect(try fixture.ledger.holder(myKey: account.myKey)?.status == "revoked")
        #expect(try fixture.registrar.login(card).account.myKey == fresh.myKey)
    }

    @Test func certificateLinkBindsTheNewCardToTheSameHolder() async throws {
        let fixture = try await Fixture()
        let (_, account) = try await registered(fixture, serial: "A60001")
        let (_, other) = try await registered(fixture, serial: "A60009")

        // Single link without validity: bound when the new card is first presented.
        try fixture.registrar.link([CertificateLink(old: fixture.id("A60001"), new: fixture.id("A60002"))])
        let renewed = try await fixture.leaf(serial: "A60002", by: fixture.pki.caNextGeneration)
        let newCard = try loginInProcess(applet(renewed, pki: fixture.pki), fixture: fixture)
        let again = try fixture.registrar.register(newCard, password: nil, apply: nil)
        #expect(again.outcome.status == .existing)
        #expect(again.outcome.myKeyID == account.myKey.description)
        let bound = try fixture.ledger.connection.query(
            "SELECT holder_key, not_after_ns FROM certificates WHERE serial = 'A60002' AND issuer = $1",
            [.text(TestPKI.jpkiName)])
        #expect(try bound[0, 0].int() == account.holderKey)
        #expect(try bound[0, 1].int() == Instant(renewed.certificate.notAfter).nanosecondsSinceEpoch)

        // Bulk, with validity: settlement sees the certificates at once.
        let from = Instant(secondsSinceEpoch: 1_700_000_000)
        let until = Instant(secondsSinceEpoch: 1_800_000_000)
        let count = try fixture.registrar.link([
            CertificateLink(old: fixture.id("A60002"), new: fixture.id("A60003"), validity: (from, until), line: 2),
            CertificateLink(old: fixture.id("A60009"), new: fixture.id("A6000A"), validity: (from, until), line: 3),
        ])
        #expect(count == 2)
        let snapshot = try fixture.ledger.loadSnapshot()
        let index = try #require(snapshot.holder(myKey: account.myKey))
        #expect(snapshot.certificates(of: index).contains(CertificateValidity(notBefore: from, notAfter: until)))
        let otherIndex = try #require(snapshot.holder(myKey: other.myKey))
        #expect(snapshot.certificates(of: otherIndex).count == 2)

        // All or nothing: an unknown old serial, or a new serial of another holder, changes nothing.
        let before = try fixture.ledger.connection.query("SELECT count(*) FROM certificate_links")[0, 0].int()
        expectFailure(.invalidLink) {
            try fixture.registrar.link([
                CertificateLink(old: fixture.id("A60001"), new: fixture.id("A60004"), line: 2),
                CertificateLink(old: fixture.id("FFFF01"), new: fixture.id("A60005"), line: 3),
            ])
        }
        let stolen = expectFailure(.invalidLink) {
            try fixture.registrar.link([CertificateLink(old: fixture.id("A60001"), new: fixture.id("A60009"), line: 2)])
        }
        #expect(stolen?.message.contains("A60009") == true)
        #expect(try fixture.ledger.connection.query("SELECT count(*) FROM certificate_links")[0, 0].int() == before)
        #expect(try fixture.auditActions().contains("certificate.link"))
    }

    @Test(arguments: ["der", "pem"])
    func crlImportMarksListedSerialsRevokedWithTheirTimes(format: String) async throws {
        let fixture = try await Fixture()
        let (_, account) = try await registered(fixture, serial: "B10001")
        let (_, untouched) = try await registered(fixture, serial: "B10002")
        let revokedAt = Date(timeIntervalSince1970: 1_720_000_000)
        let crl = try await fixture.pki.revocationList(
            by: fixture.pki.ca, revoked: [("B10001", revokedAt), ("B1FFFF", revokedAt)],
            thisUpdate: Date().addingTimeInterval(-3600), nextUpdate: Date().addingTimeInterval(86_400))
        let bytes = format == "der" ? crl.der : Array(crl.pem.utf8)
        let summary = try fixture.registrar.importCRL(bytes, source: "test.crl", trustStore: fixture.trust)
        #expect(summary.counts.listed == 2)
        #expect(summary.counts.newlyRevoked == 2)
        #expect(summary.counts.movedEarlier == 0)
        #expect(summary.counts.bound == 1)
        #expect(summary.issuer == TestPKI.jpkiName)
        #expect(summary.crlNumber != nil)

        let snapshot = try fixture.ledger.loadSnapshot()
        let index = try #require(snapshot.holder(myKey: account.myKey))
        #expect(snapshot.certificates(of: index).first?.revokedAt == Instant(revokedAt))
        let other = try #require(snapshot.holder(myKey: untouched.myKey))
        #expect(snapshot.certificates(of: other).first?.revokedAt == nil)

        // A listed serial not yet registered cannot register later.
        let unregistered = try await fixture.leaf(serial: "B1FFFF")
        expectFailure(.certificateRevoked) {
            try loginInProcess(applet(unregistered, pki: fixture.pki), fixture: fixture)
        }
        // Importing the same CRL again changes nothing (and is not stale: it is the newest).
        let replay = try fixture.registrar.importCRL(bytes, source: "test.crl", trustStore: fixture.trust)
        #expect(replay.counts.newlyRevoked == 0 && replay.counts.movedEarlier == 0)
        #expect(try fixture.ledger.revocationTime(of: fixture.id("B1FFFF")) == Instant(revokedAt))
    }

    @Test func foreignOrMalformedCRLsAreRefused() async throws {
        let fixture = try await Fixture()
        let (_, account) = try await registered(fixture, serial: "B20001")
        let foreign = try await fixture.pki.revocationList(
            by: fixture.pki.unknownCA, revoked: [("B20001", Date())], thisUpdate: Date().addingTimeInterval(-60),
            nextUpdate: Date().addingTimeInterval(86_400))
        expectFailure(.untrustedCRL) {
            try fixture.registrar.importCRL(foreign.der, source: "foreign.crl", trustStore: fixture.trust)
        }
        // Signed by a CA of the trusted name but a key no anchor has: a forgery.
        let onlyFirst = TrustStore(anchors: [fixture.pki.ca.certificate])
        let otherGeneration = try await fixture.pki.revocationList(
            by: fixture.pki.caNextGeneration, revoked: [("B20001", Date())], thisUpdate: Date().addingTimeInterval(-60),
            nextUpdate: Date().addingTimeInterval(86_400))
        expectFailure(.untrustedCRL) {
            try fixture.registrar.importCRL(otherGeneration.pem.utf8.map { $0 }, source: "x.crl", trustStore: onlyFirst)
        }
        expectFailure(.untrustedCRL) {
            try fixture.registrar.importCRL(Array("not a CRL".utf8), source: "junk.crl", trustStore: fixture.trust)
        }
        #expect(try fixture.ledger.loadSnapshot().certificates(of: 0).first?.revokedAt == nil)
        #expect(try fixture.ledger.holder(myKey: account.myKey)?.status == "active")
        // Only the fixture's two current CRLs were imported.
        #expect(try fixture.ledger.connection.query("SELECT count(*) FROM crl_imports")[0, 0].int() == 2)
        #expect(try fixture.ledger.revocationTime(of: fixture.id("B20001")) == nil)
    }

    @Test func noPINOrPasswordIsStoredAnywhere() async throws {
        let fixture = try await Fixture()
        let (card, account) = try await registered(fixture, serial: "C10001")
        let holder = try fixture.registrar.login(card)
        try fixture.registrar.setPassword(holder, to: try Password(otherPassword))
        _ = try fixture.registrar.changeMyKey(holder, to: MyKeyID("CHANGED1")!)
        _ = account
        let text = try fixture.allText()
        #expect(!text.isEmpty)
        #expect(!text.contains(testPIN))
        #expect(!text.contains(testPassword))
        #expect(!text.contains(otherPassword))
    }
}
