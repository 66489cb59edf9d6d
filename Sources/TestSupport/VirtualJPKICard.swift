public import Crypto
import Foundation
import SmartCard

/// The JPKI user-authentication application of a My Number card, for `VirtualCard` (registration spec §1).
///
/// It holds the token information, the certificate and CA certificate, a 4-digit PIN with a real retry counter,
/// and signs a DigestInfo with RSA after VERIFY. Switches make it misbehave the ways a test needs.
///
/// `@unchecked Sendable`: the card state and switches are behind `lock`, because the serving thread answers
/// APDUs while a test flips switches from its own thread.
public final class VirtualJPKIApplet: VirtualCardApplet, @unchecked Sendable {
    /// Where a card can vanish in the middle of the flow.
    public enum RemovalPoint: Sendable, Equatable {
        /// On reading the certificate EF.
        case readCertificate
        /// On VERIFY with a PIN.
        case verify
        /// On the signature command.
        case sign
    }

    /// The JPKI application identifier, `D3 92 F0 00 26 01 00 00 00 01`.
    public static let applicationID: [UInt8] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]
    /// The token information: `JPKIAPICCTOKEN2` padded with spaces to 32 bytes.
    public static let tokenInfo: [UInt8] = Array("JPKIAPICCTOKEN2".utf8) + Array(repeating: 0x20, count: 17)
    /// A JPKI-like ATR (T=1).
    public static let defaultATR: [UInt8] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14]
    /// The PIN's retry limit, which a correct PIN restores.
    public static let maximumTries = 3

    /// The answer to reset.
    public let atr: [UInt8] = VirtualJPKIApplet.defaultATR

    private let lock = NSLock()
    private let pin: [UInt8]
    private let key: PrivateKey
    private var fileSystem: VirtualCardFileSystem
    private var triesLeft: Int
    private var pinVerified = false
    private var forgeSignatureSwitch = false
    private var removeAtSwitch: RemovalPoint?
    /// Called (on the serving thread) to take the card out; set by `VirtualJPKICard`.
    var onRemove: (@Sendable () -> Void)?

    /// An applet holding `certificate` (DER), `caCertificate` (DER), the private key, and `pin`.
    ///
    /// `jpki: false` gives the application another AID, so SELECT of the JPKI AID answers `6A82`: a card that
    /// is not a My Number card. `certificatePadding` bytes of `FF` follow the certificate in its EF, as on real
    /// cards.
    public init(
        certificate: [UInt8], caCertificate: [UInt8], privateKey: PrivateKey, pin: String = "1234",
        triesLeft: Int = VirtualJPKIApplet.maximumTries, jpki: Bool = true, certificatePadding: Int = 300
    ) {
        self.pin = Array(pin.utf8)
        self.key = privateKey
        self.triesLeft = triesLeft
        let aid = jpki ? Self.applicationID : [0xF0, 0x6D, 0x79, 0x6E, 0x61, 0x70, 0x74]
        fileSystem = VirtualCardFileSystem(
            aid: aid,
            files: [
                0x0006: Self.tokenInfo,
                0x000A: certificate + Array(repeating: 0xFF, count: certificatePadding),
                0x000B: caCertificate,
                // Placeholders so SELECT succeeds; READ BINARY of these answers 6982 below.
                0x0017: [0x00],
                0x0018: [0x00],
            ])
    }

    // MARK: Switches

    /// The PIN tries left now.
    public var pinTriesLeft: Int {
        get { lock.withLock { triesLeft } }
        set { lock.withLock { triesLeft = newValue } }
    }

    /// Signs with the right key but answers a corrupted signature.
    public var forgeSignature: Bool {
        get { lock.withLock { forgeSignatureSwitch } }
        set { lock.withLock { forgeSignatureSwitch = newValue } }
    }

    /// Vanishes from the reader when the flow reaches this point (the command is never answered).
    public var removeAt: RemovalPoint? {
        get { lock.withLock { removeAtSwitch } }
        set { lock.withLock { removeAtSwitch = newValue } }
    }

    // MARK: VirtualCardApplet

    /// Starts with nothing selected and no PIN verified.
    public func powerOn() { resetState() }
    /// Forgets the selection and the verified PIN.
    public func powerOff() { resetState() }
    /// Forgets the selection and the verified PIN.
    public func reset() { resetState() }

    private func resetState() {
        lock.withLock {
            fileSystem.reset()
            pinVerified = false
        }
    }

    /// Answers one command APDU.
    public func process(_ apdu: [UInt8]) -> [UInt8] {
        guard let command = try? CommandAPDU(bytes: apdu) else { return [0x67, 0x00] }
        let (response, vanish) = lock.withLock { answer(command) }
        if vanish {
            // The card leaves mid-command: the reader never gets the answer.
            onRemove?()
        }
        return response.bytes
    }

    /// The answer, and whether the card vanishes instead of giving it; called with `lock` held.
    private func answer(_ command: CommandAPDU) -> (ResponseAPDU, Bool) {
        switch (command.cla, command.ins) {
        case (0x00, 0xA4):
            // `sign` answers only while the key EF is selected; a verified PIN lasts until a reset or a wrong PIN.
            return (fileSystem.handle(command)!, false)
        case (0x00, 0xB0):
            if fileSystem.selectedFile == 0x000A && removeAtSwitch == .readCertificate {
                return (.init(statusWord: 0x6F00), true)
            }
            if fileSystem.selectedFile == 0x0017 || fileSystem.selectedFile == 0x0018 {
                return (ResponseAPDU(statusWord: 0x6982), false)
            }
            return (fileSystem.handle(command)!, false)
        case (0x00, 0x20):
            return (verify(command), !command.data.isEmpty && removeAtSwitch == .verify)
        case (0x80, 0x2A):
            if removeAtSwitch == .sign { return (.init(statusWord: 0x6F00), true) }
            return (sign(command), false)
        case (0x00, _), (0x80, _):
            return (ResponseAPDU(statusWord: 0x6D00), false)
        default:
            return (ResponseAPDU(statusWord: 0x6E00), false)
        }
    }

    private func verify(_ command: CommandAPDU) -> ResponseAPDU {
        guard command.p1 == 0x00, command.p2 == 0x80 else { return ResponseAPDU(statusWord: 0x6A86) }
        guard fileSystem.applicationSelected, fileSystem.selectedFile == 0x0018 else {
            return ResponseAPDU(statusWord: 0x6986)
        }
        if command.data.isEmpty {
            return ResponseAPDU(statusWord: triesLeft == 0 ? 0x6983 : 0x63C0 | UInt16(triesLeft))
        }
        if removeAtSwitch == .verify { return ResponseAPDU(statusWord: 0x6F00) }
        guard triesLeft > 0 else { return ResponseAPDU(statusWord: 0x6984) }
        guard command.data.count == 4 else { return ResponseAPDU(statusWord: 0x6700) }
        if command.data == pin {
            triesLeft = Self.maximumTries
            pinVerified = true
            return ResponseAPDU(statusWord: 0x9000)
        }
        triesLeft -= 1
        pinVerified = false
        return ResponseAPDU(statusWord: 0x63C0 | UInt16(triesLeft))
    }

    private func sign(_ command: CommandAPDU) -> ResponseAPDU {
        guard command.p1 == 0x00, command.p2 == 0x80 else { return ResponseAPDU(statusWord: 0x6A86) }
        guard fileSystem.selectedFile == 0x0017 else { return ResponseAPDU(statusWord: 0x6986) }
        guard pinVerified else { return ResponseAPDU(statusWord: 0x6982) }
        guard var signature = try? key.signDigestInfo(command.data) else { return ResponseAPDU(statusWord: 0x6A80) }
        if forgeSignatureSwitch { signature[signature.count / 2] ^= 0x5A }
        return ResponseAPDU(data: signature, statusWord: 0x9000)
    }
}

