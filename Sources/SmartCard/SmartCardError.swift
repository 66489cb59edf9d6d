import CPCSCLite

/// An error from the PC/SC resource manager, or from interpreting what a card answered.
public struct SmartCardError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, in the words a caller decides on.
    public enum Code: Sendable, Equatable {
        /// The resource manager (pcscd) is not running or has stopped.
        case serviceUnavailable
        /// No reader is attached.
        case noReaders
        /// The wait ended before a card came.
        case timeout
        /// The reader holds no card.
        case noCard
        /// The card was removed, or reset by another application, since the connection was made.
        case cardRemoved
        /// The reader is unknown or no longer available.
        case readerUnavailable
        /// Another application holds the card exclusively.
        case sharingViolation
        /// `SmartCardContext.cancel()` ended the wait.
        case cancelled
        /// The card does not speak the requested protocol.
        case protocolMismatch
        /// The command did not reach the card, or its answer was malformed.
        case transmitFailed
        /// Any other failure; `pcscCode` and `message` tell which.
        case other
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable explanation: the failing operation and the resource manager's own words.
    public var message: String
    /// The PC/SC return code (`SCARD_E_…`, `SCARD_W_…`), when the resource manager reported the error.
    public var pcscCode: UInt32?
    /// The reader the operation concerned, when there was one.
    public var reader: String?

    /// Creates an error; the code and message are required, the PC/SC code and reader are context.
    public init(_ code: Code, _ message: String, pcscCode: UInt32? = nil, reader: String? = nil) {
        self.code = code
        self.message = message
        self.pcscCode = pcscCode
        self.reader = reader
    }

    /// The code, the message, and the reader and PC/SC code when known.
    public var description: String {
        var text = "smart card error (\(code)): \(message)"
        if let reader { text += " [reader \"\(reader)\"]" }
        if let pcscCode { text += " [PC/SC 0x\(String(pcscCode, radix: 16, uppercase: true))]" }
        return text
    }
}

extension SmartCardError {
    /// The error for the PC/SC return code `result` of `operation`, with `pcsc_stringify_error`'s text.
    init(pcsc result: LONG, operation: String, reader: String? = nil) {
        let text = String(cString: pcsc_stringify_error(result))
        self.init(
            Self.code(for: result),
            "\(operation): \(text)",
            pcscCode: UInt32(truncatingIfNeeded: result),
            reader: reader
        )
    }

    /// Maps a PC/SC return code to the module's codes.
    static func code(for result: LONG) -> Code {
        switch result {
        case SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED: .serviceUnavailable
        case SCARD_E_NO_READERS_AVAILABLE: .noReaders
        case SCARD_E_TIMEOUT: .timeout
        case SCARD_E_NO_SMARTCARD: .noCard
        // A reset by someone else invalidates the session as much as a removal does: the card's state
        // (selected file, verified PIN) is gone, so the caller must start over in both cases.
        case SCARD_W_REMOVED_CARD, SCARD_W_RESET_CARD: .cardRemoved
        case SCARD_E_READER_UNAVAILABLE, SCARD_E_UNKNOWN_READER: .readerUnavailable
        case SCARD_E_SHARING_VIOLATION: .sharingViolation
        case SCARD_E_CANCELLED: .cancelled
        case SCARD_E_PROTO_MISMATCH: .protocolMismatch
        case SCARD_E_NOT_TRANSACTED, SCARD_E_COMM_DATA_LOST: .transmitFailed
        default: .other
        }
    }
}

/// Runs one PC/SC call and turns a failing return code into a `SmartCardError`, read right after the call.
@inline(__always)
func pcscCheck(_ operation: String, reader: String? = nil, _ call: () -> LONG) throws(SmartCardError) {
    let result = call()
    guard result == SCARD_S_SUCCESS else {
        throw SmartCardError(pcsc: result, operation: operation, reader: reader)
    }
}
