import Crypto
import Foundation
import Testing

@Suite struct PasswordHashTests {
    @Test func verifiesTheRightPasswordOnly() throws {
        let encoded = try PasswordHash.hash(password: "correct horse", cost: .cheap)
        #expect(encoded.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(PasswordHash.verify(password: "correct horse", encoded: encoded))
        #expect(!PasswordHash.verify(password: "correct horsf", encoded: encoded))
        #expect(!PasswordHash.verify(password: "", encoded: encoded))
    }

    @Test func whatShipsMeetsTheSpecification() throws {
        // Registration spec §5: scrypt with N ≥ 2^17, r = 8, p = 1.
        let current = PasswordHash.ScryptCost.current
        #expect(current.ln >= 17 && current.r == 8 && current.p == 1)
        // The default is what ships; this also shows OpenSSL's maxmem is raised (its 32 MiB default refuses 2^17).
        let encoded = try PasswordHash.hash(password: "パスワード")
        #expect(encoded.hasPrefix("$scrypt$\(current)$"))
        #expect(PasswordHash.cost(of: encoded) == current)
        #expect(PasswordHash.cost(of: encoded).map { $0.ln >= 17 } == true)
        #expect(PasswordHash.verify(password: "パスワード", encoded: encoded))
        #expect(!PasswordHash.verify(password: "パスワート", encoded: encoded))
        #expect(!PasswordHash.needsRehash(encoded))
        let fields = encoded.split(separator: "$").map(String.init)
        #expect(fields.count == 4)
        #expect(Data(base64Encoded: fields[2] + "==")?.count == 16)
        #expect(Data(base64Encoded: fields[3] + "=")?.count == 32)
    }

    @Test func weakerHashesNeedARehashStrongerOnesDoNot() throws {
        let cheap = try PasswordHash.hash(password: "pw", cost: .cheap)
        #expect(PasswordHash.needsRehash(cheap))
        #expect(PasswordHash.needsRehash(cheap, cost: .init(ln: 10, r: 8, p: 2)))
        #expect(!PasswordHash.needsRehash(cheap, cost: .cheap))
        // Lowering the parameters never replaces a stronger hash.
        #expect(!PasswordHash.needsRehash(cheap, cost: .init(ln: 9, r: 8, p: 1)))
        // A short salt or key is weaker too, whatever the cost; and an unreadable hash is replaced.
        let fields = cheap.split(separator: "$").map(String.init)
        #expect(PasswordHash.needsRehash("$scrypt$ln=10,r=8,p=1$AAAAAAAAAAA$\(fields[3])", cost: .cheap))
        #expect(PasswordHash.needsRehash("$pbkdf2$whatever", cost: .cheap))
        #expect(PasswordHash.ScryptCost(ln: 16, r: 8, p: 1).isWeaker(than: .current))
        #expect(PasswordHash.ScryptCost(ln: 17, r: 4, p: 1).isWeaker(than: .current))
        #expect(!PasswordHash.ScryptCost(ln: 18, r: 8, p: 1).isWeaker(than: .current))
    }

    @Test func aDecoyHasTheCostOfARealHashAndMatchesNothing() throws {
        let decoy = try PasswordHash.decoy(cost: .cheap)
        #expect(PasswordHash.cost(of: decoy) == .cheap)
        #expect(!PasswordHash.verify(password: "", encoded: decoy))
        #expect(!PasswordHash.verify(password: "pw", encoded: decoy))
        #expect(try PasswordHash.decoy(cost: .cheap) != decoy)
        #expect(PasswordHash.cost(of: try PasswordHash.decoy()) == .current)
    }

    @Test func saltMakesHashesDiffer() throws {
        let first = try PasswordHash.hash(password: "same", cost: .cheap)
        let second = try PasswordHash.hash(password: "same", cost: .cheap)
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
        let encoded = try PasswordHash.hash(password: composed, cost: .cheap)
        #expect(PasswordHash.verify(password: decomposed, encoded: encoded))
    }

    @Test func malformedEncodingsAreFalse() throws {
        let valid = try PasswordHash.hash(password: "pw", cost: .cheap)
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
