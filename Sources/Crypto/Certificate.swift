import COpenSSL
public import Foundation

/// An X509 owned by exactly one wrapper; freed in `deinit`.
///
/// `@unchecked Sendable`: OpenSSL 3 objects such as X509 may be read from several threads at once
/// (openssl-threads(7)); nothing mutates the certificate after parsing, and the verifier's extension
/// cache is filled under OpenSSL's own lock.
final class CertificateHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_free(pointer) }
}

/// An X.509 certificate, its fields read once when it is parsed.
///
/// Immutable after parsing, so it may be shared between threads.
public struct Certificate: Sendable {
    let handle: CertificateHandle

    /// The serial number: uppercase hexadecimal without leading zeros ("0" for zero).
    public let serialHex: String
    /// The start of the validity period.
    public let notBefore: Date
    /// The end of the validity period.
    public let notAfter: Date
    /// The issuer name in written order, such as `C=JP, O=JPKI, OU=JPKI for user authentication, OU=…`.
    public let issuer: String
    /// The subject name, in the same form as `issuer`.
    public let subject: String
    /// The DER SubjectPublicKeyInfo.
    public let publicKeyDER: [UInt8]
    /// The certificate's public key.
    public let publicKey: PublicKey
    /// The key usages the certificate allows, or nil when it has no keyUsage extension (then any usage).
    public let keyUsage: KeyUsage?

    /// Parses one DER certificate; bytes after it are an error.
    public init(der: [UInt8]) throws(CryptoError) {
        guard !der.isEmpty else { throw CryptoError(.invalidEncoding, "certificate: no bytes") }
        let parsed: (certificate: OpaquePointer?, consumed: Int) = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let certificate = d2i_X509(nil, &cursor, buffer.count)
            return (certificate, cursor! - buffer.baseAddress!)
        }
        guard let certificate = parsed.certificate else {
            throw .openSSL(.invalidEncoding, "certificate: not a DER X.509 certificate")
        }
        try self.init(handle: CertificateHandle(certificate))
        guard parsed.consumed == der.count else {
            throw CryptoError(.invalidEncoding, "certificate: \(der.count - parsed.consumed) bytes after the DER value")
        }
    }

    /// Parses the first certificate in PEM text.
    public init(pem: String) throws(CryptoError) {
        let bio = try MemoryBIO(Array(pem.utf8))
        guard let certificate = PEM_read_bio_X509(bio.pointer, nil, nil, nil) else {
            throw .openSSL(.invalidEncoding, "certificate: no PEM certificate")
        }
        try self.init(handle: CertificateHandle(certificate))
    }

    /// Parses every certificate in PEM text, such as a bundle of trust anchors; none is an error.
    public static func all(pem: String) throws(CryptoError) -> [Certificate] {
        let bio = try MemoryBIO(Array(pem.utf8))
        var certificates: [Certificate] = []
        while let certificate = PEM_read_bio_X509(bio.pointer, nil, nil, nil) {
            certificates.append(try Certificate(handle: CertificateHandle(certificate)))
        }
        // The loop ends on "no start line" at the end of the text; anything else is malformed PEM.
        let queue = OpenSSLErrorQueue.drain()
        guard !certificates.isEmpty, queue.isEmpty || queue.contains("no start line") else {
            throw CryptoError(
                .invalidEncoding, "certificates: malformed PEM" + (queue.isEmpty ? "" : " (OpenSSL: \(queue))"))
        }
        return certificates
    }

    /// Reads every field once, so that the accessors cannot fail and malformed fields fail the parse.
    init(handle: CertificateHandle) throws(CryptoError) {
        self.handle = handle
        let x509 = handle.pointer
        guard let serial = ASN1.serialHex(X509_get0_serialNumber(x509)) else {
            throw .openSSL(.invalidEncoding, "certificate: unreadable serial number")
        }
        guard let notBefore = ASN1.date(X509_get0_notBefore(x509)), let notAfter = ASN1.date(X509_get0_notAfter(x509))
        else { throw .openSSL(.invalidEncoding, "certificate \(serial): unreadable validity period") }
        guard let issuer = ASN1.name(X509_get_issuer_name(x509)), let subject = ASN1.name(X509_get_subject_name(x509))
        else { throw .openSSL(.invalidEncoding, "certificate \(serial): unreadable names") }
        let publicKeyDER = try encodeDER("certificate \(serial): public key") {
            i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), $0)
        }
        guard let key = X509_get_pubkey(x509) else {
            throw .openSSL(.unsupported, "certificate \(serial): unsupported public key")
        }
        self.publicKey = PublicKey(handle: KeyHandle(key))
        // X509_get_key_usage answers UINT32_MAX when the extension is absent (and caches the extensions first).
        let usage = X509_get_key_usage(x509)
        self.keyUsage = usage == UInt32.max ? nil : KeyUsage(rawValue: usage)
        self.serialHex = serial
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.issuer = issuer
        self.subject = subject
        self.publicKeyDER = publicKeyDER
    }

    /// Whether this certificate's signature verifies with `issuer`'s public key.
    ///
    /// Several CA generations share one name, so only the signature tells which of them issued a certificate.
    /// The corresponding C function is `X509_verify`.
    public func isSigned(by issuer: Certificate) -> Bool {
        let result = X509_verify(handle.pointer, issuer.publicKey.handle.pointer)
        OpenSSLErrorQueue.clear()
        return result == 1
    }

    /// Whether the certificate was within its validity period at `time`.
    public func isValid(at time: Date) -> Bool { notBefore <= time && time <= notAfter }

    /// SHA-256 of the DER SubjectPublicKeyInfo: a stable identifier of the key pair.
    public var publicKeySHA256: [UInt8] { SHA256.hash(publicKeyDER) }

    /// The DER encoding of the whole certificate; empty only if OpenSSL runs out of memory.
    public var der: [UInt8] {
        // Re-encoding a parsed certificate returns its cached original bytes; it cannot fail.
        (try? encodeDER("certificate") { i2d_X509(handle.pointer, $0) }) ?? []
    }

    /// The certificate as PEM text; empty only if OpenSSL runs out of memory.
    public var pem: String {
        guard let bio = try? MemoryBIO(), PEM_write_bio_X509(bio.pointer, handle.pointer) == 1 else {
            OpenSSLErrorQueue.clear()
            return ""
        }
        return String(decoding: bio.readAll(), as: UTF8.self)
    }
}

/// The keyUsage bits of a certificate (RFC 5280, 4.2.1.3), as OpenSSL reports them.
public struct KeyUsage: OptionSet, Sendable, Hashable {
    /// The bits, in OpenSSL's `KU_*` layout.
    public let rawValue: UInt32

    /// Creates a set from bits in OpenSSL's `KU_*` layout.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// digitalSignature: may sign data other than certificates and CRLs, such as a login challenge.
    public static let digitalSignature = KeyUsage(rawValue: UInt32(KU_DIGITAL_SIGNATURE))
    /// keyCertSign: may sign certificates.
    public static let keyCertSign = KeyUsage(rawValue: UInt32(KU_KEY_CERT_SIGN))
    /// cRLSign: may sign certificate revocation lists.
    public static let cRLSign = KeyUsage(rawValue: UInt32(KU_CRL_SIGN))
}
