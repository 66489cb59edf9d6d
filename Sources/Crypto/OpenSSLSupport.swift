import COpenSSL
import CShims
import Foundation

/// A memory BIO that owns its buffer; freed in `deinit`.
final class MemoryBIO {
    let pointer: OpaquePointer

    /// An empty BIO to write into.
    init() throws(CryptoError) {
        guard let pointer = BIO_new(BIO_s_mem()) else { throw .openSSL(.internalError, "BIO_new failed") }
        self.pointer = pointer
    }

    /// A BIO holding a copy of `bytes`, to read from.
    convenience init(_ bytes: [UInt8]) throws(CryptoError) {
        try self.init()
        let written = bytes.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
        guard bytes.isEmpty || written == Int32(bytes.count) else {
            throw .openSSL(.internalError, "BIO_write failed")
        }
    }

    deinit { BIO_free(pointer) }

    /// Everything written to the BIO and not yet read.
    func readAll() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(pointer))
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { BIO_read(pointer, $0.baseAddress, Int32(pending)) }
        return Array(bytes.prefix(Int(max(read, 0))))
    }
}

/// An EVP_PKEY_CTX for one operation; freed in `deinit`.
final class KeyContext {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer?, _ what: String) throws(CryptoError) {
        guard let pointer else { throw .openSSL(.internalError, "\(what) failed") }
        self.pointer = pointer
    }

    deinit { EVP_PKEY_CTX_free(pointer) }
}

/// An EVP_MD_CTX for one sign or verify operation; freed in `deinit`.
final class DigestContext {
    let pointer: OpaquePointer

    init() throws(CryptoError) {
        guard let pointer = EVP_MD_CTX_new() else { throw .openSSL(.internalError, "EVP_MD_CTX_new failed") }
        self.pointer = pointer
    }

    deinit { EVP_MD_CTX_free(pointer) }
}

/// Conversions shared by certificates and CRLs.
enum ASN1 {
    /// The instant an ASN.1 UTCTime or GeneralizedTime denotes.
    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        // Days since 1970-01-01 from a proleptic Gregorian date (H. Hinnant's days_from_civil); avoids
        // timegm, whose availability and time-zone handling differ between platforms.
        let month = Int(parts.tm_mon) + 1
        let year = Int(parts.tm_year) + 1900 - (month <= 2 ? 1 : 0)
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + Int(parts.tm_mday) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + Int(parts.tm_hour) * 3_600 + Int(parts.tm_min) * 60 + Int(parts.tm_sec)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// A serial number as uppercase hexadecimal without leading zeros ("0" for zero).
    static func serialHex(_ integer: UnsafePointer<ASN1_INTEGER>?) -> String? {
        guard let integer, let data = ASN1_STRING_get0_data(integer) else { return nil }
        let length = Int(ASN1_STRING_length(integer))
        // OpenSSL keeps the magnitude big-endian and the sign in the type; serials must be positive
        // (RFC 5280, 4.1.2.2) but are parsed leniently, so a negative one keeps its sign.
        let magnitude = UnsafeBufferPointer(start: data, count: max(length, 0)).drop { $0 == 0 }
        let hex = Array(magnitude).hexString.uppercased().drop { $0 == "0" }
        let digits = hex.isEmpty ? "0" : String(hex)
        return ASN1_STRING_type(integer) == V_ASN1_NEG_INTEGER ? "-" + digits : digits
    }

    /// A distinguished name in its written order, "C=JP, O=JPKI, OU=...", UTF-8, RFC 2253 escaping.
    static func name(_ name: OpaquePointer?) -> String? {
        guard let name, let bio = try? MemoryBIO() else { return nil }
        // No reversal (unlike RFC 2253 proper): the order matches how the JPKI profile writes names.
        guard X509_NAME_print_ex(bio.pointer, name, 0, mynapoint_x509_name_flags_written_order()) >= 0 else {
            return nil
        }
        return String(decoding: bio.readAll(), as: UTF8.self)
    }

    /// A Date as seconds since 1970, clamped to what a time_t can hold.
    static func timeT(_ date: Date) -> time_t {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        if seconds >= Double(time_t.max) { return time_t.max }
        if seconds <= Double(time_t.min) { return time_t.min }
        return time_t(seconds)
    }
}

/// DER encoding through an OpenSSL i2d function.
func encodeDER(
    _ what: String, _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32
)
    throws(CryptoError) -> [UInt8]
{
    let length = encode(nil)
    guard length > 0 else { throw .openSSL(.internalError, "\(what): DER encoding failed") }
    var bytes = [UInt8](repeating: 0, count: Int(length))
    let written = bytes.withUnsafeMutableBufferPointer { buffer in
        var cursor = buffer.baseAddress
        return encode(&cursor)
    }
    guard written == length else { throw .openSSL(.internalError, "\(what): DER encoding failed") }
    return bytes
}

/// Whether `bytes` look like PEM: a "-----BEGIN " line after optional leading whitespace.
func looksLikePEM(_ bytes: [UInt8]) -> Bool {
    let marker = Array("-----BEGIN ".utf8)
    guard let start = bytes.firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return false }
    return bytes[start...].starts(with: marker)
}
