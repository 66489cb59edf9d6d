import Crypto
import Foundation
import TestSupport
import Testing

@Suite struct RevocationListTests {
    let pki: TestPKI

    init() async throws { pki = try await TestPKI.shared() }

    @Test func parsesDERAndPEM() async throws {
        let revoked = [
            (serialHex: "1A2B", revokedAt: utc(2025, 3, 1, 12)), (serialHex: "00FF", revokedAt: utc(2025, 4, 2)),
            (serialHex: "7", revokedAt: utc(2025, 5, 3)),
        ]
        let issued = try await pki.revocationList(
            by: pki.ca, revoked: revoked, thisUpdate: utc(2025, 6, 1), nextUpdate: utc(2025, 7, 1))
        let lists = [
            try CertificateRevocationList(der: issued.der), try CertificateRevocationList(pem: issued.pem),
            try CertificateRevocationList(bytes: issued.der),
            try CertificateRevocationList(bytes: Array(issued.pem.utf8)),
        ]
        let expected = [
            RevokedEntry(serialHex: "1A2B", revokedAt: utc(2025, 3, 1, 12)),
            RevokedEntry(serialHex: "FF", revokedAt: utc(2025, 4, 2)),
            RevokedEntry(serialHex: "7", revokedAt: utc(2025, 5, 3)),
        ]
        for list in lists {
            #expect(list.issuer == TestPKI.jpkiName)
            #expect(list.thisUpdate == utc(2025, 6, 1))
            #expect(list.nextUpdate == utc(2025, 7, 1))
            #expect(Set(list.entries) == Set(expected))
            #expect(list.entries.count == 3)
            #expect(list.isSigned(by: pki.ca.certificate))
            #expect(!list.isSigned(by: pki.caNextGeneration.certificate))
            #expect(!list.isSigned(by: pki.unknownCA.certificate))
        }
    }

    @Test func emptyList() async throws {
        let issued = try await pki.revocationList(
            by: pki.ca, revoked: [], thisUpdate: utc(2025, 6, 1), nextUpdate: utc(2025, 7, 1))
        let list = try CertificateRevocationList(bytes: issued.der)
        #expect(list.entries.isEmpty)
    }

    @Test func signatureCheckedAgainstAnchors() async throws {
        let thisUpdate = utc(2025, 6, 1)
        let nextUpdate = utc(2025, 7, 1)
        let revoked = [(serialHex: "99", revokedAt: utc(2025, 5, 1))]
        let fromFirst = try CertificateRevocationList(
            der: await pki.revocationList(by: pki.ca, revoked: revoked, thisUpdate: thisUpdate, nextUpdate: nextUpdate)
                .der)
        let fromSecond = try CertificateRevocationList(
            der: await pki.revocationList(
                by: pki.caNextGeneration, revoked: revoked, thisUpdate: thisUpdate, nextUpdate: nextUpdate
            )
            .der)
        let fromUnknown = try CertificateRevocationList(
            der: await pki.revocationList(
                by: pki.unknownCA, revoked: revoked, thisUpdate: thisUpdate, nextUpdate: nextUpdate
            )
            .der)

        let both = TrustStore(anchors: [pki.ca.certificate, pki.caNextGeneration.certificate])
        try both.verify(fromFirst)
        try both.verify(fromSecond)
        expectCryptoError(.untrustedIssuer) { try both.verify(fromUnknown) }
        // Same issuer name, other key.
        let firstOnly = TrustStore(anchors: [pki.ca.certificate])
        expectCryptoError(.badSignature) { try firstOnly.verify(fromSecond) }
    }

