import Crypto
import Foundation
import TestSupport
import Testing

@Suite struct CertificateTests {
    let pki: TestPKI
    let now = wholeSeconds(Date())

    init() async throws { pki = try await TestPKI.shared() }

    private func currentLeaf(
        by ca: TestCA, serial: String, authorityKeyIdentifier: Bool = true
    ) async throws -> TestLeaf {
        try await pki.issueLeaf(
            by: ca, serialHex: serial, notBefore: now.addingTimeInterval(-30 * 86_400),
            notAfter: now.addingTimeInterval(365 * 86_400), authorityKeyIdentifier: authorityKeyIdentifier,
            key: pki.sharedLeafKey)
    }

    @Test func parsesFields() async throws {
        let notBefore = utc(2024, 4, 1, 9)
        let notAfter = utc(2029, 3, 31, 23)
        let leaf = try await pki.issueLeaf(by: pki.ca, serialHex: "00ABC", notBefore: notBefore, notAfter: notAfter)
        let certificate = leaf.certificate
        #expect(certificate.serialHex == "ABC")
        #expect(certificate.notBefore == notBefore)
        #expect(certificate.notAfter == notAfter)
        #expect(certificate.issuer == TestPKI.jpkiName)
        #expect(certificate.subject == "C=JP, CN=TEST USER")
        #expect(pki.ca.certificate.subject == TestPKI.jpkiName)
        #expect(certificate.publicKeyDER == leaf.privateKey.publicKey.der)
        #expect(certificate.publicKeySHA256 == SHA256.hash(certificate.publicKeyDER))
        #expect(certificate.publicKeySHA256 != pki.ca.certificate.publicKeySHA256)

        // DER and PEM of the same certificate read the same; the key hash is stable across parses.
        let fromDER = try Certificate(der: certificate.der)
        let fromPEM = try Certificate(pem: certificate.pem)
        for copy in [fromDER, fromPEM] {
            #expect(copy.der == certificate.der)
            #expect(copy.serialHex == "ABC")
            #expect(copy.publicKeySHA256 == certificate.publicKeySHA256)
        }
        #expect(certificate.der.count > 500)
        #expect(certificate.der[0] == 0x30)
    }

    @Test(arguments: [("FF", "FF"), ("7F", "7F"), ("0100", "100"), ("1234567890ABCDEF1234", "1234567890ABCDEF1234")])
    func serialIsUppercaseHexWithoutLeadingZeros(issued: String, expected: String) async throws {
        // 0xFF needs a leading zero byte in DER (it would be negative otherwise): it must not show.
        let leaf = try await currentLeaf(by: pki.ca, serial: issued)
        #expect(leaf.certificate.serialHex == expected)
    }

    @Test func pemBundleReadsEveryCertificate() async throws {
        let bundle = pki.ca.certificate.pem + pki.caNextGeneration.certificate.pem
        let certificates = try Certificate.all(pem: bundle)
        #expect(certificates.map(\.der) == [pki.ca.certificate.der, pki.caNextGeneration.certificate.der])
        expectCryptoError(.invalidEncoding) { _ = try Certificate.all(pem: "no certificates here") }
    }

