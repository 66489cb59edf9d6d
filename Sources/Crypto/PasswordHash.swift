import COpenSSL
import Foundation

/// scrypt password hashes in a self-describing string: `$scrypt$ln=15,r=8,p=1$<salt>$<key>`.
///
/// Salt and key are base64 without padding. Passwords are normalised to Unicode NFC before hashing, so the
/// same password typed through different input methods verifies.
public enum PasswordHash {
    /// scrypt work factors: N = 2^ln, block size r, parallelism p.
    public struct ScryptCost: Sendable, Equatable {
        /// log2 of the CPU/memory cost N.
        public var ln: Int
        /// The block size.
        public var r: Int
        /// The parallelism.
        public var p: Int

        /// Creates a cost; `hash` rejects one outside the supported bounds.
        public init(ln: Int, r: Int, p: Int) {
            self.ln = ln
            self.r = r
            self.p = p
        }

        /// For interactive logins: N = 2^15, r = 8, p = 1 (32 MiB, tens of milliseconds).
        public static let interactive = ScryptCost(ln: 15, r: 8, p: 1)
        /// Cheap, for tests only: N = 2^10, r = 8, p = 1.
        public static let test = ScryptCost(ln: 10, r: 8, p: 1)

        /// Bytes of memory scrypt needs: 128·r·(N + p), with room for OpenSSL's bookkeeping.
        var memoryBytes: UInt64 { 128 * UInt64(r) * ((UInt64(1) << UInt64(ln)) + UInt64(p)) + 65_536 }

        /// Bounds that keep a stored encoding from asking for unbounded work or memory (at most 1 GiB).
        var isSupported: Bool {
            (1...22).contains(ln) && (1...32).contains(r) && (1...16).contains(p) && memoryBytes <= 1 << 30
        }
    }

    /// Salt length in bytes.
    static let saltLength = 16
    /// Derived key length in bytes.
    static let keyLength = 32

    /// Hashes `password` with a fresh 16-byte random salt and a 32-byte key.
    public static func hash(password: String, cost: ScryptCost = .interactive) throws(CryptoError) -> String {
        guard cost.isSupported else { throw CryptoError(.unsupported, "scrypt cost \(cost) out of bounds") }
        let salt = try SecureRandom.bytes(saltLength)
        let key = try derive(password: password, salt: salt, cost: cost, length: keyLength)
        return "$scrypt$ln=\(cost.ln),r=\(cost.r),p=\(cost.p)$\(base64(salt))$\(base64(key))"
    }

    /// Whether `password` matches `encoded`; false for any malformed or unsupported encoding.
    public static func verify(password: String, encoded: String) -> Bool {
        guard let stored = parse(encoded),
            let key = try? derive(password: password, salt: stored.salt, cost: stored.cost, length: stored.key.count)
        else { return false }
        // Constant time, so the comparison does not reveal how many leading bytes matched.
        return key.withUnsafeBytes { computed in
            stored.key.withUnsafeBytes { expected in
                CRYPTO_memcmp(computed.baseAddress, expected.baseAddress, expected.count) == 0
            }
        }
    }

    /// The parts of an encoded hash, or nil if it is not exactly the form `hash` writes.
    static func parse(_ encoded: String) -> (cost: ScryptCost, salt: [UInt8], key: [UInt8])? {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == "scrypt" else { return nil }
        let parameters = fields[2].split(separator: ",", omittingEmptySubsequences: false)
        guard parameters.count == 3,
            let ln = value(parameters[0], named: "ln"),
            let r = value(parameters[1], named: "r"),
            let p = value(parameters[2], named: "p")
        else { return nil }
        let cost = ScryptCost(ln: ln, r: r, p: p)
        guard cost.isSupported,
            let salt = unbase64(fields[3]), (1...64).contains(salt.count),
            let key = unbase64(fields[4]), (16...64).contains(key.count)
        else { return nil }
        return (cost, salt, key)
    }

    /// The decimal value of `name=digits`, at most 3 digits.
    private static func value(_ parameter: Substring, named name: String) -> Int? {
        guard parameter.hasPrefix(name + "=") else { return nil }
        let digits = parameter.dropFirst(name.count + 1)
        guard (1...3).contains(digits.count), digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(digits)
    }

    /// scrypt(password, salt). The corresponding C function is `EVP_PBE_scrypt`.
    private static func derive(
        password: String, salt: [UInt8], cost: ScryptCost, length: Int
    )
        throws(CryptoError) -> [UInt8]
    {
        let passwordBytes = Array(password.precomposedStringWithCanonicalMapping.utf8)
        var key = [UInt8](repeating: 0, count: length)
        let result = key.withUnsafeMutableBufferPointer { output in
            passwordBytes.withUnsafeBufferPointer { passwordBuffer in
                salt.withUnsafeBufferPointer { saltBuffer in
                    passwordBuffer.withMemoryRebound(to: CChar.self) { passwordChars in
                        EVP_PBE_scrypt(
                            passwordChars.baseAddress, passwordChars.count, saltBuffer.baseAddress,
                            saltBuffer.count, UInt64(1) << UInt64(cost.ln), UInt64(cost.r), UInt64(cost.p),
                            cost.memoryBytes, output.baseAddress, output.count)
                    }
                }
            }
        }
        guard result == 1 else { throw .openSSL(.internalError, "scrypt failed") }
        return key
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Decodes unpadded standard base64; nil for any other character or an impossible length.
    private static func unbase64(_ text: Substring) -> [UInt8]? {
        guard !text.isEmpty, text.count % 4 != 1,
            text.utf8.allSatisfy({ byte in
                (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                    || byte == 0x2B || byte == 0x2F
            })
        else { return nil }
        let padded = String(text) + String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: padded).map { Array($0) }
    }
}
