import CPCSCLite

/// What the resource manager reports about one reader: whether a card is in it, and how many times its own
/// polling has seen a card come or go.
///
/// The event count is the PC/SC one, the high word of `SCARD_READERSTATE.dwEventState`. pcsc-lite counts only
/// what its reader thread sees; a card reset or a failed command can mark the reader empty without counting, so
/// the count is what tells that the resource manager has really noticed a card's arrival or departure.
public struct ReaderStatus: Sendable, Equatable {
    /// The event state as the resource manager reported it, with `SCARD_STATE_CHANGED` cleared.
    let eventState: UInt32

    init(eventState: DWORD) {
        self.eventState = UInt32(truncatingIfNeeded: eventState) & ~UInt32(SCARD_STATE_CHANGED)
    }

    /// Whether a card is in the reader.
    public var cardPresent: Bool { eventState & UInt32(SCARD_STATE_PRESENT) != 0 }

    /// The insertions and removals the resource manager has counted in the reader, modulo 65536.
    public var eventCount: Int { Int(eventState >> 16) }
}

extension SmartCardContext {
    /// The status of `reader` right now; `.readerUnavailable` when there is no such reader.
    ///
    /// The corresponding C function is `SCardGetStatusChange` with a zero timeout.
    public func status(of reader: String) throws(SmartCardError) -> ReaderStatus {
        // With the state "unaware" the call answers at once; a timeout still leaves a valid event state.
        try statusChange(of: reader, from: DWORD(SCARD_STATE_UNAWARE), timeout: 0, timeoutIsError: false)
    }

    /// Waits until the status of `reader` differs from `known` (its presence, or its event count), and returns
    /// the new status; `.timeout` when nothing changed in time.
    ///
    /// The resource manager wakes the wait when its reader thread sees a card come or go, so this returns as soon
    /// as that happens, without polling.
    ///
    /// The corresponding C function is `SCardGetStatusChange`.
    public func waitForStatusChange(
        of reader: String, from known: ReaderStatus, timeout: Duration
    ) throws(SmartCardError) -> ReaderStatus {
        try statusChange(
            of: reader, from: DWORD(known.eventState), timeout: Self.milliseconds(timeout), timeoutIsError: true)
    }

    private func statusChange(
        of reader: String, from current: DWORD, timeout: DWORD, timeoutIsError: Bool
    ) throws(SmartCardError) -> ReaderStatus {
        var states = ReaderStates(readers: [reader], knownReaderCount: nil)
        states.setCurrentState(at: 0, current)
        let result = states.withUnsafeMutableBufferPointer { buffer in
            SCardGetStatusChange(handle, timeout, buffer.baseAddress, DWORD(buffer.count))
        }
        if result == SCARD_E_TIMEOUT && timeoutIsError {
            throw SmartCardError(
                .timeout, "the reader's status did not change in time", pcscCode: 0x8010_000A, reader: reader)
        }
        guard result == SCARD_S_SUCCESS || result == SCARD_E_TIMEOUT else {
            throw SmartCardError(pcsc: result, operation: "SCardGetStatusChange", reader: reader)
        }
        let event = states.eventState(at: 0)
        if event & DWORD(SCARD_STATE_UNKNOWN) != 0 {
            throw SmartCardError(.readerUnavailable, "no reader of that name is attached", reader: reader)
        }
        return ReaderStatus(eventState: event)
    }
}
