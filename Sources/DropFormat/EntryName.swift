import Crypto

/// The name of an entry in a drop folder, as the file system holds it: bytes, which need not be UTF-8.
///
/// Every file operation uses the bytes; people and the database see ``display``, where each byte that is not
/// part of valid UTF-8 is written `\xHH` (settlement spec §11.1).
public struct EntryName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The name's bytes, without a terminating NUL.
    public let bytes: [UInt8]

    /// A name from its bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// A name from a string (always valid UTF-8).
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// The name when its bytes are valid UTF-8.
    public var utf8String: String? {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var out = String.UnicodeScalarView()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): out.append(scalar)
            case .emptyInput: return String(out)
            case .error: return nil
            }
        }
    }

    /// True when the bytes are valid UTF-8.
    public var isUTF8: Bool { utf8String != nil }

    /// The name for messages and the database: valid UTF-8 as it is, every other byte — and every control
    /// character, so that a name can never start a new line in a log or a summary — as `\xHH`.
    public var display: String {
        if let text = utf8String, !bytes.contains(where: Self.isControl) { return text }
        var out = ""
        var index = 0
        while index < bytes.count {
            let length = Self.validSequenceLength(bytes, at: index)
            if length > 0 && !(length == 1 && Self.isControl(bytes[index])) {
                out += String(decoding: bytes[index..<(index + length)], as: UTF8.self)
                index += length
            } else {
                out += "\\x" + String(bytes[index], radix: 16, uppercase: true).leftPadded(to: 2)
                index += 1
            }
        }
        return out
    }

    /// The name as people see it (``display``).
    public var description: String { display }

    /// Byte order of the names (settlement spec §3.1).
    public static func < (lhs: EntryName, rhs: EntryName) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    /// True when the name ends with `suffix` and has something before it.
    public func hasSuffix(_ suffix: String) -> Bool {
        let tail = Array(suffix.utf8)
        return bytes.count > tail.count && Array(bytes.suffix(tail.count)) == tail
    }

    /// The name without `suffix`.
    public func dropping(_ suffix: String) -> [UInt8] { Array(bytes.dropLast(suffix.utf8.count)) }

    /// The longest name most file systems allow, in bytes.
    public static let maxLength = 255

    /// A name derived from `stem` by appending `suffix`, kept within ``maxLength`` bytes: when too long, the stem
    /// becomes its first 200 bytes, `~`, and the first 16 hex digits of the SHA-256 of the whole inbox name
    /// (settlement spec §11.2).
    public static func derived(stem: [UInt8], suffix: String, inboxName: EntryName) -> EntryName {
        let tail = Array(suffix.utf8)
        if stem.count + tail.count <= maxLength { return EntryName(bytes: stem + tail) }
        let digest = SHA256.hash(inboxName.bytes).hexString.prefix(16)
        return EntryName(bytes: Array(stem.prefix(200)) + Array("~\(digest)".utf8) + tail)
    }

    private static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    /// True when ``display`` shows other bytes than the name's own.
    public var isShownAsIs: Bool { Array(display.utf8) == bytes }

    /// Length of the valid UTF-8 sequence starting at `index`, or 0 when the byte there starts none.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        var decoder = UTF8()
        var iterator = bytes[index..<(index + length)].makeIterator()
        if case .scalarValue = decoder.decode(&iterator) { return length }
        return 0
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
