import CLibPQ

/// What a `postgresql://` URL or conninfo string holds, read by libpq's own parser without connecting.
public enum ConnectionString {
    /// Whether a connection string may carry a password.
    public enum PasswordPresence: Sendable, Equatable {
        /// No password: a plain database name, or a URL or conninfo without one.
        case none
        /// A non-empty password (`user:…@` in a URL, `?password=…`, or `password=…` in conninfo).
        case present
        /// Neither a valid URL nor valid conninfo: libpq would refuse it, and it cannot be said what it holds.
        case unreadable
    }

    /// Whether `text` carries a password, as libpq would read it when connecting with it as `dbname`.
    ///
    /// Reading it with libpq's parser catches every spelling libpq accepts (percent-encoding, quoting, key
    /// order) without a second parser that could disagree. The corresponding C function is `PQconninfoParse`.
    public static func passwordPresence(_ text: String) -> PasswordPresence {
        // libpq expands a dbname into a connection string only when it starts with a URI prefix or has an `=`;
        // anything else is a database name and cannot carry a password.
        let isURI = text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
        guard isURI || text.contains("=") else { return .none }
        guard !text.utf8.contains(0) else { return .unreadable }
        var parseError: UnsafeMutablePointer<CChar>?
        // The message may quote the text, so it is freed unread.
        let options = PQconninfoParse(text, &parseError)
        if let parseError { PQfreemem(parseError) }
        guard let options else { return .unreadable }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val, value.pointee != 0 {
                return .present
            }
            option += 1
        }
        return .none
    }
}