/// A virtual My Number card in a vpcd reader: a `VirtualJPKIApplet` holding a TestPKI leaf, inserted with
/// `VirtualCard`.
public final class VirtualJPKICard: Sendable {
    /// The applet; flip its switches to make the card misbehave.
    public let applet: VirtualJPKIApplet
    /// The card in the reader.
    public let card: VirtualCard
    /// The certificate on the card.
    public let certificate: Certificate

    /// A card holding `leaf` issued by `ca`, going into the reader behind vpcd `port`.
    public init(
        leaf: TestLeaf, ca: TestCA, pin: String = "1234", triesLeft: Int = VirtualJPKIApplet.maximumTries,
        jpki: Bool = true, port: UInt16 = VirtualReaders.cardPort
    ) {
        let applet = VirtualJPKIApplet(
            certificate: leaf.certificate.der, caCertificate: ca.certificate.der, privateKey: leaf.privateKey, pin: pin,
            triesLeft: triesLeft, jpki: jpki)
        self.applet = applet
        self.certificate = leaf.certificate
        let card = VirtualCard(applet: applet, port: port)
        self.card = card
        applet.onRemove = { [weak card] in card?.remove() }
    }

    /// The certificate's serial, in `Certificate.serialHex` form.
    public var serialHex: String { certificate.serialHex }

    /// The command APDUs the card received, oldest first.
    public var apduLog: [[UInt8]] { card.apduLog }

    /// Whether any VERIFY carrying a PIN reached the card (a tries-left query carries none).
    public var receivedPINVerify: Bool {
        apduLog.contains { $0.count > 5 && $0[0] == 0x00 && $0[1] == 0x20 }
    }

    /// Inserts the card and waits until pcscd has seen it arrive (see `VirtualReaders.insert`).
    public func insert() throws {
        try VirtualReaders.insert(card)
    }

    /// Removes the card, if the flow has not made it vanish already, and waits until pcscd has seen it go.
    public func remove() throws {
        try VirtualReaders.remove(card)
    }

    /// Inserts the card, runs `body`, then removes the card and waits until pcscd has seen it go, so that the
    /// next card finds the reader settled; `body`'s error comes first.
    public func whileInserted<T>(_ body: () throws -> T) throws -> T {
        try VirtualReaders.whileInserted(card, body)
    }
}
