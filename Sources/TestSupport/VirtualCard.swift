import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The card behind a `VirtualCard`: it answers power events and command APDUs.
///
/// `VirtualCard` calls every method on its serving thread, one call at a time. State that a test changes while
/// the card is inserted (to make the card misbehave, say) must be protected by the applet itself.
public protocol VirtualCardApplet: AnyObject {
    /// The answer to reset the reader reports.
    var atr: [UInt8] { get }
    /// The reader powered the card on.
    func powerOn()
    /// The reader powered the card off.
    func powerOff()
    /// The reader reset the card (warm reset): forget selections and verified PINs.
    func reset()
    /// Answers one command APDU with response data followed by SW1 SW2.
    func process(_ apdu: [UInt8]) -> [UInt8]
}

/// An error of the virtual card's connection to vpcd.
public struct VirtualCardError: Error, CustomStringConvertible {
    /// What failed, with the system's reason.
    public var message: String
    /// `virtual card: <message>`.
    public var description: String { "virtual card: \(message)" }
}

/// A virtual smart card for vsmartcard's vpcd reader driver, so tests can run against a real pcscd.
///
/// vpcd listens on TCP (port 35963 for reader `Virtual PCD 00 00`, 35964 for `Virtual PCD 00 01`); the card
/// connects as the client. Every message either way is a 2-byte big-endian length and a payload. A 1-byte payload
/// from vpcd is a control code: `00` power off, `01` power on, `02` reset (no answer), `04` get the ATR (answer:
/// the ATR). Any other payload is a command APDU, answered with data + SW1 SW2. pcscd asks for the ATR about every
/// 0.4 s to see whether the card is still there; closing the connection takes the card out of the reader.
public final class VirtualCard: Sendable {
    /// Host of the vpcd driver, normally the local pcscd's.
    public let host: String
    /// vpcd's port for the reader this card goes into.
    public let port: UInt16
    /// The state the serving thread shares; the thread holds it, not the card, so that `deinit` can remove a
    /// card a test forgot to remove.
    private let slot: Slot

    /// The vpcd ports that hold a card of this process.
    ///
    /// vpcd queues a second card's connection until the first leaves, so tests that overlap on one reader would
    /// each talk to whichever card is in: a mistake to report at once rather than a race to debug.
    private static let occupiedPorts = Mutex<Set<UInt16>>([])

    /// Creates a card, not yet inserted, for the reader behind `host`:`port`.
    public init(applet: some VirtualCardApplet, host: String = "127.0.0.1", port: UInt16 = 35963) {
        self.slot = Slot(applet: applet, port: port)
        self.host = host
        self.port = port
    }

    deinit {
        remove()
    }

    /// The command APDUs the card received (control codes excluded), oldest first.
    public var apduLog: [[UInt8]] {
        slot.condition.withLock { slot.state.apduLog }
    }

    /// Whether the card is connected to vpcd.
    public var isInserted: Bool {
        slot.condition.withLock { slot.state.servingThread != nil }
    }

    /// Puts the card into the reader: connects to vpcd and answers it on a dedicated thread.
    ///
    /// vpcd listens only once pcscd has loaded the driver, so a refused connection is retried for up to
    /// `connectTimeout`. pcscd notices the card at its next poll, about every 0.4 s; `VirtualReaders.insert`
    /// waits for that. Throws when another card of this process is in the same reader.
    public func insert(connectTimeout: Duration = .seconds(30)) throws {
        guard !isInserted else { throw VirtualCardError(message: "the card is already inserted") }
        let port = port
        guard Self.occupiedPorts.withLock({ $0.insert(port).inserted }) else {
            throw VirtualCardError(
                message: "another card of this process is in the reader behind port \(port): tests that share a "
                    + "reader must not overlap (give their suite .serialized and .virtualReaders)")
        }
        let socket: Int32
        do {
            socket = try connectToVPCD(timeout: connectTimeout)
        } catch {
            Self.occupiedPorts.withLock { _ = $0.remove(port) }
            throw error
        }
        let slot = slot
        let thread = Thread { slot.serve(socket) }
        thread.name = "VirtualCard \(port)"
        slot.condition.withLock {
            slot.state.socket = socket
            slot.state.servingThread = thread
        }
        thread.start()
    }

