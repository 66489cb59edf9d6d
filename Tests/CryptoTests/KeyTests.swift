import Crypto
import Testing

@Suite struct KeyTests {
    /// One generated key for the suite: generation is the slow part.
    static let keys: (PrivateKey, PrivateKey)? = {
        guard let first = try? PrivateKey.generateRSA(), let second = try? PrivateKey.generateRSA() else { return nil }
        return (first, second)
    }()

    private func keyPair() throws -> (PrivateKey, PrivateKey) { try #require(Self.keys) }

    @Test func signAndVerifyRoundTrip() throws {
        let (key, _) = try keyPair()
        let message = Array("the challenge".utf8)
        let signature = try key.signRSASHA256(message)
        #expect(signature.count == 256)
        #expect(key.publicKey.verifyRSASHA256(signature: signature, message: message))
    }

    @Test func forgedOrMismatchedSignaturesAreRejected() throws {
        let (key, other) = try keyPair()
        let message = Array("the challenge".utf8)
        let signature = try key.signRSASHA256(message)
        var flipped = signature
        flipped[100] ^= 0x01
        #expect(!key.publicKey.verifyRSASHA256(signature: flipped, message: message))
        #expect(!key.publicKey.verifyRSASHA256(signature: signature, message: Array("another message".utf8)))
        #expect(!key.publicKey.verifyRSASHA256(signature: try other.signRSASHA256(message), message: message))
        #expect(!other.publicKey.verifyRSASHA256(signature: signature, message: message))
        #expect(!key.publicKey.verifyRSASHA256(signature: [], message: message))
        #expect(!key.publicKey.verifyRSASHA256(signature: Array(signature.dropLast()), message: message))
        #expect(!key.publicKey.verifyRSASHA256(signature: [UInt8](repeating: 0, count: 256), message: message))
    }

    @Test func digestInfoSignatureIsTheStandardSignature() throws {
        let (key, _) = try keyPair()
        let message = Array("registration challenge".utf8)
        let cardStyle = try key.signDigestInfo(DigestInfo.sha256(message))
        #expect(key.publicKey.verifyRSASHA256(signature: cardStyle, message: message))
        // PKCS#1 v1.5 is deterministic: both paths produce the same bytes.
        #expect(cardStyle == (try key.signRSASHA256(message)))
        // A DigestInfo over other data does not verify for this message.
        let wrong = try key.signDigestInfo(DigestInfo.sha256(Array("other".utf8)))
        #expect(!key.publicKey.verifyRSASHA256(signature: wrong, message: message))
        // Too long for a 2048-bit modulus with PKCS#1 padding.
        expectCryptoError(.invalidEncoding) { _ = try key.signDigestInfo([UInt8](repeating: 1, count: 300)) }
    }

    @Test func pemRoundTrip() throws {
        let (key, _) = try keyPair()
        let pem = key.pem
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let reread = try PrivateKey(pem: pem)
        #expect(reread.publicKey.der == key.publicKey.der)
        let message = Array("m".utf8)
        #expect(key.publicKey.verifyRSASHA256(signature: try reread.signRSASHA256(message), message: message))
        #expect(try PublicKey(der: key.publicKey.der).der == key.publicKey.der)
    }

    @Test func malformedKeysAreInvalidEncoding() throws {
        let (key, _) = try keyPair()
        expectCryptoError(.invalidEncoding) { _ = try PrivateKey(pem: "") }
        expectCryptoError(.invalidEncoding) {
            _ = try PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        }
        expectCryptoError(.invalidEncoding) { _ = try PublicKey(der: []) }
        expectCryptoError(.invalidEncoding) { _ = try PublicKey(der: Array(key.publicKey.der.dropLast(3))) }
        expectCryptoError(.invalidEncoding) { _ = try PublicKey(der: key.publicKey.der + [0]) }
        expectCryptoError(.unsupported) { _ = try PrivateKey.generateRSA(bits: 512) }
    }
}

@Suite struct SecureRandomTests {
    @Test(arguments: [0, 1, 32, 1_000])
    func returnsTheRequestedLength(count: Int) throws {
        #expect(try SecureRandom.bytes(count).count == count)
    }

    @Test func callsDiffer() throws {
        #expect(try SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }
}
