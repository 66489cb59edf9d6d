import COpenSSL

/// Streaming SHA-256 over OpenSSL's EVP digest interface.
///
/// Not `Sendable`: one hash in progress belongs to one task at a time.
public final class SHA256 {
    /// The digest context; owned here and freed in `deinit`.
    private let context: OpaquePointer

    /// Starts a new hash.
    public init() {
        // Allocation or initialisation of a built-in digest fails only when memory is exhausted.
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        Self.start(context)
    }

    deinit { EVP_MD_CTX_free(context) }

    private static func start(_ context: OpaquePointer) {
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            fatalError("EVP_DigestInit_ex(SHA-256): \(OpenSSLErrorQueue.drain())")
        }
    }

    /// Adds bytes to the hash.
    ///
    /// The corresponding C function is `EVP_DigestUpdate`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        // EVP_DigestUpdate cannot fail for an initialised software digest.
        _ = EVP_DigestUpdate(context, base, bytes.count)
    }

    /// Adds bytes to the hash.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the 32-byte digest of everything added, and starts a new hash.
    ///
    /// The corresponding C function is `EVP_DigestFinal_ex`.
    public func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = digest.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        Self.start(context)
        return digest
    }

    /// The SHA-256 digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        let hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// DER-encoded DigestInfo values, the input a JPKI card pads and signs without hashing.
public enum DigestInfo {
    /// The DER DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1).
    static let sha256Prefix: [UInt8] = [
        0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ]

    /// DigestInfo(SHA-256(`message`)): 51 bytes.
    public static func sha256(_ message: [UInt8]) -> [UInt8] {
        sha256Prefix + SHA256.hash(message)
    }
}
