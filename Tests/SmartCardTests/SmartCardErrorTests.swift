import Testing

@testable import SmartCard

@Suite struct SmartCardErrorTests {
    @Test(
        arguments: [
            (0x8010_001D, SmartCardError.Code.serviceUnavailable),  // SCARD_E_NO_SERVICE
            (0x8010_001E, .serviceUnavailable),  // SCARD_E_SERVICE_STOPPED
            (0x8010_002E, .noReaders),  // SCARD_E_NO_READERS_AVAILABLE
            (0x8010_000A, .timeout),  // SCARD_E_TIMEOUT
            (0x8010_000C, .noCard),  // SCARD_E_NO_SMARTCARD
            (0x8010_0069, .cardRemoved),  // SCARD_W_REMOVED_CARD
            (0x8010_0068, .cardRemoved),  // SCARD_W_RESET_CARD
            (0x8010_0017, .readerUnavailable),  // SCARD_E_READER_UNAVAILABLE
            (0x8010_0009, .readerUnavailable),  // SCARD_E_UNKNOWN_READER
            (0x8010_000B, .sharingViolation),  // SCARD_E_SHARING_VIOLATION
            (0x8010_0002, .cancelled),  // SCARD_E_CANCELLED
            (0x8010_000F, .protocolMismatch),  // SCARD_E_PROTO_MISMATCH
            (0x8010_0016, .transmitFailed),  // SCARD_E_NOT_TRANSACTED
            (0x8010_0066, .other),  // SCARD_W_UNRESPONSIVE_CARD
        ] as [(Int, SmartCardError.Code)])
    func mapsPCSCCodes(result: Int, code: SmartCardError.Code) {
        let error = SmartCardError(pcsc: .init(result), operation: "SCardTest", reader: "Reader 1")
        #expect(error.code == code)
        #expect(error.pcscCode == UInt32(result))
        #expect(error.reader == "Reader 1")
    }

    @Test func messageCarriesPCSCLiteText() {
        let error = SmartCardError(pcsc: .init(0x8010_000C), operation: "SCardConnect", reader: "Virtual PCD 00 00")
        #expect(error.message == "SCardConnect: No smart card inserted.")
        #expect(error.description.contains("noCard"))
        #expect(error.description.contains("Virtual PCD 00 00"))
        #expect(error.description.contains("0x8010000C"))
    }
}

@Suite struct PCSCConversionTests {
    @Test(
        arguments: [
            (Duration.zero, 0),
            (.milliseconds(-5), 0),
            (.milliseconds(800), 800),
            (.microseconds(1500), 2),
            (.seconds(60), 60_000),
            (.seconds(10_000_000), 0xFFFF_FFFE),
        ] as [(Duration, UInt)])
    func timeoutInMilliseconds(duration: Duration, milliseconds: UInt) {
        #expect(UInt(SmartCardContext.milliseconds(duration)) == milliseconds)
    }

    @Test func splitsReaderMultiString() {
        let buffer = Array("Virtual PCD 00 00\0Virtual PCD 00 01\0\0".utf8CString.dropLast())
        #expect(SmartCardContext.splitMultiString(buffer) == ["Virtual PCD 00 00", "Virtual PCD 00 01"])
    }
}
