import Crypto
import DropFormat
import Foundation
import Ledger
public import Localization
import Rules
import Zstd

/// Why a complete file is not settled (settlement spec §3.4), in the order the checks run.
public enum QuarantineCode: String, Sendable, CaseIterable, Codable {
    case badName = "BAD_NAME"
    case notAFile = "NOT_A_FILE"
    case unknownProvider = "UNKNOWN_PROVIDER"
    case badControl = "BAD_CONTROL"
    case checksumMismatch = "CHECKSUM_MISMATCH"
    case nameReused = "NAME_REUSED"
    case badCompression = "BAD_COMPRESSION"
    case tooLarge = "TOO_LARGE"
    case badHeader = "BAD_HEADER"
    case controlMismatch = "CONTROL_MISMATCH"
}

/// A file-level verdict with the sentence and line that explain it.
public struct Quarantine: Sendable, Equatable {
    /// The §3.4 code.
    public var code: QuarantineCode
    /// What is wrong and what to do, for the provider in any language.
    public var reason: ProviderMessage
    /// The line of the data file concerned, when there is one.
    public var line: Int?

    /// A verdict with its code, reason and line.
    public init(code: QuarantineCode, reason: ProviderMessage, line: Int? = nil) {
        self.code = code
        self.reason = reason
        self.line = line
    }

    /// What is wrong and what to do, in `language`.
    public func message(_ language: Language) -> String { reason.text(language) }
}

/// One data line after intake: 40 bytes, no references, so a run's millions of lines cost no allocations.
struct IntakeRecord: Sendable {
    /// `occurred_at` in nanoseconds since the epoch (valid lines).
    var occurredAt: Int64
    /// The packed MyKey ID, or 0 when the field is not in its valid form.
    var myKey: UInt64
    /// Where the record ID starts in the file's record-ID bytes.
    var recordIDOffset: UInt32
    /// `amount_yen` (valid lines).
    var amount: Int32
    /// The holder's snapshot index, or -1 when none has the MyKey ID (or not yet looked up: intake decides a chunk's
    /// records together).
    var holder: Int32
    /// Points granted (filled when settling).
    var points: Int32
    /// Length of the record ID; 0 when the field is not in its valid form.
    var recordIDLength: UInt8
    /// `Reason` raw value.
    var reason: UInt8
    /// `RecordKind` raw value; 0 for a malformed line.
    var kind: UInt8
    private var padding: UInt8 = 0

    init(
        occurredAt: Int64, myKey: UInt64, recordIDOffset: UInt32, amount: Int32, holder: Int32, recordIDLength: UInt8,
        reason: Reason, kind: UInt8
    ) {
        self.occurredAt = occurredAt
        self.myKey = myKey
        self.recordIDOffset = recordIDOffset
        self.amount = amount
        self.holder = holder
        self.points = 0
        self.recordIDLength = recordIDLength
        self.reason = reason.rawValue
        self.kind = kind
    }

    /// A `MALFORMED` line, keeping only the fields in their valid form, for the result row's echo.
    static func malformed(
        recordIDOffset: UInt32, recordIDLength: UInt8 = 0, myKey: UInt64 = 0, amount: Int32 = 0
    ) -> IntakeRecord {
        IntakeRecord(
            occurredAt: 0, myKey: myKey, recordIDOffset: recordIDOffset, amount: amount, holder: -1,
            recordIDLength: recordIDLength, reason: .malformed, kind: 0)
    }

    var isMalformed: Bool { reason == Reason.malformed.rawValue }
}

/// What intake made of one complete file.
struct FileIntake: Sendable {
    enum Verdict: Sendable, Equatable {
        case settle
        case alreadySettled
        case quarantine(Quarantine)
        /// The file went away while the run read it: not decided, it is not registered.
        case vanished
    }

    let file: ProviderFile
    var verdict: Verdict
    var providerIndex: Int32 = -1
    var sha256: [UInt8] = []
    /// The control file's own digest, to deliver by content.
    var controlSHA256: [UInt8] = []
    /// The data file as it was opened, to tell at delivery that it is still the same file.
    var identity: FileIdentity?
    var control: ControlFile?
    var records: [IntakeRecord] = []
    var recordIDs: [UInt8] = []
    var amountTotal = 0
    var compressedBytes = 0
    /// Without a registry only: the physical line of each record, parallel to `records`.
    var lines: [Int32] = []
    /// Without a registry only: the field at fault on the first malformed lines, by record index.
    var malformedFields: [Int: MalformedField] = [:]

