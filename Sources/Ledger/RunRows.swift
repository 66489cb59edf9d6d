public import Foundation
public import Rules

/// What a run registers about one complete file, whatever its outcome: one `files` row and its `file_outcomes`.
public struct FileRegistration: Sendable {
    /// How the file ended (the `files.outcome` column).
    public enum Outcome: String, Sendable, Codable {
        /// Read, decided line by line, and granted or rejected row by row.
        case settled
        /// Refused as a whole; nothing of it was granted.
        case quarantined
        /// The same bytes were settled by an earlier run; skipped.
        case alreadySettled = "already_settled"
    }

    /// Why a file was quarantined, as its reason file says (settlement spec §7.2).
    public struct Quarantine: Sendable, Equatable {
        /// The quarantine code (`CHECKSUM_MISMATCH`, `UNKNOWN_PROVIDER` …).
        public var code: String
        /// One sentence for the provider: what is wrong and what to do.
        public var message: String
        /// The physical line at fault, when one line is.
        public var line: Int?

        /// A quarantine verdict.
        public init(code: String, message: String, line: Int?) {
            self.code = code
            self.message = message
            self.line = line
        }
    }

    /// A settled file's result file, kept in the database so that a restart delivers the very same bytes.
    public struct Result: Sendable {
        /// `{stem}.result.csv.zst`.
        public var name: String
        /// The compressed CSV.
        public var bytes: [UInt8]
        /// SHA-256 of `bytes`.
        public var sha256: [UInt8]
        /// The result control file's JSON.
        public var control: String

        /// A result file.
        public init(name: String, bytes: [UInt8], sha256: [UInt8], control: String) {
            self.name = name
            self.bytes = bytes
            self.sha256 = sha256
            self.control = control
        }
    }

    /// Rows and points of one reason in a settled file (a `file_outcomes` row).
    public struct ReasonTally: Sendable, Equatable {
        /// The reason (`.none` for an unqualified grant, stored as the empty code).
        public var reason: Reason
        /// Result rows with this reason.
        public var records: Int
        /// Points granted under this reason.
        public var points: Int

        /// A tally.
        public init(reason: Reason, records: Int, points: Int) {
            self.reason = reason
            self.records = records
            self.points = points
        }
    }

    /// The data file's name.
    public var name: String
    /// The provider's database key, when the provider is registered.
    public var providerKey: Int32?
    /// SHA-256 of the compressed file (empty when it was not read: not a regular file).
    public var sha256: [UInt8]
    /// SHA-256 of the control file (empty when none was read).
    public var controlSHA256: [UInt8] = []
    /// The inbox name's bytes, when they are not valid UTF-8 (`name` then shows them as `\xHH`).
    public var rawName: [UInt8]?
    /// How the file ended.
    public var outcome: Outcome
    /// Why, for a quarantined file.
    public var quarantine: Quarantine?
    /// Data lines (= granted + rejected).
    public var records = 0
    /// Rows with status GRANTED.
    public var grantedRecords = 0
    /// Points granted.
    public var points = 0
    /// Eligible amount over the granted rows, yen.
    public var eligibleAmount = 0
    /// Sum of amounts over the five-field lines, yen.
    public var amountTotal = 0
    /// The result file, for a settled file.
    public var result: Result?
    /// Rows and points by reason, for a settled file; reasons without rows are left out.
    public var tallies: [ReasonTally] = []

    /// A file's registration.
    public init(name: String, providerKey: Int32?, sha256: [UInt8], outcome: Outcome) {
        self.name = name
        self.providerKey = providerKey
        self.sha256 = sha256
        self.outcome = outcome
    }

    /// Result rows the run rejected.
    public var rejectedRecords: Int { records - grantedRecords }
}

/// A run's header: who, when, with which code and parameters (a `runs` row, with totals the ledger derives from
/// the files).
public struct RunHeader: Sendable {
    /// The run's number.
    public var runID: Int64
    /// When it started: when the invocation took the settlement lock, or, for a later run of the same
    /// invocation, when the previous run ended.
    public var startedAt: Date
    /// Who started it.
    public var startedBy: String
    /// The host it ran on.
    public var host: String
    /// The build's version.
    public var version: String
    /// The campaign and run options, as JSON.
    public var parametersJSON: String

