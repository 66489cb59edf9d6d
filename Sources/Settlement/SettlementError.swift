/// Why a settlement run failed as a whole (nothing was committed).
public struct SettlementError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable {
        /// A file or directory could not be read, written or moved.
        case io
        /// Another run holds the lock.
        case locked
        /// The campaign parameters differ from the ones recorded by the first run.
        case parametersChanged
        /// The configuration is unusable.
        case configuration
        /// The database refused or failed.
        case database
    }

    /// The kind of failure.
    public var code: Code
    /// One sentence: what, where, what to do.
    public var message: String

    /// A failure with its sentence.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
