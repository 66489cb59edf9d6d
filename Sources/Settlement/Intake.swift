import Crypto
import Foundation
import Ledger
import Rules
import Zstd

/// Why a complete file is not settled (settlement spec §3.4), in the order the checks run.
public enum QuarantineCode: String, Sendable, CaseIterable, Codable {
    case badName = "BAD_NAME"
    case unknownProvider = "UNKNOWN_PROVIDER"
    case badControl = "BAD_CONTROL"
    case checksumMismatch = "CHECKSUM_MISMATCH"
    case nameReused = "NAME_REUSED"
    case badCompression = "BAD_COMPRESSION"
    case badHeader = "BAD_HEADER"
    case controlMismatch = "CONTROL_MISMATCH"
}

/// A file-level verdict with the sentence and line that explain it.
public struct Quarantine: Sendable, Equatable {
    /// The §3.4 code.
    public var code: QuarantineCode
    /// What is wrong and what to do, for the provider.
    public var message: String
    /// The line of the data file concerned, when there is one.
    public var line: Int?
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
    /// The holder's snapshot index, or -1 when none has the MyKey ID.
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
    }

    let file: ProviderFile
    var verdict: Verdict
    var providerIndex: Int32 = -1
    var sha256: [UInt8] = []
    var control: ControlFile?
    var records: [IntakeRecord] = []
    var recordIDs: [UInt8] = []
    var amountTotal = 0
    var compressedBytes = 0

    init(file: ProviderFile, verdict: Verdict) {
        self.file = file
        self.verdict = verdict
    }

    /// The record ID bytes of a record.
    func withRecordID<T>(_ record: IntakeRecord, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        recordIDs.withUnsafeBytes { all in
            body(
                UnsafeRawBufferPointer(
                    rebasing: all[
                        Int(record.recordIDOffset)..<(Int(record.recordIDOffset) + Int(record.recordIDLength))]))
        }
    }
}

/// The header every data file starts with (after an optional BOM).
let recordHeader = Array("record_id,mykey_id,kind,amount_yen,occurred_at".utf8)

/// Reads, checks and parses one complete file (settlement spec §3.2–§3.4, §4 checks 1 and 3–10).
///
/// One `Intake` per worker thread: it owns its decompressor and field splitter.
final class Intake {
    private let decompressor: ZstdDecompressor
    private let splitter = FieldSplitter()
    let snapshot: RegistrySnapshot
    let campaign: Campaign

    init(snapshot: RegistrySnapshot, campaign: Campaign) throws {
        self.decompressor = try ZstdDecompressor()
        self.snapshot = snapshot
        self.campaign = campaign
    }

