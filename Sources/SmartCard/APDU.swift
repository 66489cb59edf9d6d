/// A short command APDU (ISO/IEC 7816-4): header, optional command data, optional expected length.
public struct CommandAPDU: Sendable, Equatable {
    /// The class byte.
    public let cla: UInt8
    /// The instruction byte.
    public let ins: UInt8
    /// The first parameter byte.
    public let p1: UInt8
    /// The second parameter byte.
    public let p2: UInt8
    /// The command data, at most 255 bytes.
    public let data: [UInt8]
    /// The number of response data bytes expected, 1…256; `nil` when no data is expected.
    public let le: Int?

    /// Creates a command.
    ///
    /// The lengths are the caller's design, not input data: more than 255 data bytes or an `le` outside
    /// 1…256 is a programmer error and traps.
    public init(cla: UInt8 = 0x00, ins: UInt8, p1: UInt8, p2: UInt8, data: [UInt8] = [], le: Int? = nil) {
        precondition(data.count <= 255, "a short APDU carries at most 255 data bytes, not \(data.count)")
        precondition(le.map { (1...256).contains($0) } ?? true, "a short APDU expects 1…256 bytes, not \(le!)")
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le
    }

    /// Decodes a short command APDU (cases 1–4); `.other` when the bytes are not one.
    public init(bytes: [UInt8]) throws(SmartCardError) {
        guard bytes.count >= 4 else {
            throw SmartCardError(.other, "a command APDU of \(bytes.count) bytes is shorter than its 4-byte header")
        }
        var data: [UInt8] = []
        var le: Int?
        if bytes.count == 5 {
            le = Self.expectedLength(bytes[4])
        } else if bytes.count > 5 {
            let lc = Int(bytes[4])
            // Lc 00 introduces an extended APDU, which this type does not represent.
            guard lc > 0, bytes.count == 5 + lc || bytes.count == 6 + lc else {
                throw SmartCardError(.other, "a command APDU of \(bytes.count) bytes does not match its Lc \(lc)")
            }
            data = Array(bytes[5..<(5 + lc)])
            if bytes.count == 6 + lc { le = Self.expectedLength(bytes[5 + lc]) }
        }
        self.init(cla: bytes[0], ins: bytes[1], p1: bytes[2], p2: bytes[3], data: data, le: le)
    }

    /// The short encoding: `CLA INS P1 P2 [Lc data] [Le]`, with Le 256 written as `00`.
    public var bytes: [UInt8] {
        var bytes = [cla, ins, p1, p2]
        bytes.reserveCapacity(6 + data.count)
        if !data.isEmpty {
            bytes.append(UInt8(data.count))
            bytes.append(contentsOf: data)
        }
        if let le {
            bytes.append(UInt8(truncatingIfNeeded: le))  // 256 → 0x00
        }
        return bytes
    }

    private static func expectedLength(_ byte: UInt8) -> Int {
        byte == 0 ? 256 : Int(byte)
    }
}

/// A response APDU: response data and the status word SW1 SW2.
public struct ResponseAPDU: Sendable, Equatable {
    /// The response data, possibly empty.
    public var data: [UInt8]
    /// The first status byte.
    public var sw1: UInt8
    /// The second status byte.
    public var sw2: UInt8

    /// The status word, `sw1` then `sw2`; `0x9000` is success.
    public var statusWord: UInt16 { UInt16(sw1) << 8 | UInt16(sw2) }

    /// The encoding: data followed by SW1 SW2.
    public var bytes: [UInt8] { data + [sw1, sw2] }

    /// Creates a response from its parts.
    public init(data: [UInt8] = [], sw1: UInt8, sw2: UInt8) {
        self.data = data
        self.sw1 = sw1
        self.sw2 = sw2
    }

    /// Creates a response from its parts, with the status word as one number.
    public init(data: [UInt8] = [], statusWord: UInt16) {
        self.init(data: data, sw1: UInt8(statusWord >> 8), sw2: UInt8(truncatingIfNeeded: statusWord))
    }

    /// Decodes data + SW1 SW2; `.transmitFailed` when there are fewer than the 2 status bytes.
    public init(bytes: [UInt8]) throws(SmartCardError) {
        guard bytes.count >= 2 else {
            throw SmartCardError(.transmitFailed, "a response of \(bytes.count) bytes lacks the 2-byte status word")
        }
        self.init(data: Array(bytes.dropLast(2)), sw1: bytes[bytes.count - 2], sw2: bytes[bytes.count - 1])
    }
}
