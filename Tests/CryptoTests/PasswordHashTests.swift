import Crypto
import Foundation
import Testing

@Suite struct PasswordHashTests {
    @Test func verifiesTheRightPasswordOnly() throws {
        let encoded = try PasswordHash.hash(password: "correct horse", cost: .test)
        #expect(encoded.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(PasswordHash.verify(password: "correct horse", encoded: encoded))
        #expect(!PasswordHash.verify(password: "correct horsf", encoded: encoded))
        #expect(!PasswordHash.verify(password: "", encoded: encoded))
    }

    @Test func defaultCostRoundTrip() throws {
        let encoded = try PasswordHash.hash(password: "パスワード")
        #expect(encoded.hasPrefix("$scrypt$ln=15,r=8,p=1$"))
        #expect(PasswordHash.verify(password: "パスワード", encoded: encoded))
        #expect(!PasswordHash.verify(password: "パスワート", encoded: encoded))
    }

    @Test func saltMakesHashesDiffer() throws {
        let first = try PasswordHash.hash(password: "same", cost: .test)
        let second = try PasswordHash.hash(password: "same", cost: .test)
        #expect(first != second)
        #expect(first.split(separator: "$")[2] != second.split(separator: "$")[2])
    }

    @Test func knownVectorRFC7914() {
        // RFC 7914, section 12: P = "password", S = "NaCl", N = 1024, r = 8, p = 16, dkLen = 64.
        let key = bytes(
            hex: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830da"
                + "c727afb94a83ee6d8360cbdfa2cc0640")
        let salt = Data("NaCl".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let encodedKey = Data(key).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let encoded = "$scrypt$ln=10,r=8,p=16$\(salt)$\(encodedKey)"
        #expect(PasswordHash.verify(password: "password", encoded: encoded))
        #expect(!PasswordHash.verify(password: "Password", encoded: encoded))
    }

    @Test func unicodeNormalisation() throws {
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        let encoded = try PasswordHash.hash(password: composed, cost: .test)
        #expect(PasswordHash.verify(password: decomposed, encoded: encoded))
    }

    @Test func malformedEncodingsAreFalse() throws {
        let valid = try PasswordHash.hash(password: "pw", cost: .test)
        let fields = valid.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        let salt = fields[3]
        let key = fields[4]
        let malformed = [
            "", "$", "$scrypt$", "pw", "scrypt$ln=10,r=8,p=1$\(salt)$\(key)", "$argon2id$ln=10,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=8$\(salt)$\(key)", "$scrypt$r=8,ln=10,p=1$\(salt)$\(key)",
            "$scrypt$ln=x,r=8,p=1$\(salt)$\(key)", "$scrypt$ln=99,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=0,r=8,p=1$\(salt)$\(key)", "$scrypt$ln=-1,r=8,p=1$\(salt)$\(key)",
            "$scrypt$ln=10,r=8,p=1$\(salt)", "$scrypt$ln=10,r=8,p=1$\(salt)$\(key)$extra",
            "$scrypt$ln=10,r=8,p=1$\(salt)$", "$scrypt$ln=10,r=8,p=1$$\(key)",
            "$scrypt$ln=10,r=8,p=1$\(salt)$\(key.dropLast(10))", "$scrypt$ln=10,r=8,p=1$\(salt)$\(key)=",
            "$scrypt$ln=10,r=8,p=1$\(salt)$!\(key.dropFirst())", "$scrypt$ln=10,r=8,p=1$A$\(key)",
            "$scrypt$ln=10,r=99999999999999999999,p=1$\(salt)$\(key)", "$scrypt$ln=20,r=32,p=16$\(salt)$\(key)",
        ]
        for encoded in malformed {
            #expect(!PasswordHash.verify(password: "pw", encoded: encoded), "\(encoded)")
        }
        #expect(PasswordHash.verify(password: "pw", encoded: valid))
    }

    @Test func unsupportedCostIsRefused() {
        expectCryptoError(.unsupported) { _ = try PasswordHash.hash(password: "pw", cost: .init(ln: 40, r: 8, p: 1)) }
    }
}
