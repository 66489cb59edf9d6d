/// A value bound to a `$n` placeholder of a parameterised statement.
///
/// Values travel as text (the server infers each placeholder's type from the statement, as for a literal), except
/// `bytes`, which travel in binary as `bytea`.
public enum PostgresBind: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByNilLiteral, ExpressibleByBooleanLiteral
{
    /// SQL `NULL`.
    case null
    /// A text value; it must not contain a NUL character (PostgreSQL text cannot hold one).
    case text(String)
    /// An integer value.
    case int(Int64)
    /// A boolean value.
    case bool(Bool)
    /// A `bytea` value.
    case bytes([UInt8])

    /// A text value, or `NULL` for nil.
    public init(_ value: String?) {
        self = value.map { .text($0) } ?? .null
    }

    /// An integer value, or `NULL` for nil.
    public init(_ value: Int?) {
        self = value.map { .int(Int64($0)) } ?? .null
    }

    /// A boolean value, or `NULL` for nil.
    public init(_ value: Bool?) {
        self = value.map { .bool($0) } ?? .null
    }

    /// A text value.
    public init(stringLiteral value: String) {
        self = .text(value)
    }

    /// An integer value.
    public init(integerLiteral value: Int64) {
        self = .int(value)
    }

    /// SQL `NULL`.
    public init(nilLiteral: ()) {
        self = .null
    }

    /// A boolean value.
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }

    /// The text the value is sent as, or the `\x…` form of bytes (used to scrub error messages).
    var textForm: String? {
        switch self {
        case .null: return nil
        case .text(let value): return value
        case .int(let value): return String(value)
        case .bool(let value): return value ? "t" : "f"
        case .bytes(let value):
            let digits: [Character] = Array("0123456789abcdef")
            var text = "\\x"
            text.reserveCapacity(2 + value.count * 2)
            for byte in value {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0f)])
            }
            return text
        }
    }
}