    init(file: ProviderFile, verdict: Verdict) {
        self.file = file
        self.verdict = verdict
    }

    /// The record ID bytes of a record.
    func withRecordID<T>(_ record: IntakeRecord, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try recordIDs.withUnsafeBytes { all in
            try body(
                UnsafeRawBufferPointer(
                    rebasing: all[
                        Int(record.recordIDOffset)..<(Int(record.recordIDOffset) + Int(record.recordIDLength))]))
        }
    }
}

/// The header every data file starts with (after an optional BOM).
let recordHeader = Array("record_id,mykey_id,kind,amount_yen,occurred_at".utf8)

/// Why intake stopped reading a data file before its end (settlement spec §11.2).
enum IntakeStop: Error {
    /// A line longer than `max_line_bytes`.
    case lineTooLong(line: Int)
    /// More decompressed bytes than `max_file_bytes`.
    case fileTooLarge
    /// More data lines than `max_file_records`.
    case tooManyLines(line: Int)
    /// A data line beyond the control file's `records`.
    case beyondDeclared(line: Int)
}

/// Reads, checks and parses one complete file (settlement spec §3.2–§3.4, §4 checks 1 and 3–10, §11).
///
/// One `Intake` per worker thread: it owns its decompressor and field splitter.
final class Intake {
    /// Whether the registry takes part.
    enum Mode: Sendable {
        /// Settlement: every check of §3.4 and §4 with the run's snapshot.
        case settlement
        /// A provider's pre-flight (`check`): the snapshot holds only the providers of the files given, so
        /// eligibility stops after the window check, and each record keeps its line for the report.
        case withoutRegistry(maxMalformedFields: Int)
    }

    private let decompressor: ZstdDecompressor
    private let splitter: FieldSplitter
    private var batch = EligibilityBatch()
    private(set) var snapshot: RegistrySnapshot
    let campaign: Campaign
    let limits: Limits
    let mode: Mode
    /// False while the snapshot holds only providers and settled files: records are then left undecided, for
    /// `decide(_:records:snapshot:campaign:withoutRegistry:batch:)` once the holders are read.
    private(set) var decidesWhileReading: Bool

    init(
        snapshot: RegistrySnapshot, campaign: Campaign, limits: Limits = Limits(), mode: Mode = .settlement,
        decidesWhileReading: Bool = true
    ) throws {
        self.decompressor = try ZstdDecompressor()
        self.splitter = FieldSplitter(maxLineLength: limits.maxLineBytes)
        self.snapshot = snapshot
        self.campaign = campaign
        self.limits = limits
        self.mode = mode
        self.decidesWhileReading = decidesWhileReading
    }

    /// Reads the next files with the whole snapshot, deciding their records as they are read.
    func adopt(_ whole: RegistrySnapshot) {
        snapshot = whole
        decidesWhileReading = true
    }

    /// The `BAD_NAME` reason, shared with `pack`, which refuses the same names before writing anything.
    static func badNameReason(_ file: ProviderFile) -> ProviderMessage { .badName(file: file.name) }

