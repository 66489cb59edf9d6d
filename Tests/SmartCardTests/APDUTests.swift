import SmartCard
import Testing

@Suite struct CommandAPDUTests {
    @Test func case1IsHeaderOnly() {
        let command = CommandAPDU(ins: 0x20, p1: 0x00, p2: 0x80)
        #expect(command.bytes == [0x00, 0x20, 0x00, 0x80])
    }

    @Test func case2AppendsLe() {
        let command = CommandAPDU(ins: 0xB0, p1: 0x01, p2: 0x02, le: 32)
        #expect(command.bytes == [0x00, 0xB0, 0x01, 0x02, 0x20])
    }

    @Test func case2WritesLe256AsZero() {
        let command = CommandAPDU(ins: 0xB0, p1: 0x00, p2: 0x00, le: 256)
        #expect(command.bytes == [0x00, 0xB0, 0x00, 0x00, 0x00])
    }

    @Test func case3WritesLcAndData() {
        let command = CommandAPDU(ins: 0xA4, p1: 0x02, p2: 0x0C, data: [0x00, 0x0A])
        #expect(command.bytes == [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A])
    }

    @Test func case4WritesLcDataAndLe() {
        let command = CommandAPDU(cla: 0x80, ins: 0x2A, p1: 0x00, p2: 0x80, data: [1, 2, 3], le: 256)
        #expect(command.bytes == [0x80, 0x2A, 0x00, 0x80, 0x03, 1, 2, 3, 0x00])
    }

    @Test func maximalCase4() {
        let data = [UInt8](repeating: 0xAB, count: 255)
        let bytes = CommandAPDU(ins: 0xD6, p1: 0, p2: 0, data: data, le: 255).bytes
        #expect(bytes.count == 4 + 1 + 255 + 1)
        #expect(bytes[4] == 0xFF)
        #expect(bytes.last == 0xFF)
    }

    @Test(
        arguments: [
            [0x00, 0x20, 0x00, 0x80],
            [0x00, 0xB0, 0x7F, 0xFF, 0x00],
            [0x00, 0xA4, 0x04, 0x0C, 0x03, 0xD3, 0x92, 0xF0],
            [0x80, 0x2A, 0x00, 0x80, 0x02, 0x30, 0x31, 0x00],
        ] as [[UInt8]])
    func decodingInvertsEncoding(bytes: [UInt8]) throws {
        #expect(try CommandAPDU(bytes: bytes).bytes == bytes)
    }

    @Test func decodesTheParts() throws {
        let command = try CommandAPDU(bytes: [0x80, 0x2A, 0x00, 0x80, 0x02, 0x30, 0x31, 0x00])
        #expect(command == CommandAPDU(cla: 0x80, ins: 0x2A, p1: 0x00, p2: 0x80, data: [0x30, 0x31], le: 256))
    }

    @Test(
        arguments: [
            [],
            [0x00, 0xA4, 0x04],
            [0x00, 0xA4, 0x04, 0x0C, 0x03, 0xD3],  // Lc 3 with 1 data byte
            [0x00, 0xA4, 0x04, 0x0C, 0x01, 0xD3, 0x00, 0x00],  // a byte too many
            [0x00, 0xA4, 0x04, 0x0C, 0x00, 0x00, 0x01],  // extended Lc
        ] as [[UInt8]])
    func rejectsMalformedBytes(bytes: [UInt8]) {
        let error = #expect(throws: SmartCardError.self) { try CommandAPDU(bytes: bytes) }
        #expect(error?.code == .other)
    }
}

@Suite struct ResponseAPDUTests {
    @Test func splitsDataAndStatusWord() throws {
        let response = try ResponseAPDU(bytes: [0x01, 0x02, 0x03, 0x90, 0x00])
        #expect(response.data == [0x01, 0x02, 0x03])
        #expect(response.sw1 == 0x90)
        #expect(response.sw2 == 0x00)
        #expect(response.statusWord == 0x9000)
    }

    @Test func statusWordOnly() throws {
        let response = try ResponseAPDU(bytes: [0x63, 0xC2])
        #expect(response.data.isEmpty)
        #expect(response.statusWord == 0x63C2)
        #expect(response == ResponseAPDU(statusWord: 0x63C2))
    }

    @Test func encodingInvertsDecoding() throws {
        let bytes: [UInt8] = [0xDE, 0xAD, 0x62, 0x82]
        #expect(try ResponseAPDU(bytes: bytes).bytes == bytes)
    }

    @Test(arguments: [[], [0x90]] as [[UInt8]])
    func rejectsAnswersWithoutStatusWord(bytes: [UInt8]) {
        let error = #expect(throws: SmartCardError.self) { try ResponseAPDU(bytes: bytes) }
        #expect(error?.code == .transmitFailed)
    }
}
