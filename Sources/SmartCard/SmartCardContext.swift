import CPCSCLite
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PC/SC resource manager context (`SCardEstablishContext` / `SCardReleaseContext`).
///
/// Every method blocks the calling thread while pcscd answers; `waitForCard` blocks for up to its timeout.
/// Call them from a dedicated thread (a `Thread`, or a blocking-I/O executor), never from Swift's cooperative
/// thread pool, whose few threads must not block.
///
/// Thread rule (pcsc-lite, `SCardEstablishContext`): "Each thread of an application shall use its own
/// SCARDCONTEXT, unless calling SCardCancel(), which MUST be called with the same context as the context used to
/// call SCardGetStatusChange()". pcsc-lite's client library also locks a per-context mutex around every call, so
/// a context shared between threads is memory-safe, only serialized. Hence `@unchecked Sendable`: share a context
/// across threads to `cancel()` a wait; give each worker thread its own context otherwise.
public final class SmartCardContext: @unchecked Sendable {
    /// The pcsc-lite context handle, owned by this value and released in `deinit`.
    let handle: SCARDCONTEXT
    /// Set by `cancel()`, so that a wait between two `SCardGetStatusChange` calls also ends.
    private let cancelRequested = Atomic<Bool>(false)

    /// Establishes a system-scope context with pcscd; `.serviceUnavailable` when pcscd is not running.
    ///
    /// The corresponding C function is `SCardEstablishContext`.
    public init() throws(SmartCardError) {
        var context: SCARDCONTEXT = 0
        try pcscCheck("SCardEstablishContext") {
            SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &context)
        }
        handle = context
    }

    deinit {
        // Releasing the context also disconnects its cards, but every connection holds its context alive,
        // so by now they are all gone.
        _ = SCardReleaseContext(handle)
    }

    /// The names of the attached readers; empty when there are none.
    ///
    /// The corresponding C function is `SCardListReaders`.
    public func readers() throws(SmartCardError) -> [String] {
        // The reader list can grow between the size query and the fetch; then ask again.
        while true {
            var length: DWORD = 0
            var result = SCardListReaders(handle, nil, nil, &length)
            if result == SCARD_E_NO_READERS_AVAILABLE { return [] }
            guard result == SCARD_S_SUCCESS else {
                throw SmartCardError(pcsc: result, operation: "SCardListReaders")
            }
            var buffer = [CChar](repeating: 0, count: Int(length))
            result = SCardListReaders(handle, nil, &buffer, &length)
            if result == SCARD_E_NO_READERS_AVAILABLE { return [] }
            if result == SCARD_E_INSUFFICIENT_BUFFER { continue }
            guard result == SCARD_S_SUCCESS else {
                throw SmartCardError(pcsc: result, operation: "SCardListReaders")
            }
            return Self.splitMultiString(buffer.prefix(Int(length)))
        }
    }

    /// Waits until a card is present in one of `readers` (all readers when nil) and returns that reader's name.
    ///
    /// Readers that appear during the wait are watched too (through pcsc-lite's `\\?PnP?\Notification`), so the
    /// wait can begin before the reader is plugged in. Throws `.timeout` when no card came in time and
    /// `.cancelled` when `cancel()` was called during the wait.
    ///
    /// The corresponding C function is `SCardGetStatusChange`.
    public func waitForCard(readers wanted: [String]? = nil, timeout: Duration) throws(SmartCardError) -> String {
        cancelRequested.store(false, ordering: .sequentiallyConsistent)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var knownReaderCount: Int?
        while true {
            let available = try readers()
            let watched = wanted.map { $0.filter(available.contains) } ?? available
            var states = ReaderStates(readers: watched, knownReaderCount: knownReaderCount ?? available.count)
            while true {
                if cancelRequested.load(ordering: .sequentiallyConsistent) {
                    throw SmartCardError(.cancelled, "waiting for a card was cancelled")
                }
                let remaining = clock.now.duration(to: deadline)
                let result = states.withUnsafeMutableBufferPointer { buffer in
                    SCardGetStatusChange(handle, Self.milliseconds(remaining), buffer.baseAddress, DWORD(buffer.count))
                }
                if result == SCARD_E_TIMEOUT {
                    throw SmartCardError(.timeout, "no card was presented within \(timeout)", pcscCode: 0x8010_000A)
                }
                guard result == SCARD_S_SUCCESS else {
                    throw SmartCardError(pcsc: result, operation: "SCardGetStatusChange")
                }
                if let reader = states.readerWithCard() { return reader }
                if let count = states.changedReaderCount() {
                    // Watch the new list; the count pcsc-lite reported is the one to compare with from now on.
                    knownReaderCount = count
                    break
                }
                if remaining <= .zero {
                    throw SmartCardError(.timeout, "no card was presented within \(timeout)")
                }
                states.acknowledgeEvents()
            }
        }
    }

    /// Whether a card is in `reader` right now; `.readerUnavailable` when there is no such reader.
    ///
    /// The corresponding C function is `SCardGetStatusChange` with a zero timeout.
    public func cardPresent(in reader: String) throws(SmartCardError) -> Bool {
        try status(of: reader).cardPresent
    }

    /// Connects to the card in `reader`; `.noCard` when the reader is empty.
    ///
    /// The connection keeps this context alive until it is released.
    ///
    /// The corresponding C function is `SCardConnect`.
    public func connect(
        reader: String,
        share: ShareMode = .shared,
        protocols: ProtocolSet = .any
    ) throws(SmartCardError) -> SmartCardConnection {
        try SmartCardConnection(context: self, reader: reader, share: share, protocols: protocols)
    }

    /// Ends a `waitForCard` running on another thread with `.cancelled`; does nothing when no wait is running.
    ///
    /// The corresponding C function is `SCardCancel`.
    public func cancel() {
        cancelRequested.store(true, ordering: .sequentiallyConsistent)
        _ = SCardCancel(handle)
    }

    /// Splits a PC/SC multi-string (names separated by NUL, ended by an empty name).
    static func splitMultiString(_ buffer: some Collection<CChar>) -> [String] {
        buffer.split(separator: 0).map { name in
            String(decoding: name.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// A duration as a PC/SC timeout in milliseconds: never negative, never the value meaning "infinite".
    static func milliseconds(_ duration: Duration) -> DWORD {
        // Rounded up, so a wait never ends before its deadline; INFINITE is 0xFFFFFFFF.
        let milliseconds = (duration / .milliseconds(1)).rounded(.up)
        return DWORD(min(max(milliseconds, 0), Double(UInt32.max - 1)))
    }
}

/// The `SCARD_READERSTATE` array for one `SCardGetStatusChange` loop, with C copies of the reader names.
struct ReaderStates: ~Copyable {
    /// The pcsc-lite name of the pseudo-reader whose state changes when readers come or go.
    static let plugAndPlay = "\\\\?PnP?\\Notification"

    private var states: [SCARD_READERSTATE]
    /// The reader names as C strings; pcsc-lite reads them during each call, so they live as long as `states`.
    private let names: [UnsafeMutablePointer<CChar>]
    /// Index of the plug-and-play entry, when readers appearing should end the wait.
    private let plugAndPlayIndex: Int?

    /// States for `readers`, all "unaware" so that the first call reports the present state at once;
    /// with `knownReaderCount`, also the plug-and-play entry, told how many readers are known.
    init(readers: [String], knownReaderCount: Int?) {
        var all = readers
        if knownReaderCount != nil { all.append(Self.plugAndPlay) }
        names = all.map { strdup($0)! }
        states = names.map { name in
            var state = SCARD_READERSTATE()
            state.szReader = UnsafePointer(name)
            state.dwCurrentState = DWORD(SCARD_STATE_UNAWARE)
            return state
        }
        if let knownReaderCount {
            plugAndPlayIndex = states.count - 1
            // pcsc-lite compares the high 16 bits of the current state with the number of readers.
            states[states.count - 1].dwCurrentState = DWORD(knownReaderCount) << 16
        } else {
            plugAndPlayIndex = nil
        }
    }

    deinit {
        for name in names { free(name) }
    }

    mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<SCARD_READERSTATE>) -> R
    ) -> R {
        states.withUnsafeMutableBufferPointer(body)
    }

    func eventState(at index: Int) -> DWORD { states[index].dwEventState }

    /// Tells pcsc-lite what the caller knows of a reader, so that the next call waits for a change from it.
    mutating func setCurrentState(at index: Int, _ state: DWORD) {
        states[index].dwCurrentState = state
    }

    /// The first watched reader that reports a card.
    func readerWithCard() -> String? {
        for (index, state) in states.enumerated() where index != plugAndPlayIndex {
            if state.dwEventState & DWORD(SCARD_STATE_PRESENT) != 0 {
                return String(cString: names[index])
            }
        }
        return nil
    }

    /// The number of readers, when readers came or went so that the watched list must be built again.
    func changedReaderCount() -> Int? {
        guard let plugAndPlayIndex else { return nil }
        let event = states[plugAndPlayIndex].dwEventState
        guard event & DWORD(SCARD_STATE_CHANGED) != 0 else { return nil }
        return Int(event >> 16)
    }

    /// Takes the reported states as known, so that the next call waits for the next change.
    mutating func acknowledgeEvents() {
        for index in states.indices {
            states[index].dwCurrentState = states[index].dwEventState & ~DWORD(SCARD_STATE_CHANGED)
        }
    }
}
