/// The field forms of a record line (settlement spec §3.3), checked on bytes without allocating.
public enum FieldForm {
    @inlinable @inline(__always)
    static func isUpperAlphanumeric(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A)
    }

    /// `record_id`: 1–64 of `A–Z a–z 0–9 . _ -`.
    @inlinable
    public static func isRecordID(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 1, bytes.count <= 64 else { return false }
        for b in bytes {
            let ok =
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
            if !ok { return false }
        }
        return true
    }

    /// `provider_id`: 1–16 of `A–Z 0–9`.
    @inlinable
    public static func isProviderID(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 1, bytes.count <= 16 else { return false }
        return bytes.allSatisfy(isUpperAlphanumeric)
    }

    /// `amount_yen`: a decimal integer 1–999,999,999 without sign, leading zeros, separators or decimals.
    @inlinable
    public static func amount(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 1, bytes.count <= 9, bytes[0] != UInt8(ascii: "0") else { return nil }
        var value = 0
        for b in bytes {
            guard b >= 0x30, b <= 0x39 else { return nil }
            value = value * 10 + Int(b &- 0x30)
        }
        return value
    }

    /// `kind`: `charge` or `purchase`.
    @inlinable
    public static func kind(_ bytes: UnsafeRawBufferPointer) -> RecordKind? {
        if bytes.elementsEqual("charge".utf8) { return .charge }
        if bytes.elementsEqual("purchase".utf8) { return .purchase }
        return nil
    }

    /// A value of exactly 12 ASCII digits: the shape of an individual number (個人番号), which must go nowhere.
    @inlinable
    public static func looksLikeIndividualNumber(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count == 12 && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}

/// What a record reports: a prepayment (charge) or a purchase.
public enum RecordKind: UInt8, Sendable {
    case charge = 1
    case purchase = 2
}

/// A MyKey ID: exactly 8 characters of `A–Z 0–9`, packed big-endian into 64 bits.
///
/// Comparing packed values orders IDs as their bytes do; hashing and storing one costs no allocation.
public struct MyKeyID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The eight ASCII bytes, first byte most significant.
    public let rawValue: UInt64

    /// A MyKey ID from its packed value, or nil when the bytes are not 8 of `A–Z 0–9`.
    public init?(rawValue: UInt64) {
        var v = rawValue
        for _ in 0..<8 {
            guard FieldForm.isUpperAlphanumeric(UInt8(truncatingIfNeeded: v)) else { return nil }
            v >>= 8
        }
        self.rawValue = rawValue
    }

    /// Validates and packs 8 bytes of `A–Z 0–9`; nil for any other form.
    @inlinable
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 8 else { return nil }
        var value: UInt64 = 0
        for b in bytes {
            guard FieldForm.isUpperAlphanumeric(b) else { return nil }
            value = value << 8 | UInt64(b)
        }
        self.rawValue = value
    }

    /// Validates and packs a MyKey ID written as text.
    public init?(_ text: String) {
        var text = text
        guard let id = text.withUTF8({ MyKeyID(bytes: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = id
    }

    /// The ID's eight characters.
    public var description: String {
        String(unsafeUninitializedCapacity: 8) { buffer in
            for i in 0..<8 { buffer[i] = UInt8(truncatingIfNeeded: rawValue >> UInt64(56 - 8 * i)) }
            return 8
        }
    }

    /// Orders MyKey IDs by their bytes.
    public static func < (lhs: MyKeyID, rhs: MyKeyID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A provider's identifier: 1–16 characters of `A–Z 0–9`.
public struct ProviderID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The identifier as text.
    public let value: String

    /// Validates a provider identifier.
    public init?(_ value: String) {
        var copy = value
        guard copy.withUTF8({ FieldForm.isProviderID(UnsafeRawBufferPointer($0)) }) else { return nil }
        self.value = value
    }

    /// The ID as written.
    public var description: String { value }

    /// Byte order, as the settlement order requires.
    public static func < (lhs: ProviderID, rhs: ProviderID) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
