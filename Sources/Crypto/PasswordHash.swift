import COpenSSL
import Foundation

/// scrypt password hashes in a self-describing string: `$scrypt$ln=17,r=8,p=1$<salt>$<key>`.
///
/// Salt and key are base64 without padding. The parameters travel with each hash, so they can be raised later:
/// `needsRehash` tells a login to store a new hash of a password hashed with weaker ones. Passwords are normalised
/// to Unicode NFC before hashing, so the same password typed through different input methods verifies.
///
/// scrypt rather than Argon2id because OpenSSL gains Argon2 only in 3.2, and Debian 12 ships 3.0.
public enum PasswordHash {
    /// scrypt work factors: N = 2^ln, block size r, parallelism p.
    public struct ScryptCost: Sendable, Equatable, CustomStringConvertible {
        /// log2 of the CPU/memory cost N.
        public var ln: Int
        /// The block size r: memory and work grow with 128 · r · N bytes.
        public var r: Int
        /// The parallelism p: independent scrypt lanes, each adding its own work (OpenSSL runs them in turn).
        public var p: Int

        /// Creates a cost; `hash` rejects one outside the supported bounds.
        public init(ln: Int, r: Int, p: Int) {
            self.ln = ln
            self.r = r
            self.p = p
        }

        /// What new hashes use: N = 2^17, r = 8, p = 1, 128 MiB per hash (registration spec §5: N ≥ 2^17, r = 8,
        /// p = 1).
        public static let current = ScryptCost(ln: 17, r: 8, p: 1)

        /// The parameters as the encoded form writes them: `ln=17,r=8,p=1`.
        public var description: String { "ln=\(ln),r=\(r),p=\(p)" }

        /// Whether any work factor is below `other`'s: a hash of this cost should be replaced by one of `other`.
        public func isWeaker(than other: ScryptCost) -> Bool {
            ln < other.ln || r < other.r || p < other.p
        }

        /// OpenSSL's `maxmem` for this cost: scrypt's V (128·r·(N + 2)) and B (128·r·p) arrays, with room to spare
        /// for OpenSSL's bookkeeping; its default of 32 MiB would refuse N = 2^17, r = 8.
        var memoryBytes: UInt64 {
            128 * UInt64(r) * ((UInt64(1) << UInt64(ln)) + UInt64(p) + 2) + 65_536
        }

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
    ///
    /// Throws `unsupported` for a cost outside the supported bounds (at most 1 GiB of memory), `randomFailure`
    /// when no salt can be drawn.
    public static func hash(password: String, cost: ScryptCost = .current) throws(CryptoError) -> String {
        guard cost.isSupported else { throw CryptoError(.unsupported, "scrypt cost \(cost) out of bounds") }
        let salt = try SecureRandom.bytes(saltLength)
        let key = try derive(password: password, salt: salt, cost: cost, length: keyLength)
        return encode(cost: cost, salt: salt, key: key)
    }

    private static func encode(cost: ScryptCost, salt: [UInt8], key: [UInt8]) -> String {
        "$scrypt$\(cost)$\(base64(salt))$\(base64(key))"
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

    /// The parameters of an encoded hash, or nil when it is not a hash this type reads.
    public static func cost(of encoded: String) -> ScryptCost? {
        parse(encoded)?.cost
    }

    /// Whether a hash that just verified should be replaced by a new one of `cost`: its work factors are below
    /// `cost`'s, its salt or key is shorter than new hashes get, or it cannot be read at all.
    ///
    /// A hash of higher cost is kept: lowering the parameters never weakens hashes already stored.
    public static func needsRehash(_ encoded: String, cost: ScryptCost = .current) -> Bool {
        guard let stored = parse(encoded) else { return true }
        return stored.cost.isWeaker(than: cost) || stored.salt.count < saltLength || stored.key.count < keyLength
    }

    /// An encoding of `cost` that no password matches (random salt and key) but that costs `verify` the same work
    /// as a real hash: checked in place of a missing one, so the time taken does not tell which MyKey IDs exist.
    public static func decoy(cost: ScryptCost = .current) throws(CryptoError) -> String {
        guard cost.isSupported else { throw CryptoError(.unsupported, "scrypt cost \(cost) out of bounds") }
        let salt = try SecureRandom.bytes(saltLength)
        let key = try SecureRandom.bytes(keyLength)
        return encode(cost: cost, salt: salt, key: key)
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

    /// Derives `length` key bytes from `password` (normalised to NFC) and `salt` with scrypt at `cost`.
    ///
    /// The corresponding C function is `EVP_PBE_scrypt`.
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
