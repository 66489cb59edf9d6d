import Crypto
import Foundation
import Postgres
import Registration
import Rules
import Settlement
import TestSupport
import Testing

@testable import Ledger

/// Registration spec §5 on the registration side: card flows fail closed without a current CRL of the
/// certificate's issuer (CA generation); CRL import refuses stale or wrongly signed CRLs; a revocation from any
/// source stops the card.
@Suite struct RevocationDataTests {
    @Test func registrationNeedsACurrentCRLOfTheCertificatesIssuer() async throws {
        let fixture = try await Fixture(currentCRLs: false)
        let leaf = try await fixture.leaf(serial: "E10001")
        let card = applet(leaf, pki: fixture.pki)
        let person = ScriptedPerson()
        let none = expectFailure(.revocationDataNotCurrent) {
            try loginInProcess(card, fixture: fixture, person: person)
        }
        #expect(none?.message.contains("import a current CRL") == true)
        #expect(!person.events.contains("pin?"))

        // An expired CRL is not current; nor is a current CRL of the other CA generation (same name, other key).
        let expired = try await fixture.pki.revocationList(
            by: fixture.pki.ca, revoked: [], thisUpdate: Date().addingTimeInterval(-7 * 86_400),
            nextUpdate: Date().addingTimeInterval(-86_400))
        _ = try fixture.registrar.importCRL(expired.der, source: "expired.crl", trustStore: fixture.trust)
        try await fixture.importCurrentCRL(by: fixture.pki.caNextGeneration)
        expectFailure(.revocationDataNotCurrent) { try loginInProcess(card, fixture: fixture) }

        try await fixture.importCurrentCRL(by: fixture.pki.ca)
        let verified = try loginInProcess(card, fixture: fixture)
        #expect(verified.revocationChecked)
        let (outcome, _) = try fixture.registrar.register(verified, password: try Password(testPassword), apply: nil)
        #expect(outcome.status == .created)
        let detail = try fixture.ledger.connection.query(
            "SELECT detail ? 'revocation' FROM audit_log WHERE action = 'holder.create'")
        #expect(try detail[0, 0].bool() == false)
    }

    @Test func aLabMayRegisterWithoutACurrentCRLAndTheAuditSaysSo() async throws {
        let fixture = try await Fixture(currentCRLs: false)
        let leaf = try await fixture.leaf(serial: "E20001")
        let verified = try loginInProcess(applet(leaf, pki: fixture.pki), fixture: fixture, requireCurrentCRL: false)
        #expect(!verified.revocationChecked)
        let (_, account) = try fixture.registrar.register(verified, password: try Password(testPassword), apply: nil)
        let detail = try fixture.ledger.connection.query(
            "SELECT detail->>'revocation' FROM audit_log WHERE action = 'holder.create'")
        #expect(try detail[0, 0].string().contains("not checked"))
        // A later card login audits it too.
        let holder = try fixture.registrar.login(verified)
        try fixture.registrar.apply(holder, provider: ProviderID("PAYA")!)
        let via = try fixture.ledger.connection.query(
            "SELECT detail->>'via' FROM audit_log WHERE action = 'application.create'")
        #expect(try via[0, 0].string().contains("revocation not checked"))
        // Known revocations still count without a current CRL.
        try fixture.registrar.revokeCertificate(fixture.id("E20001"), at: Instant(Date()), reason: "lost card")
        expectFailure(.certificateRevoked) {
            try loginInProcess(applet(leaf, pki: fixture.pki), fixture: fixture, requireCurrentCRL: false)
        }
        _ = account
    }

    @Test func aRevocationFromTheRegistryStopsTheCard() async throws {
        let fixture = try await Fixture()
        let leaf = try await fixture.leaf(serial: "E30001")
        var load = RegistryLoad()
        load.holders = [.init(myKey: MyKeyID("REGI0001")!, status: .active, application: nil, line: 2)]
        load.certificates = [
            .init(
                serial: "E30001", issuer: TestPKI.jpkiName, myKey: MyKeyID("REGI0001")!,
                validity: CertificateValidity(
                    notBefore: Instant(leaf.certificate.notBefore), notAfter: Instant(leaf.certificate.notAfter),
                    revokedAt: Instant(Date().addingTimeInterval(-3600))), line: 2)
        ]
        _ = try fixture.ledger.importRegistry(load)
        expectFailure(.certificateRevoked) { try loginInProcess(applet(leaf, pki: fixture.pki), fixture: fixture) }
    }

    @Test func aStaleCRLIsRefused() async throws {
        let fixture = try await Fixture()
        let old = try await fixture.pki.revocationList(
            by: fixture.pki.ca, revoked: [("E40001", Date())], thisUpdate: Date().addingTimeInterval(-120),
            nextUpdate: Date().addingTimeInterval(86_400), crlNumber: .fixed(3))
        let error = expectFailure(.staleCRL) {
            try fixture.registrar.importCRL(old.der, source: "old.crl", trustStore: fixture.trust)
        }
        #expect(error?.message.contains("stale") == true)
        #expect(try fixture.ledger.revocationTime(of: fixture.id("E40001")) == nil)
    }

    @Test func aCRLOfAnAnchorWithoutCRLSignOrOutsideItsValidityIsRefused() async throws {
        let fixture = try await Fixture()
        let noCRLSign = try await fixture.pki.newCA(subject: "/C=JP/O=JPKI-TEST/OU=Certificates Only", crlSign: false)
        let trust = TrustStore(anchors: fixture.trust.anchors + [noCRLSign.certificate])
        let unauthorised = try await fixture.pki.revocationList(
            by: noCRLSign, revoked: [("E50001", Date())], thisUpdate: Date().addingTimeInterval(-60),
            nextUpdate: Date().addingTimeInterval(86_400))
        let refused = expectFailure(.untrustedCRL) {
            try fixture.registrar.importCRL(unauthorised.der, source: "ku.crl", trustStore: trust)
        }
        #expect(refused?.message.contains("cRLSign") == true)
        let misdated = try await fixture.pki.revocationList(
            by: fixture.pki.ca, revoked: [("E50002", TestPKI.date(year: 1999))],
            thisUpdate: TestPKI.date(year: 1999).addingTimeInterval(86_400),
            nextUpdate: Date().addingTimeInterval(86_400))
        let outside = expectFailure(.untrustedCRL) {
            try fixture.registrar.importCRL(misdated.der, source: "old.crl", trustStore: trust)
        }
        #expect(outside?.message.contains("not valid at the CRL's thisUpdate") == true)
        #expect(try fixture.ledger.connection.query("SELECT count(*) FROM certificate_revocations")[0, 0].int() == 0)
    }
}
