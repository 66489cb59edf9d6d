import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's default DRBG.
public enum SecureRandom {
    /// Returns `count` cryptographically secure random bytes.
    ///
    /// `count` must be 0 to `Int32.max`, or the call traps; throws `randomFailure` when the generator cannot
    /// deliver (it is not seeded, say). The corresponding C function is `RAND_bytes`.
    public static func bytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        precondition((0...Int(Int32.max)).contains(count), "SecureRandom.bytes: count \(count) out of range")
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return bytes }
        let result = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        guard result == 1 else { throw .openSSL(.randomFailure, "RAND_bytes(\(count)) failed") }
        return bytes
    }
}
