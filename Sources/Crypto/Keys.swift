import COpenSSL

/// An EVP_PKEY owned by exactly one wrapper; freed in `deinit`.
///
/// `@unchecked Sendable`: OpenSSL 3 allows concurrent use of an EVP_PKEY that is no longer modified
/// (openssl-threads(7)); every operation here makes its own EVP_PKEY_CTX or EVP_MD_CTX, and nothing
/// changes the key after construction.
final class KeyHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    var isRSA: Bool { EVP_PKEY_is_a(pointer, "RSA") == 1 }

    /// The SubjectPublicKeyInfo DER of the key (the public half of a private key).
    func publicKeyDER() throws(CryptoError) -> [UInt8] {
        try encodeDER("i2d_PUBKEY") { i2d_PUBKEY(pointer, $0) }
    }
}

/// A public key, as found in a certificate's SubjectPublicKeyInfo.
public struct PublicKey: Sendable {
    let handle: KeyHandle

    init(handle: KeyHandle) { self.handle = handle }

    /// Parses a DER SubjectPublicKeyInfo.
    public init(der: [UInt8]) throws(CryptoError) {
        guard !der.isEmpty else { throw CryptoError(.invalidEncoding, "public key: no bytes") }
        let parsed: (key: OpaquePointer?, consumed: Int) = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let key = d2i_PUBKEY(nil, &cursor, buffer.count)
            return (key, buffer.baseAddress.map { cursor! - $0 } ?? 0)
        }
        guard let key = parsed.key else {
            throw .openSSL(.invalidEncoding, "public key: not a DER SubjectPublicKeyInfo")
        }
        handle = KeyHandle(key)
        guard parsed.consumed == der.count else {
            throw CryptoError(.invalidEncoding, "public key: \(der.count - parsed.consumed) bytes after the DER value")
        }
    }

    /// The DER SubjectPublicKeyInfo.
    public var der: [UInt8] {
        // Re-encoding a key that was decoded or generated cannot fail short of memory exhaustion.
        (try? handle.publicKeyDER()) ?? []
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 signature with SHA-256 over `message`.
    ///
    /// False, never an error, for a non-RSA key or a malformed signature: callers only need to know whether
    /// the signer holds the private key.
    public func verifyRSASHA256(signature: [UInt8], message: [UInt8]) -> Bool {
        guard handle.isRSA, let context = try? DigestContext() else { return false }
        guard EVP_DigestVerifyInit(context.pointer, nil, EVP_sha256(), nil, handle.pointer) == 1 else {
            OpenSSLErrorQueue.clear()
            return false
        }
        // RSA keys default to PKCS#1 v1.5 padding for DigestVerify.
        let result = signature.withUnsafeBufferPointer { signatureBuffer in
            message.withUnsafeBufferPointer { messageBuffer in
                EVP_DigestVerify(
                    context.pointer, signatureBuffer.baseAddress, signatureBuffer.count, messageBuffer.baseAddress,
                    messageBuffer.count)
            }
        }
        OpenSSLErrorQueue.clear()
        return result == 1
    }
}

/// An RSA private key, for tests and the virtual card.
public struct PrivateKey: Sendable {
    let handle: KeyHandle

    /// Parses a PEM private key (PKCS#8 or traditional RSA, unencrypted).
    public init(pem: String) throws(CryptoError) {
        let bio = try MemoryBIO(Array(pem.utf8))
        guard let key = PEM_read_bio_PrivateKey(bio.pointer, nil, nil, nil) else {
            throw .openSSL(.invalidEncoding, "private key: not an unencrypted PEM private key")
        }
        handle = KeyHandle(key)
        guard handle.isRSA else { throw CryptoError(.unsupported, "private key: only RSA keys are supported") }
    }

    private init(handle: KeyHandle) { self.handle = handle }

