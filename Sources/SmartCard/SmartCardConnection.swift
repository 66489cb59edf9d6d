import CPCSCLite
import CShims

/// How a connection shares the card with other applications (`SCARD_SHARE_…`).
public enum ShareMode: Sendable {
    /// Other applications may connect too; use transactions for sequences that must not be interleaved.
    case shared
    /// No other application may connect while this connection lasts.
    case exclusive
    /// Talks to the reader, not the card; works without a card.
    case direct

    var pcscValue: DWORD {
        switch self {
        case .shared: DWORD(SCARD_SHARE_SHARED)
        case .exclusive: DWORD(SCARD_SHARE_EXCLUSIVE)
        case .direct: DWORD(SCARD_SHARE_DIRECT)
        }
    }
}

/// The transmission protocols a connection accepts (`SCARD_PROTOCOL_…`).
public struct ProtocolSet: OptionSet, Sendable {
    /// The PC/SC bit mask.
    public var rawValue: UInt32
    /// Creates a set from the PC/SC bit mask.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Character-oriented T=0.
    public static let t0 = ProtocolSet(rawValue: UInt32(SCARD_PROTOCOL_T0))
    /// Block-oriented T=1.
    public static let t1 = ProtocolSet(rawValue: UInt32(SCARD_PROTOCOL_T1))
    /// Raw transfer, for readers with a special protocol.
    public static let raw = ProtocolSet(rawValue: UInt32(SCARD_PROTOCOL_RAW))
    /// T=0 or T=1, whichever the card and reader agree on.
    public static let any: ProtocolSet = [.t0, .t1]
}

/// The protocol a connection uses.
public enum CardProtocol: Sendable, Equatable {
    /// Character-oriented T=0.
    case t0
    /// Block-oriented T=1.
    case t1
    /// Raw transfer.
    case raw
    /// None negotiated, as in a direct connection to the reader.
    case undefined

    init(pcscValue: DWORD) {
        switch pcscValue {
        case DWORD(SCARD_PROTOCOL_T0): self = .t0
        case DWORD(SCARD_PROTOCOL_T1): self = .t1
        case DWORD(SCARD_PROTOCOL_RAW): self = .raw
        default: self = .undefined
        }
    }
}

/// What happens to the card when a transaction ends or a connection closes (`SCARD_…_CARD`).
public enum Disposition: Sendable {
    /// Leave the card as it is.
    case leave
    /// Reset the card: selected files and verified PINs are forgotten.
    case reset
    /// Power the card down.
    case unpower
    /// Eject the card, where the reader can.
    case eject

    var pcscValue: DWORD {
        switch self {
        case .leave: DWORD(SCARD_LEAVE_CARD)
        case .reset: DWORD(SCARD_RESET_CARD)
        case .unpower: DWORD(SCARD_UNPOWER_CARD)
        case .eject: DWORD(SCARD_EJECT_CARD)
        }
    }
}

/// A connection to the card in one reader (`SCardConnect` / `SCardDisconnect`).
///
/// Like its context, every method blocks the calling thread: call from a dedicated thread, not Swift's
/// cooperative pool. A connection is used by one thread at a time.
public final class SmartCardConnection {
    /// The context the handle belongs to; held so that it is released only after this connection.
    private let context: SmartCardContext
    /// `MAX_BUFFER_SIZE_EXTENDED`, which Swift cannot import: room for any answer, even to an extended APDU.
    private static let maximumResponseLength = 4 + 3 + (1 << 16) + 3 + 2
    /// The pcsc-lite card handle, owned by this value; `nil` once disconnected.
    private var handle: SCARDHANDLE?
    /// The reader the card is in.
    public let reader: String
    /// The protocol negotiated at connection time.
    public private(set) var activeProtocol: CardProtocol
    /// The card's answer to reset, as the reader reported it when the connection was made.
    public private(set) var atr: [UInt8]

    /// Connects; see `SmartCardContext.connect`.
    ///
    /// The corresponding C functions are `SCardConnect` and `SCardStatus`.
    init(context: SmartCardContext, reader: String, share: ShareMode, protocols: ProtocolSet) throws(SmartCardError) {
        var cardHandle: SCARDHANDLE = 0
        var negotiated: DWORD = 0
        try pcscCheck("SCardConnect", reader: reader) {
            SCardConnect(context.handle, reader, share.pcscValue, DWORD(protocols.rawValue), &cardHandle, &negotiated)
        }
        self.context = context
        self.handle = cardHandle
        self.reader = reader
        self.activeProtocol = CardProtocol(pcscValue: negotiated)
        self.atr = []
        if share != .direct {
            atr = try status()
        }
    }

