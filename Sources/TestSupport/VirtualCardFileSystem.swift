public import SmartCard

/// The ISO 7816-4 file commands of a virtual card: SELECT an application by AID, SELECT an EF by file
/// identifier, READ BINARY of the selected EF.
///
/// Applets compose it and add their own commands; the JPKI card's files and commands have exactly this shape.
public struct VirtualCardFileSystem: Sendable {
    /// The application identifier SELECT by name must match.
    public let aid: [UInt8]
    /// The elementary files of the application, by 2-byte file identifier.
    public var files: [UInt16: [UInt8]]
    /// Whether the application is selected.
    public private(set) var applicationSelected = false
    /// The selected EF's identifier, if any.
    public private(set) var selectedFile: UInt16?

    /// Creates a file system holding `files` in the application `aid`, nothing selected.
    public init(aid: [UInt8], files: [UInt16: [UInt8]]) {
        self.aid = aid
        self.files = files
    }

    /// Forgets the selection, as a card reset does.
    public mutating func reset() {
        applicationSelected = false
        selectedFile = nil
    }

    /// Answers SELECT (`A4`) and READ BINARY (`B0`); `nil` for any other instruction.
    public mutating func handle(_ command: CommandAPDU) -> ResponseAPDU? {
        switch command.ins {
        case 0xA4: select(command)
        case 0xB0: readBinary(command)
        default: nil
        }
    }

    private mutating func select(_ command: CommandAPDU) -> ResponseAPDU {
        switch command.p1 {
        case 0x04:  // by DF name
            guard command.data == aid else { return ResponseAPDU(statusWord: 0x6A82) }
            applicationSelected = true
            selectedFile = nil
            return ResponseAPDU(statusWord: 0x9000)
        case 0x02:  // EF under the current DF
            guard command.data.count == 2 else { return ResponseAPDU(statusWord: 0x6700) }
            let identifier = UInt16(command.data[0]) << 8 | UInt16(command.data[1])
            guard applicationSelected, files[identifier] != nil else { return ResponseAPDU(statusWord: 0x6A82) }
            selectedFile = identifier
            return ResponseAPDU(statusWord: 0x9000)
        default:
            return ResponseAPDU(statusWord: 0x6A86)  // incorrect P1 P2
        }
    }

    private func readBinary(_ command: CommandAPDU) -> ResponseAPDU {
        // P1 bit 8 would name a short EF identifier, which these files do not have.
        guard command.p1 & 0x80 == 0 else { return ResponseAPDU(statusWord: 0x6A86) }
        guard let selectedFile, let content = files[selectedFile] else {
            return ResponseAPDU(statusWord: 0x6986)  // command not allowed: no current EF
        }
        let offset = Int(command.p1) << 8 | Int(command.p2)
        guard offset < content.count else { return ResponseAPDU(statusWord: 0x6B00) }
        let wanted = command.le ?? 256
        let available = content.count - offset
        if available < wanted {
            // End of file before Le bytes: the bytes there are, with the warning 6282.
            return ResponseAPDU(data: Array(content[offset...]), statusWord: 0x6282)
        }
        return ResponseAPDU(data: Array(content[offset..<(offset + wanted)]), statusWord: 0x9000)
    }
}

/// A minimal ISO 7816 applet: SELECT of its AID (else `6A82`), SELECT and READ BINARY of its EFs, GET
/// CHALLENGE (`00 84 00 00 Le`: Le random bytes); an unknown instruction answers `6D00`, a class other than
/// `00` answers `6E00`.
public final class EchoApplet: VirtualCardApplet {
    /// The ATR of vpcd's own example card: T=1 only.
    public static let defaultATR: [UInt8] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14]
    /// A proprietary AID (RID `F0…` is for test use): "mynapt".
    public static let defaultAID: [UInt8] = [0xF0, 0x6D, 0x79, 0x6E, 0x61, 0x70, 0x74]
    /// One small EF, `0001`, holding an ASCII text.
    public static let defaultFiles: [UInt16: [UInt8]] = [0x0001: Array("mynapoint echo applet EF 0001".utf8)]

    /// The answer to reset.
    public let atr: [UInt8]
    // Touched only on the card's serving thread (see VirtualCardApplet).
    private var fileSystem: VirtualCardFileSystem

    /// Creates the applet with its ATR, AID and files.
    public init(
        atr: [UInt8] = EchoApplet.defaultATR,
        aid: [UInt8] = EchoApplet.defaultAID,
        files: [UInt16: [UInt8]] = EchoApplet.defaultFiles
    ) {
        self.atr = atr
        self.fileSystem = VirtualCardFileSystem(aid: aid, files: files)
    }

    /// Starts with nothing selected.
    public func powerOn() { fileSystem.reset() }
    /// Forgets the selection.
    public func powerOff() { fileSystem.reset() }
    /// Forgets the selection.
    public func reset() { fileSystem.reset() }

    /// Answers one command APDU.
    public func process(_ apdu: [UInt8]) -> [UInt8] {
        guard let command = try? CommandAPDU(bytes: apdu) else { return [0x67, 0x00] }  // wrong length
        guard command.cla == 0x00 else { return [0x6E, 0x00] }  // class not supported
        if let response = fileSystem.handle(command) { return response.bytes }
        switch command.ins {
        case 0x84:  // GET CHALLENGE
            guard command.p1 == 0, command.p2 == 0 else { return [0x6A, 0x86] }
            guard let length = command.le else { return [0x67, 0x00] }
            var generator = SystemRandomNumberGenerator()
            return (0..<length).map { _ in generator.next() } + [0x90, 0x00]
        default:
            return [0x6D, 0x00]  // instruction not supported
        }
    }
}