    /// Generates a new RSA key of `bits` bits with public exponent 65537.
    ///
    /// `bits` must be 1024 to 16384, else it throws `unsupported`.
    public static func generateRSA(bits: Int = 2048) throws(CryptoError) -> PrivateKey {
        guard (1024...16384).contains(bits) else { throw CryptoError(.unsupported, "RSA key size \(bits) bits") }
        let context = try KeyContext(EVP_PKEY_CTX_new_from_name(nil, "RSA", nil), "EVP_PKEY_CTX_new_from_name(RSA)")
        guard EVP_PKEY_keygen_init(context.pointer) == 1,
            EVP_PKEY_CTX_set_rsa_keygen_bits(context.pointer, Int32(bits)) == 1
        else { throw .openSSL(.internalError, "RSA key generation setup failed") }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context.pointer, &key) == 1, let key else {
            throw .openSSL(.internalError, "RSA key generation failed")
        }
        return PrivateKey(handle: KeyHandle(key))
    }

    /// The key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").
    public var pem: String {
        guard let bio = try? MemoryBIO(),
            PEM_write_bio_PrivateKey(bio.pointer, handle.pointer, nil, nil, 0, nil, nil) == 1
        else {
            OpenSSLErrorQueue.clear()
            return ""
        }
        return String(decoding: bio.readAll(), as: UTF8.self)
    }

    /// The public half, as its own key object.
    public var publicKey: PublicKey {
        // A DER round trip gives the public key its own EVP_PKEY, so each handle has one owner.
        // Neither step fails for a key that was parsed or generated, short of memory exhaustion.
        guard let der = try? handle.publicKeyDER(), let key = try? PublicKey(der: der) else {
            fatalError("PrivateKey.publicKey: cannot re-encode the public key: \(OpenSSLErrorQueue.drain())")
        }
        return key
    }

    /// PKCS#1 v1.5 signature of an already-encoded DigestInfo, without hashing, as a JPKI card does.
    ///
    /// Throws `invalidEncoding` when the input is too long for the key's modulus.
    public func signDigestInfo(_ digestInfo: [UInt8]) throws(CryptoError) -> [UInt8] {
        let context = try KeyContext(EVP_PKEY_CTX_new(handle.pointer, nil), "EVP_PKEY_CTX_new")
        // No signature digest is set, so OpenSSL pads the input as is (EMSA-PKCS1-v1_5 type 1 without hashing).
        guard EVP_PKEY_sign_init(context.pointer) == 1,
            EVP_PKEY_CTX_set_rsa_padding(context.pointer, RSA_PKCS1_PADDING) == 1
        else { throw .openSSL(.internalError, "RSA signing setup failed") }
        var length = 0
        let sized = digestInfo.withUnsafeBufferPointer {
            EVP_PKEY_sign(context.pointer, nil, &length, $0.baseAddress, $0.count)
        }
        guard sized == 1 else { throw .openSSL(.internalError, "RSA signature size query failed") }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = signature.withUnsafeMutableBufferPointer { output in
            digestInfo.withUnsafeBufferPointer {
                EVP_PKEY_sign(context.pointer, output.baseAddress, &length, $0.baseAddress, $0.count)
            }
        }
        // The only input-dependent failure is a DigestInfo too long for the modulus.
        guard signed == 1 else {
            throw .openSSL(.invalidEncoding, "RSA signature over a \(digestInfo.count)-byte input failed")
        }
        return Array(signature.prefix(length))
    }

    /// RSASSA-PKCS1-v1_5 signature with SHA-256 over `message`.
    public func signRSASHA256(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        let context = try DigestContext()
        guard EVP_DigestSignInit(context.pointer, nil, EVP_sha256(), nil, handle.pointer) == 1 else {
            throw .openSSL(.internalError, "EVP_DigestSignInit failed")
        }
        var length = 0
        let sized = message.withUnsafeBufferPointer {
            EVP_DigestSign(context.pointer, nil, &length, $0.baseAddress, $0.count)
        }
        guard sized == 1 else { throw .openSSL(.internalError, "RSA signature size query failed") }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = signature.withUnsafeMutableBufferPointer { output in
            message.withUnsafeBufferPointer {
                EVP_DigestSign(context.pointer, output.baseAddress, &length, $0.baseAddress, $0.count)
            }
        }
        guard signed == 1 else { throw .openSSL(.internalError, "EVP_DigestSign failed") }
        return Array(signature.prefix(length))
    }
}
