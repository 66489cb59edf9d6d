import COpenSSL
import CShims
public import Foundation

/// An X509_STORE holding trust anchors, owned by exactly one wrapper; freed in `deinit`.
///
/// `@unchecked Sendable`: OpenSSL 3 allows one X509_STORE to serve concurrent verifications once it is set
/// up (openssl-threads(7); its lookups lock internally); each verification uses its own X509_STORE_CTX,
/// and no anchor is added after `init`.
final class StoreHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    init(anchors: [Certificate]) {
        guard let pointer = X509_STORE_new() else { fatalError("X509_STORE_new: out of memory") }
        self.pointer = pointer
        // Every configured certificate is an anchor, even one that is not self-signed.
        X509_STORE_set_flags(pointer, UInt(X509_V_FLAG_PARTIAL_CHAIN))
        for anchor in anchors {
            // X509_STORE_add_cert takes its own reference and ignores duplicates; it fails only without memory.
            guard X509_STORE_add_cert(pointer, anchor.handle.pointer) == 1 else {
                fatalError("X509_STORE_add_cert: \(OpenSSLErrorQueue.drain())")
            }
        }
    }

    deinit { X509_STORE_free(pointer) }
}

/// An X509_STORE_CTX for one verification; freed in `deinit`.
final class StoreContext {
    let pointer: OpaquePointer

    init() throws(CryptoError) {
        guard let pointer = X509_STORE_CTX_new() else { throw .openSSL(.internalError, "X509_STORE_CTX_new failed") }
        self.pointer = pointer
    }

    deinit { X509_STORE_CTX_free(pointer) }
}

/// A STACK_OF(X509) of borrowed certificates; frees the stack, not the certificates, in `deinit`.
final class CertificateStack {
    let pointer: OpaquePointer
    /// Keeps the borrowed certificates alive as long as the stack.
    private let certificates: [Certificate]

    init(_ certificates: [Certificate]) throws(CryptoError) {
        guard let pointer = mynapoint_sk_X509_new_null() else {
            throw .openSSL(.internalError, "sk_X509_new_null failed")
        }
        self.pointer = pointer
        self.certificates = certificates
        for certificate in certificates where mynapoint_sk_X509_push(pointer, certificate.handle.pointer) <= 0 {
            throw .openSSL(.internalError, "sk_X509_push failed")
        }
    }

    deinit { mynapoint_sk_X509_free(pointer) }
}

/// Trust anchors (the configured CA certificates) and chain verification at a given time.
public struct TrustStore: Sendable {
    /// The trust anchors, in the order given.
    public let anchors: [Certificate]
    /// All anchors in one store: OpenSSL picks among same-named CA generations by key identifier.
    private let store: StoreHandle
    /// One store per anchor, for certificates without a usable authority key identifier (see `verify`).
    private let singleAnchorStores: [StoreHandle]

    /// A store trusting exactly `anchors`.
    public init(anchors: [Certificate]) {
        self.anchors = anchors
        store = StoreHandle(anchors: anchors)
        singleAnchorStores = anchors.count > 1 ? anchors.map { StoreHandle(anchors: [$0]) } : []
    }

    /// Checks that `certificate` chains to an anchor, through `intermediates` if needed, and that every
    /// certificate in the chain is within its validity period at `time`.
    ///
    /// Several CA generations share one issuer name, so the issuer is chosen by signature: OpenSSL matches
    /// the authority key identifier against each anchor's subject key identifier, and when a certificate has
    /// none (so OpenSSL may try the wrong generation and report a bad signature) each anchor is tried alone.
    /// Revocation is not checked here. The corresponding C function is `X509_verify_cert`.
    public func verify(
        _ certificate: Certificate, intermediates: [Certificate] = [], at time: Date
    )
        throws(CryptoError)
    {
        let outcome = try Self.verify(certificate, intermediates: intermediates, at: time, in: store)
        guard let failure = outcome else { return }
        if failure.code == .badSignature {
            var closest = failure
            for single in singleAnchorStores {
                guard let retried = try Self.verify(certificate, intermediates: intermediates, at: time, in: single)
                else { return }
                // The generation whose signature matched explains the failure better (expired, say).
                if closest.code == .badSignature, ![.badSignature, .untrustedIssuer].contains(retried.code) {
                    closest = retried
                }
            }
            throw closest
        }
        throw failure
    }