    /// Runs the file-level checks in order and, when they pass, parses every line.
    ///
    /// Throws only for what is on the operator's side (settlement spec §11.3): a file that cannot be opened or read,
    /// or a decompressor short of memory. All a provider can fix, a stream that is not valid zstd among it, is a
    /// verdict on the file, never an error.
    func read(_ admitted: AdmittedFile, inbox: String) throws(SettlementError) -> FileIntake {
        let file = admitted.file
        var intake = FileIntake(file: file, verdict: .settle)
        intake.controlSHA256 = admitted.control.sha256
        let dataPath = EntryPath(folder: inbox, name: file.dataEntry)
        guard let provider = file.provider else {
            try hashRegularHalves(of: file, inbox: inbox, into: &intake)
            return intake.quarantined(.badName, Self.badNameReason(file))
        }
        if file.dataKind != .regular || file.controlKind != .regular {
            // The half that is there and is not a regular file (the other may be missing).
            let dataRefused = file.dataKind != .regular && file.dataKind != .missing
            let (name, kind) = dataRefused ? (file.name, file.dataKind) : (file.controlName, file.controlKind)
            try hashRegularHalves(of: file, inbox: inbox, into: &intake)
            return intake.notAFile(name, kind, hardLink: false)
        }
        guard let providerIndex = snapshot.providerIndex(provider) else {
            try hashIfRegular(dataPath, into: &intake)
            return intake.quarantined(.unknownProvider, .unknownProvider(provider: "\(provider)"))
        }
        intake.providerIndex = providerIndex
        let control: ControlFile
        switch admitted.control {
        case .notAFile(let kind, let hardLink):
            try hashIfRegular(dataPath, into: &intake)
            return intake.notAFile(file.controlName, kind, hardLink: hardLink)
        case .missing, .unread: return intake.vanished()
        case .invalid(let problem, _):
            try hashIfRegular(dataPath, into: &intake)
            return intake.quarantined(.badControl, .badControl(control: file.controlName, problem: problem))
        case .parsed(let parsed, _): control = parsed
        }
        intake.control = control
        switch FileOperations.openRegular(dataPath) {
        case .failure(.notAFile(let kind, let hardLink)): return intake.notAFile(file.name, kind, hardLink: hardLink)
        case .failure(.missing): return intake.vanished()
        case .failure(.failed(let error)): throw SettlementError(error)
        case .success(let opened):
            intake.identity = opened.identity
            return try read(opened, control: control, into: intake)
        }
    }

    /// Reads the opened data file: its digest always, its lines when that can decide anything.
    private func read(
        _ opened: borrowing OpenedFile, control: ControlFile, into start: FileIntake
    ) throws(SettlementError) -> FileIntake {
        var intake = start
        let file = intake.file
        let previousDigest = snapshot.settledFiles[file.name]
        var scan = LineState(declared: control.records)
        var decompression = Decompression.complete
        if previousDigest != nil || control.records > limits.maxFileRecords {
            intake.sha256 = try Self.sha256(opened)
            intake.compressedBytes = Int(opened.identity.size)
        } else {
            intake.records.reserveCapacity(min(control.records, 1 << 24))
            // Room for record IDs of 32 bytes: pages never written are never backed, and a file of longer IDs grows
            // the array as before, so this only spares the common file its copies while growing.
            intake.recordIDs.reserveCapacity(min(control.records, 1 << 24) * 32)
            decompression = try decompress(opened, scan: &scan, intake: &intake)
        }
        let digest = intake.sha256.hexString
        var verdict: (QuarantineCode, ProviderMessage, Int?)?
        if digest != control.sha256 {
            verdict = (
                .checksumMismatch, .checksumMismatch(file: file.name, digest: digest, declared: control.sha256), nil
            )
        } else if let previousDigest {
            if previousDigest == intake.sha256 {
                intake.verdict = .alreadySettled
                return intake
            }
            verdict = (.nameReused, .nameReused(file: file.name), nil)
        } else if control.records > limits.maxFileRecords {
            verdict = (.tooLarge, .declaresTooMany(records: control.records, limit: limits.maxFileRecords), nil)
        } else if case .invalid(let error) = decompression {
            verdict = (.badCompression, .badCompression(file: file.name, detail: error.message), nil)
        } else {
            verdict = Self.verdict(stop: decompression.stop, scan: scan, control: control, file: file, limits: limits)
        }
        intake.amountTotal = scan.amountTotal
        if let verdict { return intake.quarantined(verdict.0, verdict.1, line: verdict.2) }
        return intake
    }

    /// How reading a data file's lines ended.
    ///
    /// Whichever way, the digest covers every byte of the file.
    enum Decompression {
        /// Every line was read.
        case complete
        /// A limit, or the control file's count, stopped the lines.
        case stopped(IntakeStop)
        /// The bytes are not one complete, valid zstd stream: `BAD_COMPRESSION`, the provider's to fix.
        case invalid(ZstdError)

        /// What stopped the lines, if anything did.
        var stop: IntakeStop? {
            if case .stopped(let stop) = self { return stop }
            return nil
        }
    }

