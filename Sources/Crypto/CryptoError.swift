import COpenSSL

/// An error from the Crypto module: what failed, and OpenSSL's own explanation when it has one.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure, for callers that react differently to each.
    public enum Code: Sendable, Equatable {
        /// The bytes are not a well-formed DER or PEM object of the expected kind.
        case invalidEncoding
        /// The certificate or CRL does not chain to any configured trust anchor.
        case untrustedIssuer
        /// A certificate in the chain had expired at the verification time.
        case expired
        /// A certificate in the chain was not yet valid at the verification time.
        case notYetValid
        /// A signature in the chain does not verify with the issuer's key.
        case badSignature
        /// OpenSSL found a certificate of the chain on a CRL it was given (`TrustStore` gives it none: revocation
        /// is checked against the ledger).
        case revoked
        /// The key may not be used for this (a CA certificate without the cRLSign key usage signed a CRL).
        case usageNotPermitted
        /// The random number generator could not produce bytes.
        case randomFailure
        /// The algorithm, key type or parameter is not supported here.
        case unsupported
        /// OpenSSL failed for a reason unrelated to the input (memory, library state).
        case internalError
    }

    /// The kind of failure.
    public var code: Code
    /// What failed, followed by the OpenSSL error queue text when there was any.
    public var message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `CryptoError.<code>: <message>`, for logs.
    public var description: String { "CryptoError.\(code): \(message)" }

    /// An error whose message ends with the OpenSSL error queue, which this drains.
    ///
    /// Call it right after the failing OpenSSL call: the queue is per thread and any later call may add to it.
    static func openSSL(_ code: Code, _ message: String) -> CryptoError {
        let queue = OpenSSLErrorQueue.drain()
        return CryptoError(code, queue.isEmpty ? message : "\(message) (OpenSSL: \(queue))")
    }
}

/// The per-thread OpenSSL error queue.
enum OpenSSLErrorQueue {
    /// Removes every queued error and returns them as one line, oldest first.
    static func drain() -> String {
        var parts: [String] = []
        while true {
            let error = ERR_get_error()
            if error == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            buffer.withUnsafeMutableBufferPointer { pointer in
                ERR_error_string_n(error, pointer.baseAddress, pointer.count)
            }
            parts.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return parts.joined(separator: "; ")
    }

    /// Forgets queued errors after a failure the caller reports as a plain `false`.
    static func clear() { ERR_clear_error() }
}