    @Test func garbageIsInvalidEncoding() async throws {
        let der = pki.ca.certificate.der
        let cases: [[UInt8]] = [[], [0x30], Array("not a certificate".utf8), Array(der.dropLast(10)), der + [0, 0]]
        for garbage in cases {
            expectCryptoError(.invalidEncoding) { _ = try Certificate(der: garbage) }
        }
        let pem = pki.ca.certificate.pem
        let brokenBase64 = pem.replacingOccurrences(of: "MII", with: "M!I")
        for text in ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", brokenBase64] {
            expectCryptoError(.invalidEncoding) { _ = try Certificate(pem: text) }
        }
    }

    @Test func chainVerifies() async throws {
        let leaf = try await currentLeaf(by: pki.ca, serial: "1001")
        let store = TrustStore(anchors: [pki.ca.certificate])
        try store.verify(leaf.certificate, at: now)
        // The anchor itself is trusted too.
        try store.verify(pki.ca.certificate, at: now)
    }

    @Test func unknownIssuerIsUntrusted() async throws {
        let leaf = try await currentLeaf(by: pki.unknownCA, serial: "1002")
        let store = TrustStore(anchors: [pki.ca.certificate, pki.caNextGeneration.certificate])
        expectCryptoError(.untrustedIssuer) { try store.verify(leaf.certificate, at: now) }
        expectCryptoError(.untrustedIssuer) { try TrustStore(anchors: []).verify(leaf.certificate, at: now) }
        // A self-signed certificate that is not an anchor.
        expectCryptoError(.untrustedIssuer) { try store.verify(pki.unknownCA.certificate, at: now) }
    }

    @Test func outsideValidity() async throws {
        let store = TrustStore(anchors: [pki.ca.certificate])
        let expired = try await pki.issueLeaf(
            by: pki.ca, serialHex: "1003", notBefore: utc(2020, 1, 1), notAfter: utc(2021, 1, 1), key: pki.sharedLeafKey
        )
        let future = try await pki.issueLeaf(
            by: pki.ca, serialHex: "1004", notBefore: now.addingTimeInterval(365 * 86_400),
            notAfter: now.addingTimeInterval(2 * 365 * 86_400), key: pki.sharedLeafKey)
        expectCryptoError(.expired) { try store.verify(expired.certificate, at: now) }
        expectCryptoError(.notYetValid) { try store.verify(future.certificate, at: now) }
        // The same certificates are fine at a time inside their validity.
        try store.verify(expired.certificate, at: utc(2020, 6, 1))
        try store.verify(future.certificate, at: now.addingTimeInterval(400 * 86_400))
        // Boundaries: valid from notBefore, expired after notAfter.
        try store.verify(expired.certificate, at: utc(2020, 1, 1))
        expectCryptoError(.notYetValid) { try store.verify(expired.certificate, at: utc(2019, 12, 31, 23)) }
        expectCryptoError(.expired) { try store.verify(expired.certificate, at: utc(2021, 1, 1, 1)) }
    }

    @Test(arguments: [true, false])
    func caGenerationsWithOneNameEachVerifyTheirLeaves(authorityKeyIdentifier: Bool) async throws {
        #expect(pki.ca.certificate.subject == pki.caNextGeneration.certificate.subject)
        #expect(pki.ca.certificate.publicKeyDER != pki.caNextGeneration.certificate.publicKeyDER)
        let first = try await currentLeaf(by: pki.ca, serial: "2001", authorityKeyIdentifier: authorityKeyIdentifier)
        let second = try await currentLeaf(
            by: pki.caNextGeneration, serial: "2002", authorityKeyIdentifier: authorityKeyIdentifier)
        for anchors in [
            [pki.ca.certificate, pki.caNextGeneration.certificate],
            [pki.caNextGeneration.certificate, pki.ca.certificate],
        ] {
            let store = TrustStore(anchors: anchors)
            try store.verify(first.certificate, at: now)
            try store.verify(second.certificate, at: now)
        }
        // With only the first generation configured, the second's leaf has the right issuer name but not the key.
        let firstOnly = TrustStore(anchors: [pki.ca.certificate])
        let error = #expect(throws: CryptoError.self) { try firstOnly.verify(second.certificate, at: now) }
        #expect(error?.code == (authorityKeyIdentifier ? .untrustedIssuer : .badSignature))
    }

    @Test func expiredLeafOfTheOtherGenerationReportsExpiry() async throws {
        // Without a key identifier OpenSSL may try the wrong generation first; the failure must still say expired.
        let expired = try await pki.issueLeaf(
            by: pki.caNextGeneration, serialHex: "2003", notBefore: utc(2020, 1, 1), notAfter: utc(2021, 1, 1),
            authorityKeyIdentifier: false, key: pki.sharedLeafKey)
        let store = TrustStore(anchors: [pki.ca.certificate, pki.caNextGeneration.certificate])
        expectCryptoError(.expired) { try store.verify(expired.certificate, at: now) }
    }

    @Test func leafKeySignaturesVerifyWithTheCertificate() async throws {
        let leaf = try await currentLeaf(by: pki.ca, serial: "3001")
        let challenge = try SecureRandom.bytes(32)
        let signature = try leaf.privateKey.signDigestInfo(DigestInfo.sha256(challenge))
        #expect(signature.count == 256)
        #expect(leaf.certificate.publicKey.verifyRSASHA256(signature: signature, message: challenge))
        #expect(!pki.ca.certificate.publicKey.verifyRSASHA256(signature: signature, message: challenge))
        #expect(try PrivateKey(pem: leaf.privateKeyPEM).publicKey.der == leaf.certificate.publicKeyDER)
    }
}