    /// Streams the file through zstd and the line scanner within the limits; the digest always covers every byte.
    private func decompress(
        _ opened: borrowing OpenedFile, scan: inout LineState, intake: inout FileIntake
    ) throws(SettlementError) -> Decompression {
        let hasher = SHA256()
        var lines = LineScanner(maxLineBytes: limits.maxLineBytes)
        var decompressed = 0
        var compressed = 0
        let maxFileBytes = limits.maxFileBytes
        let descriptor = opened.descriptor
        let path = opened.path
        var outcome = Decompression.complete
        var resolved = intake.records.count
        do {
            try ZstdFileReader.decompress(
                reading: { buffer in try FileOperations.read(descriptor, into: buffer, path: path.display) },
                decompressor: decompressor,
                compressedObserver: { piece in
                    hasher.update(piece)
                    compressed += piece.count
                }
            ) { chunk in
                // Only the bytes within the limit are scanned, so where the limit falls decides, not the chunking.
                let allowed = min(chunk.count, maxFileBytes - decompressed)
                decompressed += allowed
                try lines.feed(UnsafeRawBufferPointer(rebasing: chunk[..<allowed])) { line, number in
                    try self.line(line, number: number, state: &scan, intake: &intake)
                }
                if decidesWhileReading {
                    decide(&intake, from: resolved)
                    resolved = intake.records.count
                }
                if let overlong = lines.overlongLine { throw IntakeStop.lineTooLong(line: overlong) }
                if allowed < chunk.count { throw IntakeStop.fileTooLarge }
            }
            try lines.finish { line, number in try self.line(line, number: number, state: &scan, intake: &intake) }
            if decidesWhileReading { decide(&intake, from: resolved) }
            if let overlong = lines.overlongLine { throw IntakeStop.lineTooLong(line: overlong) }
        } catch let stop as IntakeStop {
            outcome = .stopped(stop)
        } catch let error as ZstdError where error.isInTheStream {
            outcome = .invalid(error)
        } catch {
            throw Self.operatorSide(error, reading: path)
        }
        decompressor.reset()
        intake.sha256 = hasher.finalize()
        intake.compressedBytes = compressed
        if case .complete = outcome { return outcome }
        intake.records = []
        intake.recordIDs = []
        intake.lines = []
        return outcome
    }

    /// A failure while reading a data file that no provider can fix (settlement spec §11.3): the run stops on it.
    private static func operatorSide(_ error: any Error, reading path: EntryPath) -> SettlementError {
        switch error {
        case let error as FileOperationError:
            return SettlementError(error)
        case let error as ZstdError where error.code == .outOfMemory:
            return SettlementError(
                code: .io,
                message:
                    "cannot decompress \(path.display): \(error); the machine is short of memory — run again with fewer --workers"
            )
        default:
            return SettlementError(code: .io, message: "reading \(path.display) failed: \(error)")
        }
    }

    /// The SHA-256 of an opened file, read whole.
    private static func sha256(_ opened: borrowing OpenedFile) throws(SettlementError) -> [UInt8] {
        do {
            return try opened.sha256()
        } catch {
            throw SettlementError(error)
        }
    }

    /// The verdict on what was read, from `TOO_LARGE` on (settlement spec §3.4, §11.2), or nil to settle.
    static func verdict(
        stop: IntakeStop?, scan: LineState, control: ControlFile, file: ProviderFile, limits: Limits
    ) -> (QuarantineCode, ProviderMessage, Int?)? {
        switch stop {
        case .lineTooLong(let line):
            return (.tooLarge, .lineTooLong(file: file.name, line: line, limit: limits.maxLineBytes), line)
        case .fileTooLarge:
            return (.tooLarge, .decompressesTooLarge(file: file.name, limit: limits.maxFileBytes), nil)
        case .tooManyLines(let line):
            return (.tooLarge, .tooManyLines(file: file.name, limit: limits.maxFileRecords, line: line), line)
        case .beyondDeclared, nil: break
        }
        if !scan.headerSeen || scan.badHeader {
            return (.badHeader, .badHeader(file: file.name), 1)
        }
        if let badAmountLine = scan.firstBadAmountLine {
            return (.controlMismatch, .badAmount(line: badAmountLine), badAmountLine)
        }
        if case .beyondDeclared(let line) = stop {
            return (.controlMismatch, .beyondDeclared(file: file.name, declared: control.records, line: line), line)
        }
        if scan.dataLines != control.records {
            return (
                .controlMismatch, .lineCount(file: file.name, lines: scan.dataLines, declared: control.records), nil
            )
        }
        if scan.amountTotal != control.amountTotal {
            return (
                .controlMismatch,
                .amountTotal(file: file.name, total: scan.amountTotal, declared: control.amountTotal), nil
            )
        }
        return nil
    }