    @Test func garbageIsInvalidEncoding() async throws {
        let issued = try await pki.revocationList(
            by: pki.ca, revoked: [(serialHex: "01", revokedAt: utc(2025, 1, 1))], thisUpdate: utc(2025, 6, 1),
            nextUpdate: utc(2025, 7, 1))
        let cases: [[UInt8]] = [
            [], Array("garbage".utf8), Array(issued.der.dropLast(5)), issued.der + [0], pki.ca.certificate.der,
            Array("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".utf8), Array(pki.ca.certificate.pem.utf8),
        ]
        for bytes in cases {
            expectCryptoError(.invalidEncoding) { _ = try CertificateRevocationList(bytes: bytes) }
        }
        expectCryptoError(.invalidEncoding) { _ = try CertificateRevocationList(pem: "nothing") }
        expectCryptoError(.invalidEncoding) { _ = try CertificateRevocationList(der: Array(issued.pem.utf8)) }
    }
}

@Suite struct CRLSignerTests {
    let pki: TestPKI

    init() async throws { pki = try await TestPKI.shared() }

    @Test func crlNumberIsReadWhenPresent() async throws {
        let numbered = try await pki.revocationList(
            by: pki.ca, revoked: [], thisUpdate: utc(2025, 6, 1), nextUpdate: utc(2025, 7, 1), crlNumber: .fixed(0x1F4))
        #expect(try CertificateRevocationList(der: numbered.der).crlNumber == "1F4")
        let plain = try await pki.revocationList(
            by: pki.ca, revoked: [], thisUpdate: utc(2025, 6, 1), nextUpdate: utc(2025, 7, 1), crlNumber: .none)
        let list = try CertificateRevocationList(der: plain.der)
        #expect(list.crlNumber == nil)
        #expect(list.der == plain.der)
    }

    @Test func theSignerMustBeValidAtThisUpdateAndMaySignCRLs() async throws {
        let noCRLSign = try await pki.newCA(subject: "/C=JP/O=JPKI-TEST/OU=Key Usage Test", crlSign: false)
        #expect(noCRLSign.certificate.keyUsage == [.keyCertSign])
        #expect(pki.ca.certificate.keyUsage == [.keyCertSign, .cRLSign])
        let store = TrustStore(anchors: [pki.ca.certificate, noCRLSign.certificate])
        let good = try CertificateRevocationList(
            der: await pki.revocationList(
                by: pki.ca, revoked: [], thisUpdate: utc(2025, 6, 1), nextUpdate: utc(2025, 7, 1)
            )
            .der)
        #expect(try store.verify(good).publicKeyDER == pki.ca.certificate.publicKeyDER)
        let unauthorised = try CertificateRevocationList(
            der: await pki.revocationList(
                by: noCRLSign, revoked: [], thisUpdate: utc(2025, 6, 1), nextUpdate: utc(2025, 7, 1)
            ).der)
        expectCryptoError(.usageNotPermitted) { try store.verify(unauthorised) }
        let early = try CertificateRevocationList(
            der: await pki.revocationList(
                by: pki.ca, revoked: [], thisUpdate: utc(1999, 6, 1), nextUpdate: utc(2025, 7, 1)
            )
            .der)
        expectCryptoError(.notYetValid) { try store.verify(early) }
        let late = try CertificateRevocationList(
            der: await pki.revocationList(
                by: pki.ca, revoked: [], thisUpdate: utc(2050, 6, 1), nextUpdate: utc(2050, 7, 1)
            )
            .der)
        expectCryptoError(.expired) { try store.verify(late) }
    }

    @Test func theIssuingAnchorIsChosenBySignature() async throws {
        let store = TrustStore(anchors: [pki.ca.certificate, pki.caNextGeneration.certificate])
        let leaf = try await pki.issueLeaf(
            by: pki.caNextGeneration, serialHex: "C0FFEE", notBefore: utc(2024, 1, 1), notAfter: utc(2030, 1, 1),
            authorityKeyIdentifier: false, key: pki.sharedLeafKey)
        let anchor = try #require(store.issuingAnchor(of: leaf.certificate))
        #expect(anchor.publicKeyDER == pki.caNextGeneration.certificate.publicKeyDER)
        #expect(TrustStore(anchors: [pki.ca.certificate]).issuingAnchor(of: leaf.certificate) == nil)
    }
}
