import Localization

/// A JPKI user-authentication PIN: 4 ASCII digits.
///
/// Its descriptions are redacted so that it cannot reach a log, an error or the terminal by accident.
public struct PIN: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The digits as the VERIFY command carries them.
    let bytes: [UInt8]

    /// A PIN from what was typed (surrounding whitespace and a line end ignored, full-width digits read as
    /// digits); nil unless exactly 4 digits.
    public init?(_ typed: String) {
        let bytes = Array(HolderInput.normalized(typed).utf8)
        guard bytes.count == 4, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        self.bytes = bytes
    }

    /// Redacted.
    public var description: String { "PIN(redacted)" }
    /// Redacted.
    public var debugDescription: String { description }
    /// Redacted, so `dump` shows nothing either.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// A MyKey ID password: 8 to 128 characters, no control characters.
///
/// Its descriptions are redacted; it is stored only as a salted scrypt hash.
public struct Password: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The password as typed.
    let text: String

    /// The shortest password accepted.
    public static let minimumLength = 8
    /// The longest password accepted.
    public static let maximumLength = 128

    /// A password from what was typed, without its line end; `.invalidPassword` when it breaks the rules.
    public init(_ typed: String) throws(RegistrationError) {
        var text = typed
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text.removeLast() }
        guard (Self.minimumLength...Self.maximumLength).contains(text.count) else {
            throw RegistrationError(
                .invalidPassword, .passwordLength(minimum: Self.minimumLength, maximum: Self.maximumLength))
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw RegistrationError(.invalidPassword, .passwordControlCharacters)
        }
        self.text = text
    }

    /// Whether two entries are the same password (the "type it again" check).
    public func matches(_ other: Password) -> Bool { text == other.text }

    /// Redacted.
    public var description: String { "Password(redacted)" }
    /// Redacted.
    public var debugDescription: String { description }
    /// Redacted, so `dump` shows nothing either.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        var text = Substring(self)
        while let first = text.first, isSpace(first) { text.removeFirst() }
        while let last = text.last, isSpace(last) { text.removeLast() }
        return String(text)
    }
}