    /// Hashes whichever halves of a refused pair are regular files, so delivery can tell later whether they changed.
    private func hashRegularHalves(
        of file: ProviderFile, inbox: String, into intake: inout FileIntake
    )
        throws(SettlementError)
    {
        try hashIfRegular(EntryPath(folder: inbox, name: file.dataEntry), into: &intake)
        guard file.controlKind == .regular else { return }
        switch FileOperations.openRegular(EntryPath(folder: inbox, name: file.controlEntry)) {
        case .success(let opened): intake.controlSHA256 = try Self.sha256(opened)
        case .failure(.failed(let error)): throw SettlementError(error)
        case .failure: break
        }
    }

    /// Hashes a data file that is decided without reading its lines, so delivery can still check its content.
    private func hashIfRegular(_ path: EntryPath, into intake: inout FileIntake) throws(SettlementError) {
        guard intake.file.dataKind == .regular else { return }
        switch FileOperations.openRegular(path) {
        case .success(let opened):
            intake.identity = opened.identity
            intake.sha256 = try Self.sha256(opened)
        case .failure(.failed(let error)): throw SettlementError(error)
        case .failure: break
        }
    }

    /// What the file's lines add up to while they are read (settlement spec §3.2, §3.4).
    struct LineState {
        /// Data lines the control file declares.
        var declared: Int
        var headerSeen = false
        var badHeader = false
        var dataLines = 0
        var amountTotal = 0
        var firstBadAmountLine: Int?

        /// What a line counts for in the control totals, before its other fields are judged.
        enum Tally {
            /// The header, an empty line, or any line after a bad header.
            case skipped
            /// A data line that does not split into five fields: it counts as a line and adds no amount.
            case malformed(FieldSplitter.Split)
            /// A five-field line whose `amount_yen` is not valid: `CONTROL_MISMATCH`.
            case badAmount
            /// A five-field line with its amount; the splitter holds its fields.
            case counted(amount: Int)
        }

        /// Counts one line as §3.2 defines `records` and `amount_total` (shared by intake and `pack`).
        mutating func tally(
            _ line: UnsafeRawBufferPointer, number: Int, splitter: FieldSplitter, maxFileRecords: Int
        ) throws(IntakeStop) -> Tally {
            guard try admit(line, number: number, maxFileRecords: maxFileRecords) else { return .skipped }
            return tallyFields(line, number: number, splitter: splitter)
        }

        /// Counts a line as a data line unless it is the header or empty; true when its fields are to be read (not
        /// after a bad header).
        @inline(__always)
        mutating func admit(
            _ line: UnsafeRawBufferPointer, number: Int, maxFileRecords: Int
        ) throws(IntakeStop) -> Bool {
            guard headerSeen else {
                headerSeen = true
                var header = line
                if header.starts(with: [0xEF, 0xBB, 0xBF]) {
                    header = UnsafeRawBufferPointer(rebasing: header.dropFirst(3))
                }
                badHeader = !header.elementsEqual(recordHeader)
                return false
            }
            if line.isEmpty { return false }
            dataLines += 1
            if dataLines > maxFileRecords { throw .tooManyLines(line: number) }
            if dataLines > declared { throw .beyondDeclared(line: number) }
            return !badHeader
        }

        /// Splits an admitted line and counts its amount.
        mutating func tallyFields(_ line: UnsafeRawBufferPointer, number: Int, splitter: FieldSplitter) -> Tally {
            let split = splitter.split(line)
            guard split == .fields(5) else { return .malformed(split) }
            guard let amount = FieldForm.amount(splitter.field(3)) else {
                if firstBadAmountLine == nil { firstBadAmountLine = number }
                return .badAmount
            }
            amountTotal += amount
            return .counted(amount: amount)
        }
    }

