import COpenSSL
import CShims
public import Foundation

/// An X509_CRL owned by exactly one wrapper; freed in `deinit`.
///
/// `@unchecked Sendable`: OpenSSL 3 objects such as X509_CRL may be read from several threads at once
/// (openssl-threads(7)); nothing mutates the CRL after parsing.
final class RevocationListHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_CRL_free(pointer) }
}

/// One revoked certificate listed in a CRL.
public struct RevokedEntry: Sendable, Hashable {
    /// The revoked certificate's serial number, in `Certificate.serialHex` form.
    public var serialHex: String
    /// When the certificate was revoked.
    public var revokedAt: Date

    /// Creates an entry for the certificate with serial `serialHex`, revoked at `revokedAt`.
    public init(serialHex: String, revokedAt: Date) {
        self.serialHex = serialHex
        self.revokedAt = revokedAt
    }
}

/// An X.509 certificate revocation list, its fields read once when it is parsed.
///
/// Immutable after parsing, so it may be shared between threads. Parsing does not check the signature: see
/// `TrustStore.verify(_:)`.
public struct CertificateRevocationList: Sendable {
    let handle: RevocationListHandle

    /// The issuer name, in `Certificate.issuer` form.
    public let issuer: String
    /// When this CRL was issued.
    public let thisUpdate: Date
    /// When the next CRL is due, if the CRL says.
    public let nextUpdate: Date?
    /// The cRLNumber extension (RFC 5280, 5.2.3) as uppercase hexadecimal without leading zeros, if present.
    public let crlNumber: String?
    /// The revoked certificates, in the CRL's order.
    public let entries: [RevokedEntry]

    /// Parses one DER CRL; bytes after it are an error.
    public init(der: [UInt8]) throws(CryptoError) {
        guard !der.isEmpty else { throw CryptoError(.invalidEncoding, "CRL: no bytes") }
        let parsed: (list: OpaquePointer?, consumed: Int) = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let list = d2i_X509_CRL(nil, &cursor, buffer.count)
            return (list, cursor! - buffer.baseAddress!)
        }
        guard let list = parsed.list else { throw .openSSL(.invalidEncoding, "CRL: not a DER X.509 CRL") }
        try self.init(handle: RevocationListHandle(list))
        guard parsed.consumed == der.count else {
            throw CryptoError(.invalidEncoding, "CRL: \(der.count - parsed.consumed) bytes after the DER value")
        }
    }

    /// Parses the first CRL in PEM text.
    public init(pem: String) throws(CryptoError) {
        let bio = try MemoryBIO(Array(pem.utf8))
        guard let list = PEM_read_bio_X509_CRL(bio.pointer, nil, nil, nil) else {
            throw .openSSL(.invalidEncoding, "CRL: no PEM CRL")
        }
        try self.init(handle: RevocationListHandle(list))
    }

    /// Parses a CRL file's bytes, PEM if they start with a "-----BEGIN " line, DER otherwise.
    public init(bytes: [UInt8]) throws(CryptoError) {
        if looksLikePEM(bytes) {
            try self.init(pem: String(decoding: bytes, as: UTF8.self))
        } else {
            try self.init(der: bytes)
        }
    }

    /// Reads every field once, so that the accessors cannot fail and malformed fields fail the parse.
    init(handle: RevocationListHandle) throws(CryptoError) {
        self.handle = handle
        let list = handle.pointer
        guard let issuer = ASN1.name(X509_CRL_get_issuer(list)) else {
            throw .openSSL(.invalidEncoding, "CRL: unreadable issuer")
        }
        guard let thisUpdate = ASN1.date(X509_CRL_get0_lastUpdate(list)) else {
            throw .openSSL(.invalidEncoding, "CRL: unreadable thisUpdate")
        }
        var nextUpdate: Date?
        if let time = X509_CRL_get0_nextUpdate(list) {
            guard let date = ASN1.date(time) else { throw .openSSL(.invalidEncoding, "CRL: unreadable nextUpdate") }
            nextUpdate = date
        }
        let crlNumber = try Self.crlNumber(list)
        var entries: [RevokedEntry] = []
        if let revoked = X509_CRL_get_REVOKED(list) {
            let count = mynapoint_sk_X509_REVOKED_num(revoked)
            entries.reserveCapacity(Int(max(count, 0)))
            for index in 0..<max(count, 0) {
                guard let entry = mynapoint_sk_X509_REVOKED_value(revoked, index),
                    let serial = ASN1.serialHex(X509_REVOKED_get0_serialNumber(entry)),
                    let date = ASN1.date(X509_REVOKED_get0_revocationDate(entry))
                else { throw .openSSL(.invalidEncoding, "CRL: unreadable entry \(index)") }
                entries.append(RevokedEntry(serialHex: serial, revokedAt: date))
            }
        }
        self.issuer = issuer
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.crlNumber = crlNumber
        self.entries = entries
    }

    /// The cRLNumber extension as uppercase hexadecimal, or nil when the CRL has none.
    ///
    /// The corresponding C function is `X509_CRL_get_ext_d2i`.
    private static func crlNumber(_ list: OpaquePointer) throws(CryptoError) -> String? {
        var critical: Int32 = 0
        guard let decoded = X509_CRL_get_ext_d2i(list, NID_crl_number, &critical, nil) else {
            // -1: absent; anything else: present but undecodable (or repeated).
            guard critical == -1 else { throw .openSSL(.invalidEncoding, "CRL: unreadable cRLNumber") }
            OpenSSLErrorQueue.clear()
            return nil
        }
        let integer = decoded.assumingMemoryBound(to: ASN1_INTEGER.self)
        defer { ASN1_INTEGER_free(integer) }
        guard let hex = ASN1.serialHex(integer), !hex.hasPrefix("-") else {
            throw CryptoError(.invalidEncoding, "CRL: cRLNumber is not a non-negative integer")
        }
        return hex
    }

    /// The CRL's DER encoding, whose SHA-256 identifies an import in the ledger; empty only if OpenSSL runs out of
    /// memory.
    public var der: [UInt8] {
        // Re-encoding a parsed CRL returns its cached original bytes; it cannot fail.
        (try? encodeDER("CRL") { i2d_X509_CRL(handle.pointer, $0) }) ?? []
    }

    /// Whether the CRL's signature verifies with `issuer`'s public key.
    ///
    /// The corresponding C function is `X509_CRL_verify`.
    public func isSigned(by issuer: Certificate) -> Bool {
        let result = X509_CRL_verify(handle.pointer, issuer.publicKey.handle.pointer)
        OpenSSLErrorQueue.clear()
        return result == 1
    }
}