    /// Takes the card out of the reader: closes the connection, so vpcd reports the card absent at its next poll.
    ///
    /// Returns once the connection is closed; from the applet itself (a card that "vanishes" mid-command) it
    /// returns at once and the connection closes as soon as the command returns.
    public func remove() {
        let condition = slot.condition
        condition.lock()
        defer { condition.unlock() }
        guard let thread = slot.state.servingThread else { return }
        // shutdown, not close: it wakes the serving thread's blocked recv, and the fd stays the serving thread's
        // to close, so it cannot be reused under it.
        if let socket = slot.state.socket { _ = shutdown(socket, Int32(SHUT_RDWR)) }
        if Thread.current === thread { return }
        while slot.state.servingThread != nil { condition.wait() }
    }
}

/// The applet, the connection and the log of one `VirtualCard`, shared with its serving thread.
private final class Slot: @unchecked Sendable {
    // @unchecked: `state` is only touched with `condition` locked; the applet only on the serving thread.
    let applet: any VirtualCardApplet
    /// The vpcd port, released in `VirtualCard.occupiedPorts` when the connection closes.
    let port: UInt16
    let condition = NSCondition()
    var state = State()

    struct State {
        /// The connected socket, while inserted.
        var socket: Int32?
        /// The thread answering vpcd, while it runs.
        var servingThread: Thread?
        /// The command APDUs received, in order.
        var apduLog: [[UInt8]] = []
    }

    init(applet: any VirtualCardApplet, port: UInt16) {
        self.applet = applet
        self.port = port
    }

    /// Answers vpcd until the connection closes, then closes the socket.
    func serve(_ socket: Int32) {
        serving: while let message = Self.receiveFrame(socket) {
            if message.count == 1 {
                switch message[0] {
                case 0x00: applet.powerOff()
                case 0x01: applet.powerOn()
                case 0x02: applet.reset()
                case 0x04:
                    guard Self.sendFrame(applet.atr, on: socket) else { break serving }
                default: break  // An unknown control code has no answer.
                }
            } else {
                condition.withLock { state.apduLog.append(message) }
                guard Self.sendFrame(applet.process(message), on: socket) else { break serving }
            }
        }
        condition.withLock {
            close(socket)
            state.socket = nil
            state.servingThread = nil
            VirtualCard.releasePort(port)
            condition.broadcast()
        }
    }

    /// Reads one length-prefixed message; `nil` when the connection closed or failed.
    private static func receiveFrame(_ socket: Int32) -> [UInt8]? {
        guard let header = receive(socket, count: 2) else { return nil }
        let length = Int(header[0]) << 8 | Int(header[1])
        return length == 0 ? [] : receive(socket, count: length)
    }

    private static func receive(_ socket: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var received = 0
        while received < count {
            let result = buffer.withUnsafeMutableBytes { bytes in
                recv(socket, bytes.baseAddress! + received, count - received, 0)
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return nil }
            received += result
        }
        return buffer
    }

    /// Writes one length-prefixed message; `false` when the connection failed.
    private static func sendFrame(_ payload: [UInt8], on socket: Int32) -> Bool {
        // vpcd takes an empty answer for a dead card, and a length must fit in 2 bytes.
        guard !payload.isEmpty, payload.count <= 0xFFFF else { return false }
        let frame = [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
        var sent = 0
        while sent < frame.count {
            let result = frame.withUnsafeBytes { bytes in
                // MSG_NOSIGNAL: a vanished peer must fail the call, not kill the test process with SIGPIPE.
                send(socket, bytes.baseAddress! + sent, frame.count - sent, Int32(MSG_NOSIGNAL))
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return false }
            sent += result
        }
        return true
    }

}

extension VirtualCard {
    /// Frees `port` for the next card, once a card's connection there has closed.
    fileprivate static func releasePort(_ port: UInt16) {
        occupiedPorts.withLock { _ = $0.remove(port) }
    }

    // MARK: - Connecting

    private func connectToVPCD(timeout: Duration) throws -> Int32 {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            do {
                return try Self.connectOnce(host: host, port: port)
            } catch {
                guard clock.now < deadline else {
                    throw VirtualCardError(
                        message: "cannot connect to vpcd at \(host):\(port) (is pcscd running with vsmartcard-vpcd?): "
                            + error.message
                    )
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    private static func connectOnce(host: String, port: UInt16) throws(VirtualCardError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw VirtualCardError(message: "cannot resolve \(host): " + String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else {
                reason = String(cString: strerror(errno))
                continue
            }
            if connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
                // Every APDU is one small write awaiting an answer: Nagle's delay would only slow the tests.
                var on: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            reason = String(cString: strerror(errno))
            close(fd)
        }
        throw VirtualCardError(message: reason)
    }
}