    private func line(
        _ line: UnsafeRawBufferPointer, number: Int, state: inout LineState, intake: inout FileIntake
    ) throws(IntakeStop) {
        guard try state.admit(line, number: number, maxFileRecords: limits.maxFileRecords) else { return }
        let offset = UInt32(intake.recordIDs.count)
        if let parsed = RecordLine.parse(line) {
            state.amountTotal += parsed.amount
            intake.recordIDs.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[..<parsed.recordIDLength]))
            let record = IntakeRecord(
                occurredAt: parsed.occurredAt.nanosecondsSinceEpoch, myKey: parsed.myKey, recordIDOffset: offset,
                amount: Int32(parsed.amount), holder: -1, recordIDLength: UInt8(parsed.recordIDLength),
                reason: .none, kind: parsed.kind.rawValue)
            append(record, line: number, fault: nil, to: &intake)
            return
        }
        switch state.tallyFields(line, number: number, splitter: splitter) {
        case .skipped, .badAmount: return
        case .malformed(let split):
            append(.malformed(recordIDOffset: offset), line: number, fault: .fieldCount(split), to: &intake)
        case .counted(let amount):
            record(amount: amount, offset: offset, line: number, intake: &intake)
        }
    }

    /// Judges the fields of a five-field line with a valid amount and appends its record.
    private func record(amount: Int, offset: UInt32, line: Int, intake: inout FileIntake) {
        let recordField = splitter.field(0)
        let recordValid = FieldForm.isRecordID(recordField)
        let myKeyField = splitter.field(1)
        // A misplaced individual number never leaves this function: the line keeps no trace of it.
        let myKey = MyKeyID(bytes: myKeyField)
        let kind = FieldForm.kind(splitter.field(2))
        let occurredAt = RFC3339.parse(splitter.field(4))
        if recordValid { intake.recordIDs.append(contentsOf: recordField) }
        let recordLength = recordValid ? UInt8(recordField.count) : 0
        guard recordValid, let myKey, let kind, let occurredAt else {
            let fault: MalformedField =
                !recordValid
                ? .recordID
                : myKey == nil
                    ? .myKeyID(individualNumber: FieldForm.looksLikeIndividualNumber(myKeyField))
                    : kind == nil ? .kind : .occurredAt
            let record = IntakeRecord.malformed(
                recordIDOffset: offset, recordIDLength: recordLength, myKey: myKey?.rawValue ?? 0,
                amount: Int32(amount))
            append(record, line: line, fault: fault, to: &intake)
            return
        }
        let record = IntakeRecord(
            occurredAt: occurredAt.nanosecondsSinceEpoch, myKey: myKey.rawValue, recordIDOffset: offset,
            amount: Int32(amount), holder: -1, recordIDLength: recordLength, reason: .none, kind: kind.rawValue)
        append(record, line: line, fault: nil, to: &intake)
    }

    /// Appends a record; without a registry, also its line and, for the first malformed lines, the field at fault.
    @inline(__always)
    private func append(_ record: IntakeRecord, line: Int, fault: MalformedField?, to intake: inout FileIntake) {
        if case .withoutRegistry(let maxMalformedFields) = mode {
            if let fault, intake.malformedFields.count < maxMalformedFields {
                intake.malformedFields[intake.records.count] = fault
            }
            intake.lines.append(Int32(truncatingIfNeeded: line))
        }
        intake.records.append(record)
    }

    /// Decides the well-formed records of a chunk, from `start` on.
    private func decide(_ intake: inout FileIntake, from start: Int) {
        var withoutRegistry = false
        if case .withoutRegistry = mode { withoutRegistry = true }
        Self.decide(
            &intake, records: start..<intake.records.count, snapshot: snapshot, campaign: campaign,
            withoutRegistry: withoutRegistry, batch: &batch)
    }

    /// Finds the holder of every well-formed record in `range` and runs the §4 checks 3–10 on it.
    ///
    /// Intake appends well-formed records undecided (no holder, reason `none`) and decides them together, through
    /// the snapshot's batch lookup, which keeps many records' cache misses in flight at once: a chunk's worth at a
    /// time while reading, or a block at a time of a file read before the holders were.
    static func decide(
        _ intake: inout FileIntake, records range: Range<Int>, snapshot: RegistrySnapshot, campaign: Campaign,
        withoutRegistry: Bool, batch: inout EligibilityBatch
    ) {
        let provider = intake.providerIndex
        batch.removeAll(keepingCapacity: true)
        intake.records.withUnsafeMutableBufferPointer { records in
            for i in range where !records[i].isMalformed {
                batch.indexes.append(Int32(truncatingIfNeeded: i - range.lowerBound))
                batch.myKeys.append(records[i].myKey)
                batch.occurredAt.append(records[i].occurredAt)
            }
            guard !batch.indexes.isEmpty else { return }
            batch.decide(snapshot: snapshot, provider: provider, campaign: campaign)
            let base = records.baseAddress! + range.lowerBound
            for (n, i) in batch.indexes.enumerated() {
                var reason = batch.reasons[n]
                // Without a registry every MyKey ID is unknown: only the checks before that one can be known.
                if withoutRegistry && reason == .unknownMyKey { reason = .none }
                base[Int(i)].holder = batch.holders[n]
                base[Int(i)].reason = reason.rawValue
            }
        }
    }
}

