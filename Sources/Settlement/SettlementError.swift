/// Why settlement stopped: before a commit (nothing of that run committed), or after one (`deliveryPending`).
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
        /// A run is committed but its result files or moves failed; the next run delivers them first (exit 5).
        case deliveryPending
    }

    /// The kind of failure.
    public var code: Code
    /// One sentence: what, where, what to do.
    public var message: String
    /// Runs of the same invocation committed before this failure (their results are delivered).
    public var committedRuns: [Int64] = []

    /// A failure with its sentence.
    public init(code: Code, message: String, committedRuns: [Int64] = []) {
        self.code = code
        self.message = message
        self.committedRuns = committedRuns
    }

    /// Run `run` is committed, but delivering it failed with `cause`.
    static func deliveryPending(run: Int64, cause: any Error) -> SettlementError {
        SettlementError(
            code: .deliveryPending,
            message:
                "run \(run) is committed, but delivering its results failed: \(cause) — fix the cause and run settle again: it delivers run \(run) first, byte for byte"
        )
    }

    /// The sentence.
    public var description: String { message }
}