    /// A run header.
    public init(runID: Int64, startedAt: Date, startedBy: String, host: String, version: String, parametersJSON: String)
    {
        self.runID = runID
        self.startedAt = startedAt
        self.startedBy = startedBy
        self.host = host
        self.version = version
        self.parametersJSON = parametersJSON
    }
}

/// A holder's new balance after a run (a `ledger` row).
public struct BalanceChange: Sendable {
    /// The holder's key.
    public var holderKey: Int64
    /// The balance the run started from (checked against the database at commit).
    public var before: Balance
    /// The balance after the run.
    public var after: Balance
    /// Settled eligible records after the run.
    public var records: Int

    /// A balance change.
    public init(holderKey: Int64, before: Balance, after: Balance, records: Int) {
        self.holderKey = holderKey
        self.before = before
        self.after = after
        self.records = records
    }

    /// Whether the holder had no balance before this run (its `ledger` row is new).
    var isFirst: Bool { before.eligibleAmount == 0 && before.points == 0 }
}

/// One row of `grants`: a record of a settled file, granted or rejected (never a duplicate: its key is the
/// earlier row's).
///
/// The record ID travels beside it as bytes, see ``GrantRows``.
public struct GrantRow: Sendable {
    /// The provider's key.
    public var providerKey: Int32
    /// The holder the record resolved to, if any.
    public var holderKey: Int64?
    /// The index of the record's file in the run's registrations (its `file_id` exists only inside the commit).
    public var file: Int
    /// The record's physical line in its data file (1 = the first data line).
    public var line: Int32
    /// `occurred_at` in nanoseconds since the epoch (0 for a malformed line).
    public var occurredAt: Int64
    /// The amount, yen (0 for a malformed line).
    public var amount: Int32
    /// Points granted (0 when rejected).
    public var points: Int32
    /// The row's reason.
    public var reason: Reason

    /// A grant row.
    @inlinable
    public init(
        providerKey: Int32, holderKey: Int64?, file: Int, line: Int32, occurredAt: Int64, amount: Int32, points: Int32,
        reason: Reason
    ) {
        self.providerKey = providerKey
        self.holderKey = holderKey
        self.file = file
        self.line = line
        self.occurredAt = occurredAt
        self.amount = amount
        self.points = points
        self.reason = reason
    }
}

/// The lowest and highest record ID (bytes) of one provider's keys in a file, to ask whether earlier runs settled
/// anything between them (see ``Ledger/rangesHoldingGrants(_:)``).
public struct KeyRange: Sendable, Equatable {
    /// The provider's key.
    public var providerKey: Int32
    /// The lowest record ID, by bytes.
    public var low: [UInt8]
    /// The highest record ID, by bytes.
    public var high: [UInt8]

    /// A range of keys.
    public init(providerKey: Int32, low: [UInt8], high: [UInt8]) {
        self.providerKey = providerKey
        self.low = low
        self.high = high
    }
}

/// One key of the run, sent to find the keys earlier runs settled (see ``Ledger/alreadySettled(_:)``).
public struct RunKey: Sendable {
    /// The caller's position of the record, returned as given when its key was settled before.
    public var position: UInt64
    /// The provider's key.
    public var providerKey: Int32

    /// A run key.
    @inlinable
    public init(position: UInt64, providerKey: Int32) {
        self.position = position
        self.providerKey = providerKey
    }
}

/// Rows a caller streams to the ledger without building them all first: the producer calls `emit` once per row,
/// with the record ID's bytes, which need only stay valid during that call.
///
/// `@Sendable`: a run's grants stream on threads of their own while the run renders its result files.
public typealias GrantRows = @Sendable (_ emit: (GrantRow, UnsafeRawBufferPointer) throws -> Void) throws -> Void

/// The run's keys, streamed like ``GrantRows``.
public typealias RunKeys = (_ emit: (RunKey, UnsafeRawBufferPointer) throws -> Void) throws -> Void