/// The well-formed records of a chunk, gathered for the snapshot's batch lookup; reused from chunk to chunk.
struct EligibilityBatch {
    /// Each record's index from the chunk's first record.
    var indexes: [Int32] = []
    var myKeys: [UInt64] = []
    var occurredAt: [Int64] = []
    var holders: [RegistrySnapshot.HolderIndex] = []
    var reasons: [Reason] = []
    var scratch = EligibilityScratch()

    mutating func removeAll(keepingCapacity: Bool) {
        indexes.removeAll(keepingCapacity: keepingCapacity)
        myKeys.removeAll(keepingCapacity: keepingCapacity)
        occurredAt.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Fills `holders` and `reasons` for the gathered records.
    mutating func decide(snapshot: RegistrySnapshot, provider: RegistrySnapshot.ProviderIndex, campaign: Campaign) {
        let count = myKeys.count
        if holders.count < count {
            holders.append(contentsOf: repeatElement(-1, count: count - holders.count))
            reasons.append(contentsOf: repeatElement(.none, count: count - reasons.count))
        }
        myKeys.withUnsafeBufferPointer { myKeys in
            occurredAt.withUnsafeBufferPointer { occurredAt in
                holders.withUnsafeMutableBufferPointer { holders in
                    reasons.withUnsafeMutableBufferPointer { reasons in
                        snapshot.eligibility(
                            myKeys: myKeys, occurredAt: occurredAt, provider: provider, campaign: campaign,
                            holders: UnsafeMutableBufferPointer(rebasing: holders[..<count]),
                            reasons: UnsafeMutableBufferPointer(rebasing: reasons[..<count]), scratch: &scratch)
                    }
                }
            }
        }
    }
}

/// Which field makes a line `MALFORMED` (the first in field order), for a provider's pre-flight report.
enum MalformedField: Sendable, Equatable {
    /// The line does not split into exactly five fields (or its quoting is broken).
    case fieldCount(FieldSplitter.Split)
    case recordID
    /// `mykey_id`; `individualNumber` when it has the shape of a My Number (never echoed).
    case myKeyID(individualNumber: Bool)
    case kind
    case occurredAt
}

extension ZstdError {
    /// True when the error is in the stream's bytes (cut, corrupt, a checksum that does not match): the provider's
    /// to fix.
    ///
    /// Memory, I/O and misuse are not.
    fileprivate var isInTheStream: Bool { [.truncated, .corrupt, .checksumMismatch].contains(code) }
}

extension FileIntake {
    /// This intake, quarantined with `code`: nothing of the file is kept but its digests.
    fileprivate func quarantined(_ code: QuarantineCode, _ reason: ProviderMessage, line: Int? = nil) -> FileIntake {
        var copy = self
        copy.verdict = .quarantine(Quarantine(code: code, reason: reason, line: line))
        copy.records = []
        copy.recordIDs = []
        copy.lines = []
        copy.malformedFields = [:]
        return copy
    }

    /// Quarantined `NOT_A_FILE`: `name` was never opened, followed or hashed.
    fileprivate func notAFile(_ name: String, _ kind: EntryKind, hardLink: Bool) -> FileIntake {
        quarantined(.notAFile, .notAFile(name: name, entry: hardLink ? .hardLink : kind.entry))
    }

    /// The file went away during the run; it is decided by a later run.
    fileprivate func vanished() -> FileIntake {
        var copy = self
        copy.verdict = .vanished
        return copy
    }
}
