import CZstd

/// An error of the zstd wrapper: what went wrong, zstd's or the system's own words, and the file it concerns.
public struct ZstdError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of failure, for callers that decide by kind (a quarantine reason, a retry).
    public enum Code: String, Sendable {
        /// The stream ends inside a frame, or holds no frame at all.
        case truncated
        /// The bytes are not a valid zstd stream (bad magic, bad block, trailing garbage).
        case corrupt
        /// A frame's content checksum does not match its decompressed content.
        case checksumMismatch
        /// Opening or reading a file failed.
        case io
        /// zstd could not allocate memory.
        case outOfMemory
        /// The wrapper was used wrongly (bad parameter, use after a failure without `reset()`).
        case usage
    }

    /// The kind of failure.
    public let code: Code
    /// What happened, in zstd's or the system's words (for logs and error files).
    public let message: String
    /// The file being read, when the error concerns one.
    public var path: String?

    /// Creates an error; `path` is usually set by the file reader.
    public init(code: Code, message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    /// A one-line description: code, message and path.
    public var description: String {
        if let path {
            return "zstd \(code.rawValue): \(message) (\(path))"
        }
        return "zstd \(code.rawValue): \(message)"
    }

    /// The error for a zstd function result that `ZSTD_isError` flagged; `otherwise` is the code for
    /// failures that are not about memory, checksums or parameters.
    static func fromZstd(_ result: Int, otherwise: Code, context: String) -> ZstdError {
        let name = String(cString: ZSTD_getErrorName(result))
        let code: Code
        switch ZSTD_getErrorCode(result) {
        case ZSTD_error_checksum_wrong: code = .checksumMismatch
        case ZSTD_error_memory_allocation: code = .outOfMemory
        case ZSTD_error_parameter_unsupported, ZSTD_error_parameter_outOfBound, ZSTD_error_stage_wrong,
            ZSTD_error_init_missing:
            code = .usage
        default: code = otherwise
        }
        return ZstdError(code: code, message: "\(name) \(context)")
    }
}
