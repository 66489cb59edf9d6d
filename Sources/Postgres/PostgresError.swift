/// An error from PostgreSQL, libpq, or decoding a result.
///
/// `message`, `detail` and `hint` are redacted when the error is built: passwords from connection strings and the
/// environment, bound parameter values, and the row values PostgreSQL quotes in its messages (`Key (id)=(…)`,
/// `Failing row contains (…)`, `invalid input syntax for type integer: "…"`) are replaced by `<redacted>`, so
/// the error can be logged as it is.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public enum Code: Sendable, Hashable {
        /// The connection could not be made, was closed, or was lost.
        case connectionFailed
        /// The server rejected the credentials (wrong or missing password, unknown role).
        case authenticationFailed
        /// The server rejected a statement.
        case queryFailed
        /// A `COPY` failed, on the server or while sending or receiving its data.
        case copyFailed
        /// The server answered with a result of an unexpected shape (for example a `COPY` where rows were expected).
        case protocolViolation
        /// A value could not be decoded as the requested Swift type, or was `NULL` where a value was required.
        case typeMismatch
        /// A lock could not be taken (SQLSTATE 55P03, `lock_timeout` or `NOWAIT`).
        case lockNotAvailable
    }

    /// What kind of failure this is.
    public let code: Code
    /// The primary message (PostgreSQL's or libpq's, one line), redacted.
    public let message: String
    /// The five-character SQLSTATE, when the server sent one.
    public let sqlState: String?
    /// The server's detail text, redacted.
    public let detail: String?
    /// The server's hint text, redacted.
    public let hint: String?
    /// The name of the violated constraint, when the server names one.
    public let constraint: String?
    /// The table the error concerns, when the server names one.
    public let table: String?

    /// Creates an error; the texts are taken as given (callers redact).
    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, table: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
    }

    /// `PostgreSQL <code> [SQLSTATE]: message (detail)`.
    public var description: String {
        var text = "PostgreSQL \(code)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        return text
    }
}
