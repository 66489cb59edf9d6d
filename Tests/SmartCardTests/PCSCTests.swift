import Dispatch
import Foundation
import SmartCard
import Synchronization
import TestSupport
import Testing

/// Tests against the real pcscd with vsmartcard's vpcd readers and `VirtualCard`.
///
/// They share the two virtual readers, so they run one at a time; each leaves its reader empty. Every blocking
/// PC/SC call runs on a dedicated thread (`blocking`), and assertions run back in the test task.
@Suite(.serialized, .virtualReaders, .enabled(if: ProcessInfo.processInfo.environment["MYNAPOINT_SKIP_PCSC"] != "1"))
struct PCSCTests {
    /// The reader the virtual card goes into (vpcd port 35963).
    static let reader = "Virtual PCD 00 00"
    static let port: UInt16 = 35963
    /// A reader that stays empty throughout (vpcd port 35964).
    static let emptyReader = "Virtual PCD 00 01"

    let context: SmartCardContext

    init() throws {
        try #require(
            FileManager.default.fileExists(atPath: "/run/pcscd/pcscd.comm"),
            """
            pcscd is not running (no /run/pcscd/pcscd.comm): start it with \
            `source Scripts/services.sh && start_pcscd $PWD/.build/services/pcscd` or run Scripts/test.sh; \
            set MYNAPOINT_SKIP_PCSC=1 to skip the PC/SC tests
            """
        )
        context = try SmartCardContext()
    }

    @Test func listsTheVirtualReaders() async throws {
        let readers = try await blocking { [context] in try context.readers() }.get()
        #expect(readers.contains(Self.reader))
        #expect(readers.contains(Self.emptyReader))
    }

    @Test func waitingOnAnEmptyReaderTimesOut() async throws {
        let outcome = await blocking { [context] in
            try context.waitForCard(readers: [Self.emptyReader], timeout: .milliseconds(800))
        }
        #expect(outcome.failure?.code == .timeout)
    }

    @Test func connectingToAnEmptyReaderFailsWithNoCard() async throws {
        let present = try await blocking { [context] in try context.cardPresent(in: Self.emptyReader) }.get()
        #expect(!present)
        let outcome = await blocking { [context] in _ = try context.connect(reader: Self.emptyReader) }
        #expect(outcome.failure?.code == .noCard)
        #expect(outcome.failure?.reader == Self.emptyReader)
    }

    @Test func unknownReaderIsUnavailable() async throws {
        let outcome = await blocking { [context] in try context.cardPresent(in: "No Such Reader 00 00") }
        #expect(outcome.failure?.code == .readerUnavailable)
    }

    @Test func cancelEndsAWaitFromAnotherThread() async throws {
        let context = context
        let waiting = Task {
            await blocking { try context.waitForCard(readers: [Self.emptyReader], timeout: .seconds(30)) }
        }
        // Give the wait time to block inside SCardGetStatusChange, so SCardCancel is what ends it. A cancel
        // that lands before the wait has begun does nothing, so cancel until the wait ends.
        let cancelling = Task {
            try? await Task.sleep(for: .milliseconds(500))
            while !Task.isCancelled {
                context.cancel()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let outcome = await waiting.value
        cancelling.cancel()
        #expect(outcome.failure?.code == .cancelled)
    }

    // MARK: - With the virtual card

    @Test func insertedCardIsFoundInAnyReader() async throws {
        let card = VirtualCard(applet: EchoApplet(), port: Self.port)
        let outcome = await blocking { [context] in
            try VirtualReaders.waitUntilEmpty(Self.reader)
            let before = try context.cardPresent(in: Self.reader)
            // Only connected: the wait itself must see pcscd notice the card.
            try card.insert()
            let found = Result { try context.waitForCard(timeout: VirtualReaders.patience) }
            let present = Result { try context.cardPresent(in: Self.reader) }
            try VirtualReaders.remove(card)
            return (before, try found.get(), try present.get())
        }
        let (before, found, after) = try outcome.get()
        #expect(!before)
        #expect(found == Self.reader)
        #expect(after)
    }

    /// pcscd counts each arrival and removal it sees; `VirtualReaders` relies on that count to know a card has
    /// really gone before the next goes in.
    @Test func statusCountsEachArrivalAndRemoval() async throws {
        let card = VirtualCard(applet: EchoApplet(), port: Self.port)
        let outcome = await blocking { [context] in
            try VirtualReaders.waitUntilEmpty(Self.reader)
            let empty = try context.status(of: Self.reader)
            let present = try VirtualReaders.whileInserted(card) { try context.status(of: Self.reader) }
            return (empty, present, try context.status(of: Self.reader))
        }
        let (empty, present, gone) = try outcome.get()
        #expect(!empty.cardPresent)
        #expect(present.cardPresent)
        #expect(!gone.cardPresent)
        #expect(present.eventCount != empty.eventCount)
        #expect(gone.eventCount != present.eventCount)
    }

    @Test func waitingForAStatusChangeTimesOutOnAnEmptyReader() async throws {
        let outcome = await blocking { [context] in
            let status = try context.status(of: Self.emptyReader)
            return try context.waitForStatusChange(of: Self.emptyReader, from: status, timeout: .milliseconds(800))
        }
        #expect(outcome.failure?.code == .timeout)
        #expect(outcome.failure?.reader == Self.emptyReader)
    }

    @Test func connectsAndExchangesAPDUs() async throws {
        let applet = EchoApplet()
        let atr = applet.atr
        let card = VirtualCard(applet: applet, port: Self.port)
        let select = CommandAPDU(ins: 0xA4, p1: 0x04, p2: 0x0C, data: EchoApplet.defaultAID)
        let selectUnknown = CommandAPDU(ins: 0xA4, p1: 0x04, p2: 0x0C, data: [0xD3, 0x92, 0xF0, 0x00, 0x26])
        let selectEF = CommandAPDU(ins: 0xA4, p1: 0x02, p2: 0x0C, data: [0x00, 0x01])
        let read = CommandAPDU(ins: 0xB0, p1: 0x00, p2: 0x00, le: 9)
        let readTail = CommandAPDU(ins: 0xB0, p1: 0x00, p2: 0x0A, le: 256)
        let challenge = CommandAPDU(ins: 0x84, p1: 0x00, p2: 0x00, le: 8)
        let unknown = CommandAPDU(ins: 0x7A, p1: 0x00, p2: 0x00)
        let commands = [selectUnknown, select, selectEF, read, readTail, challenge, unknown]
        let outcome = await withInsertedCard(card) { context in
            let connection = try context.connect(reader: Self.reader)
            defer { connection.disconnect() }
            return (connection.atr, connection.activeProtocol, try commands.map { try connection.transmit($0) })
        }
        let (connectedATR, activeProtocol, responses) = try outcome.get()
        #expect(connectedATR == atr)
        #expect(activeProtocol == .t1)  // the ATR offers T=1 only
        let content = EchoApplet.defaultFiles[0x0001]!
        #expect(
            responses == [
                ResponseAPDU(statusWord: 0x6A82),
                ResponseAPDU(statusWord: 0x9000),
                ResponseAPDU(statusWord: 0x9000),
                ResponseAPDU(data: Array(content[0..<9]), statusWord: 0x9000),
                ResponseAPDU(data: Array(content[10...]), statusWord: 0x6282),
                ResponseAPDU(data: responses[5].data, statusWord: 0x9000),
                ResponseAPDU(statusWord: 0x6D00),
            ]
        )
        #expect(responses[5].data.count == 8)
        #expect(card.apduLog == commands.map(\.bytes))
    }

    @Test func transactionKeepsOtherConnectionsOutUntilItEnds() async throws {
        let card = VirtualCard(applet: EchoApplet(), port: Self.port)
        let select = CommandAPDU(ins: 0xA4, p1: 0x04, p2: 0x0C, data: EchoApplet.defaultAID)
        let selectEF = CommandAPDU(ins: 0xA4, p1: 0x02, p2: 0x0C, data: [0x00, 0x01])
        let challenge = CommandAPDU(ins: 0x84, p1: 0x00, p2: 0x00, le: 8)
        let outcome = await withInsertedCard(card) { context in
            // Another application, on its own thread with its own context, as pcsc-lite's thread rule asks.
            let connected = DispatchSemaphore(value: 0)
            let go = DispatchSemaphore(value: 0)
            let sending = DispatchSemaphore(value: 0)
            let done = DispatchSemaphore(value: 0)
            let intruder = Mutex<Result<ResponseAPDU, any Error>?>(nil)
            Thread {
                let result = Result { () throws -> ResponseAPDU in
                    let other = try SmartCardContext().connect(reader: Self.reader)
                    defer { other.disconnect(.leave) }
                    connected.signal()
                    go.wait()
                    sending.signal()
                    return try other.transmit(challenge)
                }
                connected.signal()  // also when connecting failed
                sending.signal()
                intruder.withLock { $0 = result }
                done.signal()
            }.start()
            connected.wait()
            let connection = try context.connect(reader: Self.reader)
            defer { connection.disconnect() }
            let (first, second, finishedInside) = try connection.withTransaction { connection in
                let first = try connection.transmit(select)
                go.signal()
                sending.wait()
                // The other command was sent; pcsc-lite retries a refused one every 0.1 s, so without the
                // transaction it would be answered well within this bound. With it, it must still be waiting.
                let finishedInside = done.wait(timeout: .now() + .seconds(2)) == .success
                return (first, try connection.transmit(selectEF), finishedInside)
            }
            if !finishedInside { done.wait() }
            return (first, second, finishedInside, try intruder.withLock { $0 }!.get())
        }
        let (first, second, finishedInside, intruding) = try outcome.get()
        #expect(first.statusWord == 0x9000)
        #expect(second.statusWord == 0x9000)
        #expect(!finishedInside)
        #expect(intruding.statusWord == 0x9000)
        #expect(card.apduLog == [select.bytes, selectEF.bytes, challenge.bytes])
    }

    @Test func exclusiveConnectionRefusesOthers() async throws {
        let card = VirtualCard(applet: EchoApplet(), port: Self.port)
        let outcome = await withInsertedCard(card) { context in
            let exclusive = try context.connect(reader: Self.reader, share: .exclusive)
            defer { exclusive.disconnect() }
            return Result { _ = try context.connect(reader: Self.reader) }.failure
        }
        let refusal = try outcome.get()
        #expect(refusal?.code == .sharingViolation)
        #expect(refusal?.pcscCode == 0x8010_000B)
    }

    /// After the card leaves the reader, the handle reports SCARD_W_REMOVED_CARD (pcsc-lite checks the reader's
    /// event state before transmitting), mapped to `.cardRemoved`.
    ///
    /// Sent before pcscd's next poll notices the
    /// removal, the command would instead fail in the driver (`.transmitFailed`), so the test waits for the poll.
    @Test func transmitAfterRemovalFailsWithCardRemoved() async throws {
        let card = VirtualCard(applet: EchoApplet(), port: Self.port)
        let select = CommandAPDU(ins: 0xA4, p1: 0x04, p2: 0x0C, data: EchoApplet.defaultAID)
        let outcome = await withInsertedCard(card) { context in
            let connection = try context.connect(reader: Self.reader)
            defer { connection.disconnect() }
            let before = try connection.transmit(select)
            try VirtualReaders.remove(card)
            return (before, Result { try connection.transmit(select) }.failure)
        }
        let (before, after) = try outcome.get()
        #expect(before.statusWord == 0x9000)
        #expect(after?.code == .cardRemoved)
        #expect(after?.pcscCode == 0x8010_0069)  // SCARD_W_REMOVED_CARD
        #expect(after?.reader == Self.reader)
    }
}

/// Inserts `card`, waits until pcscd has seen it arrive, runs `body` on a dedicated thread with its own context,
/// then removes the card and waits until pcscd has seen it go (`VirtualReaders.whileInserted`).
func withInsertedCard<T: Sendable>(
    _ card: VirtualCard,
    _ body: @escaping @Sendable (SmartCardContext) throws -> T
) async -> Result<T, any Error> {
    await blocking {
        let context = try SmartCardContext()
        return try VirtualReaders.whileInserted(card) { try body(context) }
    }
}

extension Result {
    /// The error, when it is a `SmartCardError`.
    var failure: SmartCardError? {
        if case .failure(let error) = self { return error as? SmartCardError }
        return nil
    }
}

/// Runs blocking PC/SC calls on a dedicated thread, keeping them off Swift's cooperative pool.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error> {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: Result { try body() }) }.start()
    }
}