    /// Runs the file-level checks in order and, when they pass, parses every line.
    func read(_ file: ProviderFile, inbox: String) -> FileIntake {
        var intake = FileIntake(file: file, verdict: .settle)
        guard let provider = file.provider else {
            intake.verdict = .quarantine(
                Quarantine(
                    code: .badName,
                    message:
                        "the file name \(file.name) is not {provider_id}_{YYYYMMDD}_{seq}.csv.zst with a real date and a 4-digit sequence; rename it and send it again",
                    line: nil))
            return intake
        }
        guard let providerIndex = snapshot.providerIndex(provider) else {
            intake.verdict = .quarantine(
                Quarantine(
                    code: .unknownProvider,
                    message:
                        "provider \(provider) is not registered; register it (registry import) before its files are settled",
                    line: nil))
            return intake
        }
        intake.providerIndex = providerIndex
        let control: ControlFile
        switch readControl(file, inbox: inbox) {
        case .failure(let error):
            intake.verdict = .quarantine(
                Quarantine(
                    code: .badControl, message: "\(file.controlName): \(error.message); send a corrected control file",
                    line: nil))
            return intake
        case .success(let parsed):
            control = parsed
        }
        intake.control = control

        let path = inbox + "/" + file.name
        let hasher = SHA256()
        let previousDigest = snapshot.settledFiles[file.name]
        var scan = LineState()
        var lines = LineScanner()
        var decompressionError: ZstdError?
        var readError: (any Error)?
        do {
            if previousDigest != nil {
                try hashOnly(path: path, hasher: hasher, bytes: &intake.compressedBytes)
            } else {
                var compressed = 0
                try ZstdFileReader(path: path).forEachChunk(
                    decompressor: decompressor,
                    compressedObserver: { chunk in
                        hasher.update(chunk)
                        compressed += chunk.count
                    }
                ) { chunk in
                    lines.feed(chunk) { line, number in self.line(line, number: number, state: &scan, intake: &intake) }
                }
                intake.compressedBytes = compressed
                lines.finish { line, number in self.line(line, number: number, state: &scan, intake: &intake) }
            }
        } catch let error as ZstdError where error.code != .io {
            decompressionError = error
        } catch {
            readError = error
        }
        decompressor.reset()
        intake.sha256 = hasher.finalize()
        let digest = intake.sha256.hexString

        if let readError {
            // An I/O failure is the operator's problem, not the provider's: the whole run stops.
            intake.verdict = .quarantine(Quarantine(code: .badCompression, message: "\(readError)", line: nil))
            intake.records = []
            return intake
        }
        let verdict: Quarantine?
        if digest != control.sha256 {
            verdict = Quarantine(
                code: .checksumMismatch,
                message:
                    "the SHA-256 of \(file.name) is \(digest), the control file says \(control.sha256); upload the file again (it may be incomplete), control file last",
                line: nil)
        } else if let previousDigest {
            if previousDigest == intake.sha256 {
                intake.verdict = .alreadySettled
                return intake
            }
            verdict = Quarantine(
                code: .nameReused,
                message:
                    "a file named \(file.name) with other content was settled before; send new records under a new sequence number",
                line: nil)
        } else if let decompressionError {
            verdict = Quarantine(
                code: .badCompression,
                message:
                    "\(file.name) is not a complete, valid zstd stream (\(decompressionError.message)); compress it again with zstd and resend",
                line: nil)
        } else if !scan.headerSeen || scan.badHeader {
            verdict = Quarantine(
                code: .badHeader,
                message:
                    "the first line of \(file.name) must be exactly record_id,mykey_id,kind,amount_yen,occurred_at",
                line: 1)
        } else if let badAmountLine = scan.firstBadAmountLine {
            verdict = Quarantine(
                code: .controlMismatch,
                message:
                    "line \(badAmountLine) has an amount_yen that is not a whole number of yen from 1 to 999999999; correct it and resend the file",
                line: badAmountLine)
        } else if scan.dataLines != control.records {
            verdict = Quarantine(
                code: .controlMismatch,
                message:
                    "\(file.name) has \(scan.dataLines) data lines, the control file says \(control.records); resend a matching pair",
                line: nil)
        } else if scan.amountTotal != control.amountTotal {
            verdict = Quarantine(
                code: .controlMismatch,
                message:
                    "the amounts of \(file.name) add up to \(scan.amountTotal) yen, the control file says \(control.amountTotal); resend a matching pair",
                line: nil)
        } else {
            verdict = nil
        }
        if let verdict {
            intake.verdict = .quarantine(verdict)
            intake.records = []
            intake.recordIDs = []
        }
        intake.amountTotal = scan.amountTotal
        return intake
    }

    private func readControl(_ file: ProviderFile, inbox: String) -> Result<ControlFile, ControlFileError> {
        guard let data = FileManager.default.contents(atPath: inbox + "/" + file.controlName) else {
            return .failure(ControlFileError(message: "the control file cannot be read"))
        }
        switch ControlFile.parse(Array(data)) {
        case .success(let control) where control.file != file.name:
            return .failure(ControlFileError(message: "the control file names \(control.file), not \(file.name)"))
        case let other:
            return other
        }
    }

    private func hashOnly(path: String, hasher: SHA256, bytes: inout Int) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SettlementError(code: .io, message: "cannot open \(path)")
        }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { hasher.update($0) }
            bytes += chunk.count
        }
    }

    struct LineState {
        var headerSeen = false
        var badHeader = false
        var dataLines = 0
        var amountTotal = 0
        var firstBadAmountLine: Int?
    }

    private func line(_ line: UnsafeRawBufferPointer, number: Int, state: inout LineState, intake: inout FileIntake) {
        guard state.headerSeen else {
            state.headerSeen = true
            var header = line
            if header.starts(with: [0xEF, 0xBB, 0xBF]) {
                header = UnsafeRawBufferPointer(rebasing: header.dropFirst(3))
            }
            state.badHeader = !header.elementsEqual(recordHeader)
            return
        }
        if state.badHeader || line.isEmpty { return }
        state.dataLines += 1
        let offset = UInt32(intake.recordIDs.count)
        guard case .fields(let count) = splitter.split(line), count == 5 else {
            intake.records.append(.malformed(recordIDOffset: offset))
            return
        }
        guard let amount = FieldForm.amount(splitter.field(3)) else {
            if state.firstBadAmountLine == nil { state.firstBadAmountLine = number }
            return
        }
        state.amountTotal += amount
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
            intake.records.append(
                .malformed(
                    recordIDOffset: offset, recordIDLength: recordLength, myKey: myKey?.rawValue ?? 0,
                    amount: Int32(amount)))
            return
        }
        let (holder, reason) = snapshot.eligibility(
            myKey: myKey, provider: intake.providerIndex, occurredAt: occurredAt, campaign: campaign)
        intake.records.append(
            IntakeRecord(
                occurredAt: occurredAt.nanosecondsSinceEpoch, myKey: myKey.rawValue, recordIDOffset: offset,
                amount: Int32(amount), holder: holder ?? -1, recordIDLength: recordLength, reason: reason,
                kind: kind.rawValue))
    }
}
