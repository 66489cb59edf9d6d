import Foundation
import SmartCard
import Synchronization

/// The vpcd readers of the tests, and putting virtual cards in and out of them so that pcscd has seen each change.
///
/// pcscd learns that a vpcd card came or went only from its reader thread, which asks the driver about every
/// 0.4 s. The state it publishes can run ahead of that thread: when a card vanishes mid-command, the reset that
/// ends the transaction or the connection fails, and pcscd marks the reader empty at once without counting a
/// removal. Should the next card connect before the reader thread's next poll, that poll finds a card as before,
/// so it never reports an insertion, and the reader stays "empty" with a card in it. These helpers therefore wait
/// on pcscd's event count, which only the reader thread advances, before they let the next card in.
///
/// Every method blocks; call them from a dedicated thread.
public enum VirtualReaders {
    /// The reader virtual cards go into (vpcd port 35963).
    public static let cardReader = "Virtual PCD 00 00"
    /// vpcd's port for `cardReader`.
    public static let cardPort: UInt16 = 35963
    /// A reader that stays empty (vpcd port 35964).
    public static let emptyReader = "Virtual PCD 00 01"

    /// How long to wait for pcscd to see a change.
    ///
    /// Generous, because a loaded machine delays pcscd's poll; a wait ends as soon as pcscd reports the change, so
    /// the figure costs nothing when all is well.
    public static let patience: Duration = .seconds(60)

    /// The event count pcscd showed when a card of this process last arrived, per reader.
    private static let arrivals = Mutex<[String: Int]>([:])

    /// The reader behind vpcd `port`: vpcd's slot n listens on port 35963 + n and pcscd names it
    /// `Virtual PCD 00 0n`.
    public static func reader(forPort port: UInt16) -> String {
        let slot = Int(port) - Int(cardPort)
        precondition((0..<16).contains(slot), "vpcd port \(port) is not one of the virtual readers")
        return "Virtual PCD 00 0" + String(slot, radix: 16, uppercase: true)
    }

    /// Puts `card` into its reader once pcscd has seen the reader empty, and waits until pcscd has seen it arrive.
    ///
    /// Arrival means pcscd's event count moved on with a card present. On failure the card is taken out again.
    public static func insert(_ card: VirtualCard, timeout: Duration = patience) throws {
        let reader = reader(forPort: card.port)
        let context = try SmartCardContext()
        let empty = try waitUntilEmpty(reader, context: context, timeout: timeout)
        try card.insert(connectTimeout: timeout)
        do {
            let arrival = "pcscd to see the card arrive"
            let arrived = try wait(for: arrival, in: reader, context: context, timeout: timeout) {
                $0.cardPresent && $0.eventCount != empty.eventCount
            }
            arrivals.withLock { $0[reader] = arrived.eventCount }
        } catch {
            card.remove()
            throw error
        }
    }

    /// Takes `card` out (if it has not vanished by itself) and waits until pcscd has seen it go.
    public static func remove(_ card: VirtualCard, timeout: Duration = patience) throws {
        card.remove()
        try waitUntilEmpty(reader(forPort: card.port), timeout: timeout)
    }

    /// Inserts `card`, runs `body`, then removes the card and waits until pcscd has seen it go.
    ///
    /// The wait leaves the reader settled for the next card. `body`'s error comes before a failure to see the card
    /// go.
    public static func whileInserted<T>(
        _ card: VirtualCard, timeout: Duration = patience, _ body: () throws -> T
    ) throws -> T {
        try insert(card, timeout: timeout)
        let outcome = Result { try body() }
        do {
            try remove(card, timeout: timeout)
        } catch {
            _ = try outcome.get()
            throw error
        }
        return try outcome.get()
    }

    /// Waits until pcscd's reader thread has seen `reader` empty: no card, and, when a card of this process was
    /// there, an event counted since it arrived (its removal).
    public static func waitUntilEmpty(_ reader: String, timeout: Duration = patience) throws {
        try waitUntilEmpty(reader, context: SmartCardContext(), timeout: timeout)
    }

    @discardableResult
    private static func waitUntilEmpty(
        _ reader: String, context: SmartCardContext, timeout: Duration
    ) throws -> ReaderStatus {
        let arrival = arrivals.withLock { $0[reader] }
        return try wait(for: "pcscd to see the reader empty", in: reader, context: context, timeout: timeout) {
            !$0.cardPresent && $0.eventCount != arrival
        }
    }

    /// Waits until `reader`'s status satisfies `done`; `what` names the wait in the error.
    private static func wait(
        for what: String, in reader: String, context: SmartCardContext, timeout: Duration,
        until done: (ReaderStatus) -> Bool
    ) throws -> ReaderStatus {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var status = try context.status(of: reader)
        while !done(status) {
            let remaining = clock.now.duration(to: deadline)
            guard remaining > .zero else {
                throw SmartCardError(
                    .timeout,
                    "waited \(timeout) for \(what); pcscd reports "
                        + "\(status.cardPresent ? "a card" : "no card") after \(status.eventCount) card events",
                    reader: reader)
            }
            // The slice bounds a wait on a change that pcscd makes without waking anyone, such as a failed reset
            // marking the reader empty.
            status = try nextStatus(of: reader, after: status, context: context, within: min(remaining, .seconds(1)))
        }
        return status
    }

    /// The status once it differs from `known`, or after `slice`, whichever comes first.
    ///
    /// pcscd wakes the wait when its reader thread counts a card event.
    private static func nextStatus(
        of reader: String, after known: ReaderStatus, context: SmartCardContext, within slice: Duration
    ) throws(SmartCardError) -> ReaderStatus {
        do {
            return try context.waitForStatusChange(of: reader, from: known, timeout: slice)
        } catch  where error.code == .timeout {
            return try context.status(of: reader)
        }
    }
}