    deinit {
        release(.reset)
    }

    /// Sends one command APDU (its encoded bytes) and returns the card's answer.
    ///
    /// `.cardRemoved` when the card was removed or reset since the connection was made, `.protocolMismatch` on a
    /// connection without T=0 or T=1 (a direct one).
    ///
    /// The corresponding C function is `SCardTransmit`.
    public func transmit(_ apdu: [UInt8]) throws(SmartCardError) -> ResponseAPDU {
        let handle = try openHandle()
        let pci: UnsafePointer<SCARD_IO_REQUEST>? =
            switch activeProtocol {
            case .t0: mynapoint_scard_pci_t0()
            case .t1: mynapoint_scard_pci_t1()
            case .raw, .undefined: nil
            }
        guard let pci else {
            throw SmartCardError(.protocolMismatch, "no T=0 or T=1 protocol on this connection", reader: reader)
        }
        var response = [UInt8](repeating: 0, count: Self.maximumResponseLength)
        var responseLength = DWORD(response.count)
        try pcscCheck("SCardTransmit", reader: reader) {
            SCardTransmit(handle, pci, apdu, DWORD(apdu.count), nil, &response, &responseLength)
        }
        do throws(SmartCardError) {
            return try ResponseAPDU(bytes: Array(response.prefix(Int(responseLength))))
        } catch {
            throw SmartCardError(error.code, error.message, reader: reader)
        }
    }

    /// Sends one command APDU and returns the card's answer.
    public func transmit(_ command: CommandAPDU) throws(SmartCardError) -> ResponseAPDU {
        try transmit(command.bytes)
    }

    /// Takes the card for this connection alone until `endTransaction`, blocking while another holds it.
    ///
    /// The corresponding C function is `SCardBeginTransaction`.
    public func beginTransaction() throws(SmartCardError) {
        let handle = try openHandle()
        try pcscCheck("SCardBeginTransaction", reader: reader) { SCardBeginTransaction(handle) }
    }

    /// Ends the transaction begun by `beginTransaction`, leaving the card as `disposition` says.
    ///
    /// The corresponding C function is `SCardEndTransaction`.
    public func endTransaction(_ disposition: Disposition = .leave) throws(SmartCardError) {
        let handle = try openHandle()
        try pcscCheck("SCardEndTransaction", reader: reader) { SCardEndTransaction(handle, disposition.pcscValue) }
    }

    /// Runs `body` inside a transaction, which ends (leaving the card) whether `body` returns or throws.
    public func withTransaction<T>(_ body: (SmartCardConnection) throws -> T) throws -> T {
        try beginTransaction()
        let result: T
        do {
            result = try body(self)
        } catch {
            // The body's error says more than a failure to end the transaction, which it likely caused.
            try? endTransaction()
            throw error
        }
        try endTransaction()
        return result
    }

    /// Closes the connection, leaving the card as `disposition` says; later calls throw `.other`.
    ///
    /// `deinit` does the same with `.reset` for a connection left open. Errors are ignored: a removed card or a
    /// stopped pcscd leaves nothing to clean up.
    ///
    /// The corresponding C function is `SCardDisconnect`.
    public func disconnect(_ disposition: Disposition = .reset) {
        release(disposition)
    }

    private func release(_ disposition: Disposition) {
        guard let handle else { return }
        _ = SCardDisconnect(handle, disposition.pcscValue)
        self.handle = nil
    }

    private func openHandle() throws(SmartCardError) -> SCARDHANDLE {
        guard let handle else {
            throw SmartCardError(.other, "the connection was closed", reader: reader)
        }
        return handle
    }

    /// The ATR as the reader reports it now.
    private func status() throws(SmartCardError) -> [UInt8] {
        let handle = try openHandle()
        var state: DWORD = 0
        var negotiated: DWORD = 0
        var atr = [UInt8](repeating: 0, count: Int(MAX_ATR_SIZE))
        var atrLength = DWORD(atr.count)
        var nameLength: DWORD = 0
        // The reader name is known; pcsc-lite accepts a NULL name buffer and only reports its length.
        try pcscCheck("SCardStatus", reader: reader) {
            SCardStatus(handle, nil, &nameLength, &state, &negotiated, &atr, &atrLength)
        }
        return Array(atr.prefix(Int(atrLength)))
    }
}
