import Localization
public import SmartCard

/// Where APDUs go: a PC/SC connection, or anything that answers like one (a test double).
public protocol CardChannel: AnyObject {
    /// Sends one command APDU and returns the card's answer.
    func transmit(_ command: CommandAPDU) throws(SmartCardError) -> ResponseAPDU
    /// Takes the card for this channel alone until `endTransaction`.
    func beginTransaction() throws(SmartCardError)
    /// Ends the transaction, leaving the card as `disposition` says.
    func endTransaction(_ disposition: Disposition) throws(SmartCardError)
    /// Closes the channel, leaving the card as `disposition` says.
    func disconnect(_ disposition: Disposition)
}

extension SmartCardConnection: CardChannel {}

/// What the card says about the user-authentication PIN before any VERIFY.
public enum PINStatus: Sendable, Equatable {
    /// The PIN may be tried this many times (1…15) before the card blocks it.
    case triesLeft(Int)
    /// The PIN is blocked.
    case blocked
}

/// The JPKI user-authentication application of a My Number card (registration spec §1), over short APDUs.
///
/// Every status word the card may answer is turned into a typed outcome (`RegistrationError.Code`). Blocking:
/// every call waits for the card, so use it from a dedicated thread, not Swift's cooperative pool.
public final class JPKICard {
    /// The JPKI application identifier, `D3 92 F0 00 26 01 00 00 00 01`.
    public static let applicationID: [UInt8] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]
    /// The prefix that identifies a JPKI card's token information; the whole EF holds `JPKIAPICCTOKEN2` padded
    /// with spaces to 32 bytes.
    public static let tokenPrefix = "JPKIAPICCTOKEN"

    /// The elementary files of the application used here.
    public enum File: UInt16, Sendable {
        /// Token information, 32 bytes.
        case tokenInfo = 0x0006
        /// The user-authentication certificate (DER).
        case certificate = 0x000A
        /// The user-authentication CA certificate (DER); it proves nothing, trust anchors come from configuration.
        case caCertificate = 0x000B
        /// The user-authentication private key (RSA-2048).
        case privateKey = 0x0017
        /// The user-authentication PIN.
        case pin = 0x0018
    }

    private let channel: any CardChannel
    /// The most bytes one READ BINARY asks for.
    static let chunk = 256
    /// The largest offset READ BINARY can address (15 bits).
    static let maximumOffset = 0x7FFF

    /// A card reached through `channel`; nothing is sent yet.
    public init(channel: any CardChannel) {
        self.channel = channel
    }

    /// Selects the JPKI application: `.notMyNumberCard` for any answer but `9000`.
    public func selectApplication() throws(RegistrationError) {
        let response = try send(CommandAPDU(ins: 0xA4, p1: 0x04, p2: 0x0C, data: Self.applicationID))
        guard response.statusWord == 0x9000 else {
            throw RegistrationError(.notMyNumberCard, .notMyNumberCard(status: hex(response.statusWord)))
        }
    }

    /// Selects an EF of the application.
    public func select(_ file: File) throws(RegistrationError) {
        let id = file.rawValue
        let response = try send(CommandAPDU(ins: 0xA4, p1: 0x02, p2: 0x0C, data: [UInt8(id >> 8), UInt8(id & 0xFF)]))
        switch response.statusWord {
        case 0x9000: return
        case 0x6A82:
            throw RegistrationError(.notMyNumberCard, .missingCardFile(hex(id)))
        default:
            throw unexpected(response.statusWord, .selectingFile(hex(id)))
        }
    }

    /// Reads the token information (EF `0006`) and checks that it names a JPKI card.
    @discardableResult
    public func readTokenInfo() throws(RegistrationError) -> String {
        try select(.tokenInfo)
        let bytes = try readBinary(offset: 0, length: 32, allowShort: true)
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix(Self.tokenPrefix) else {
            throw RegistrationError(.notMyNumberCard, .notJPKIToken)
        }
        return text.trimmingWhitespace()
    }

    /// Reads a DER certificate EF: the header first, then exactly the length it gives in chunks of ≤ 256 bytes,
    /// so padding after the certificate is never read.
    public func readCertificateDER(_ file: File = .certificate) throws(RegistrationError) -> [UInt8] {
        try select(file)
        let header = try readBinary(offset: 0, length: 4, allowShort: false)
        guard let total = Self.derLength(header), total <= Self.maximumOffset + 1 else {
            throw RegistrationError(.malformedCardData, .fileWithoutCertificate(hex(file.rawValue)))
        }
        var der = header
        der.reserveCapacity(total)
        while der.count < total {
            let part = try readBinary(offset: der.count, length: min(Self.chunk, total - der.count), allowShort: true)
            der += part
        }
        return Array(der.prefix(total))
    }

    /// The tries left for the user-authentication PIN, or `.blocked`, asked without sending a PIN.
    public func pinStatus() throws(RegistrationError) -> PINStatus {
        try select(.pin)
        let response = try send(CommandAPDU(ins: 0x20, p1: 0x00, p2: 0x80))
        switch response.statusWord {
        case 0x63C0, 0x6984, 0x6983: return .blocked
        case 0x63C1...0x63CF: return .triesLeft(Int(response.sw2 & 0x0F))
        default: throw unexpected(response.statusWord, .askingTriesLeft)
        }
    }

    /// Sends the user-authentication PIN with VERIFY (EF `0018` must be selected).
    ///
    /// `.wrongPIN(triesLeft:)` with the tries the card reports; `.pinBlocked` when this try blocked it or it was
    /// blocked already.
    public func verifyPIN(_ pin: PIN) throws(RegistrationError) {
        let response = try send(CommandAPDU(ins: 0x20, p1: 0x00, p2: 0x80, data: pin.bytes))
        switch response.statusWord {
        case 0x9000: return
        case 0x63C0:
            throw RegistrationError(.pinBlocked, .wrongPINNowBlocked)
        case 0x63C1...0x63CF:
            let left = Int(response.sw2 & 0x0F)
            throw RegistrationError(.wrongPIN(triesLeft: left), .wrongPIN(triesLeft: left))
        case 0x6984, 0x6983:
            throw RegistrationError(.pinBlocked, .pinBlocked)
        default:
            throw unexpected(response.statusWord, .verifyingPIN)
        }
    }

    /// Signs a DigestInfo with the user-authentication key (EF `0017` selected, PIN verified); the card pads
    /// (PKCS#1 v1.5) but does not hash.
    public func sign(digestInfo: [UInt8]) throws(RegistrationError) -> [UInt8] {
        let response = try send(CommandAPDU(cla: 0x80, ins: 0x2A, p1: 0x00, p2: 0x80, data: digestInfo, le: 256))
        switch response.statusWord {
        case 0x9000:
            guard !response.data.isEmpty else {
                throw RegistrationError(.malformedCardData, .emptySignature)
            }
            return response.data
        case 0x6982:
            throw RegistrationError(.unexpectedStatus(0x6982), .signRefused)
        default:
            throw unexpected(response.statusWord, .signing)
        }
    }

    /// Verifies the PIN and signs inside one transaction, so no other application can come between them.
    ///
    /// The application and EFs are selected again inside the transaction: another application may have changed
    /// the selection since the certificate was read.
    public func verifyAndSign(pin: PIN, digestInfo: [UInt8]) throws(RegistrationError) -> [UInt8] {
        do {
            try channel.beginTransaction()
        } catch {
            throw Self.map(error)
        }
        let signature: [UInt8]
        do {
            try selectApplication()
            try select(.pin)
            try verifyPIN(pin)
            try select(.privateKey)
            signature = try sign(digestInfo: digestInfo)
        } catch {
            // The card's own error says more than a failure to end the transaction, which it likely caused.
            try? channel.endTransaction(.reset)
            throw error
        }
        // Reset at the end: the verified PIN must not outlive this signature.
        do {
            try channel.endTransaction(.reset)
        } catch {
            throw Self.map(error)
        }
        return signature
    }

    /// Disconnects, resetting the card so that no verified PIN state remains.
    public func disconnect() {
        channel.disconnect(.reset)
    }

    // MARK: - APDU level

    /// READ BINARY of `length` (≤ 256) bytes at `offset` of the selected EF.
    ///
    /// With `allowShort`, fewer bytes than asked are accepted at the end of the file (`6282`, or `9000` with less);
    /// the caller decides whether that is enough.
    private func readBinary(offset: Int, length: Int, allowShort: Bool) throws(RegistrationError) -> [UInt8] {
        guard offset <= Self.maximumOffset else {
            throw RegistrationError(.malformedCardData, .cardFileTooLong)
        }
        let response = try send(
            CommandAPDU(ins: 0xB0, p1: UInt8(offset >> 8), p2: UInt8(offset & 0xFF), le: length))
        switch response.statusWord {
        case 0x9000, 0x6282:
            guard !response.data.isEmpty, response.data.count <= length,
                allowShort || response.data.count == length
            else {
                throw RegistrationError(.malformedCardData, .cardFileShort)
            }
            return response.data
        case 0x6B00:
            throw RegistrationError(.malformedCardData, .cardFileShort)
        default:
            throw unexpected(response.statusWord, .readingFile)
        }
    }

    /// Transmits, following the transport answers `61xx` (GET RESPONSE) and `6Cxx` (resend with the right Le)
    /// that some T=0 readers leave to the application.
    private func send(_ command: CommandAPDU) throws(RegistrationError) -> ResponseAPDU {
        do {
            var response = try channel.transmit(command)
            if response.sw1 == 0x6C, let _ = command.le {
                let le = response.sw2 == 0 ? 256 : Int(response.sw2)
                response = try channel.transmit(
                    CommandAPDU(
                        cla: command.cla, ins: command.ins, p1: command.p1, p2: command.p2, data: command.data, le: le))
            }
            var data: [UInt8] = []
            var rounds = 0
            while response.sw1 == 0x61, rounds < 64 {
                data += response.data
                let le = response.sw2 == 0 ? 256 : Int(response.sw2)
                response = try channel.transmit(CommandAPDU(ins: 0xC0, p1: 0, p2: 0, le: le))
                rounds += 1
            }
            if !data.isEmpty { response.data = data + response.data }
            return response
        } catch {
            throw Self.map(error)
        }
    }

    /// The length of a DER value (header included) from its first bytes; nil unless it is a SEQUENCE.
    static func derLength(_ header: [UInt8]) -> Int? {
        guard header.count >= 2, header[0] == 0x30 else { return nil }
        let first = Int(header[1])
        if first < 0x80 { return 2 + first }
        let count = first & 0x7F
        guard (1...2).contains(count), header.count >= 2 + count else { return nil }
        var length = 0
        for index in 0..<count { length = length << 8 | Int(header[2 + index]) }
        return 2 + count + length
    }

    private func unexpected(_ statusWord: UInt16, _ step: HolderMessage.CardStep) -> RegistrationError {
        RegistrationError(.unexpectedStatus(statusWord), .unexpectedStatus(hex(statusWord), step))
    }

    /// The registration outcome of a PC/SC failure.
    static func map(_ error: SmartCardError) -> RegistrationError {
        switch error.code {
        case .serviceUnavailable:
            RegistrationError(.serviceUnavailable, .serviceUnavailable)
        case .noReaders, .readerUnavailable:
            RegistrationError(.readerGone, .readerGone)
        case .noCard, .cardRemoved, .transmitFailed:
            // A command the card never answered is what a removal mid-command looks like before pcscd notices.
            RegistrationError(.cardRemoved, .cardRemoved)
        case .timeout:
            RegistrationError(.noCard, .noCardInTime)
        case .sharingViolation:
            RegistrationError(.cardBusy, .cardBusy)
        case .cancelled, .protocolMismatch, .other:
            RegistrationError(.cardCommunication, .cardCommunication(detail: "\(error)"))
        }
    }
}

/// Four uppercase hexadecimal digits.
func hex(_ value: UInt16) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - text.count)) + text
}
