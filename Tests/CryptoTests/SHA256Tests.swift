import Crypto
import TestSupport
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownVectors(input: String, expected: String) {
        #expect(SHA256.hash(Array(input.utf8)).hexString == expected)
    }

    @Test func streamingInManyChunksEqualsOneShot() {
        var generator = SplitMix64(seed: 7)
        let data = (0..<200_003).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let hasher = SHA256()
        var offset = 0
        var chunks = 0
        while offset < data.count {
            let length = min(Int(generator.next() % 4_097), data.count - offset)
            let chunk = Array(data[offset..<offset + length])
            // Alternate between the two update forms; empty chunks included.
            if chunks % 2 == 0 { hasher.update(chunk) } else { chunk.withUnsafeBytes { hasher.update($0) } }
            offset += length
            chunks += 1
        }
        #expect(chunks > 50)
        #expect(hasher.finalize() == SHA256.hash(data))
    }

    @Test func finalizeStartsANewHash() {
        let hasher = SHA256()
        hasher.update(Array("first".utf8))
        _ = hasher.finalize()
        hasher.update(Array("abc".utf8))
        #expect(hasher.finalize().hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func digestInfoIsPrefixPlusDigest() {
        let message = Array("challenge".utf8)
        let digestInfo = DigestInfo.sha256(message)
        #expect(digestInfo.count == 51)
        #expect(Array(digestInfo.prefix(19)).hexString == "3031300d060960864801650304020105000420")
        #expect(Array(digestInfo.suffix(32)) == SHA256.hash(message))
    }

    @Test func hexStringIsLowercaseTwoDigitsPerByte() {
        #expect([0x00, 0x0A, 0xFF, 0x10].hexString == "000aff10")
        #expect([UInt8]().hexString == "")
    }
}