    /// Verifies in one store; returns the verification failure, throws only when OpenSSL itself fails.
    private static func verify(
        _ certificate: Certificate, intermediates: [Certificate], at time: Date, in store: StoreHandle
    ) throws(CryptoError) -> CryptoError? {
        let context = try StoreContext()
        let untrusted = try CertificateStack(intermediates)
        guard X509_STORE_CTX_init(context.pointer, store.pointer, certificate.handle.pointer, untrusted.pointer) == 1
        else { throw .openSSL(.internalError, "X509_STORE_CTX_init failed") }
        X509_STORE_CTX_set_time(context.pointer, 0, ASN1.timeT(time))
        // The context borrows the stack: keep it alive until verification is done.
        let result = withExtendedLifetime(untrusted) { X509_verify_cert(context.pointer) }
        // Chain errors are reported through the context; the error queue holds nothing useful for them.
        OpenSSLErrorQueue.clear()
        if result == 1 { return nil }
        let error = X509_STORE_CTX_get_error(context.pointer)
        let depth = X509_STORE_CTX_get_error_depth(context.pointer)
        let reason = String(cString: X509_verify_cert_error_string(Int(error)))
        let message = "certificate \(certificate.serialHex): \(reason) (depth \(depth))"
        return CryptoError(code(forVerifyError: error), message)
    }

    /// The error code for an X509_V_ERR_* value.
    private static func code(forVerifyError error: Int32) -> CryptoError.Code {
        switch error {
        case X509_V_ERR_CERT_HAS_EXPIRED: .expired
        case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
            X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
            .badSignature
        case X509_V_ERR_CERT_REVOKED: .revoked
        case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD: .invalidEncoding
        case X509_V_ERR_OUT_OF_MEM, X509_V_ERR_UNSPECIFIED: .internalError
        // No anchor issued it, or the chain is unacceptable (not a CA, path length, key usage …).
        default: .untrustedIssuer
        }
    }

    /// Checks that `crl` is signed by an anchor that was within its validity period at the CRL's `thisUpdate`
    /// and may sign CRLs (`cRLSign`, when the anchor has a keyUsage extension); returns that anchor.
    ///
    /// `.untrustedIssuer` when no anchor has the CRL's issuer name, `.badSignature` when some do but none
    /// of their keys verifies the signature, `.expired` / `.notYetValid` when the signing anchor was not valid
    /// at `thisUpdate` (a CRL dated outside its signer's life is forged or misdated), `.usageNotPermitted` when
    /// the signing anchor may not sign CRLs. The corresponding C function is `X509_CRL_verify`.
    @discardableResult
    public func verify(_ crl: CertificateRevocationList) throws(CryptoError) -> Certificate {
        let signers = anchors.filter { crl.isSigned(by: $0) }
        if let signer = signers.first(where: { $0.isValid(at: crl.thisUpdate) && Self.maySignCRLs($0) }) {
            return signer
        }
        if let signer = signers.first {
            if !signers.contains(where: { $0.isValid(at: crl.thisUpdate) }) {
                let code: CryptoError.Code = crl.thisUpdate < signer.notBefore ? .notYetValid : .expired
                throw CryptoError(
                    code,
                    "CRL from \(crl.issuer): the trust anchor that signed it was not valid at its thisUpdate "
                        + "(anchor valid \(signer.notBefore) to \(signer.notAfter))")
            }
            throw CryptoError(
                .usageNotPermitted,
                "CRL from \(crl.issuer): the trust anchor that signed it may not sign CRLs (no cRLSign key usage)")
        }
        if anchors.contains(where: { $0.subject == crl.issuer }) {
            throw CryptoError(.badSignature, "CRL from \(crl.issuer): no trust anchor of that name signed it")
        }
        throw CryptoError(.untrustedIssuer, "CRL from \(crl.issuer): issuer is not a trust anchor")
    }

    /// The anchor whose key signed `certificate`, if one did: which CA generation issued it.
    public func issuingAnchor(of certificate: Certificate) -> Certificate? {
        anchors.first { $0.subject == certificate.issuer && certificate.isSigned(by: $0) }
    }

    /// Whether `anchor` may sign CRLs: any key without a keyUsage extension, else only with `cRLSign`.
    private static func maySignCRLs(_ anchor: Certificate) -> Bool {
        anchor.keyUsage?.contains(.cRLSign) ?? true
    }
}
