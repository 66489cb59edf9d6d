import DropFormat
import Foundation
import Ledger
public import Localization
public import Rules
import SystemPackage

/// A provider's pre-flight of a drop (`mynapoint check`): every check of settlement that needs neither the registry
/// nor the ledger, run by the very code `settle` runs (`Drop`, `Admission`, `Intake`, `Settle.markDuplicates`),
/// without a database and without moving or changing any file.
///
/// What it cannot know: `UNKNOWN_PROVIDER`, `NAME_REUSED` and `ALREADY_SETTLED` (files settled before), duplicates
/// of records settled in earlier runs, and the reasons after `OUT_OF_WINDOW` (§4 checks 4–10).
public enum Preflight {
    /// What a pre-flight checks against.
    public struct Options: Sendable {
        /// The campaign (only its window matters here).
        public var campaign: Campaign
        /// The limits of settlement spec §11.2 (`max_run_records` plays no part: every file is checked).
        public var limits: Limits
        /// Threads reading files.
        public var workers = 1
        /// Line problems kept per file, first in line order.
        public var maxProblems = 10
        /// The language of the explanations and advice (the configuration's `provider_language`, or `--lang`).
        public var providerLanguage = Language.ja

        /// Options for the campaign and limits `settle` would use.
        public init(campaign: Campaign, limits: Limits = Limits()) {
            self.campaign = campaign
            self.limits = limits
        }
    }

    /// Checks the drop files named by `paths`: data or control files (each with its other half, if it is there) or
    /// folders (every drop file in them).
    ///
    /// Reads only; never moves, changes or creates a file.
    ///
    /// Throws `SettlementError` `.configuration` for unusable arguments (a path that does not exist or is named
    /// like no drop file, bad campaign parameters or limits), `.io` for a file that cannot be read.
    public static func check(_ paths: [String], options: Options) throws -> PreflightReport {
        if let problem = options.campaign.validationError {
            throw SettlementError(code: .configuration, message: "campaign parameters: \(problem)")
        }
        if let problem = options.limits.validationError {
            throw SettlementError(code: .configuration, message: problem)
        }
        var limits = options.limits
        limits.maxRunRecords = .max
        var report = PreflightReport()
        var admitted: [(folder: String, file: AdmittedFile)] = []
        for target in try targets(paths) {
            let drop = try Drop.scan(inbox: target.folder, stems: target.stems)
            report.ignored += drop.ignored
            report.files += drop.waiting.map { PreflightFile(waiting: $0, language: options.providerLanguage) }
            let admission = try Admission.admit(drop, inbox: target.folder, limits: limits)
            admitted += admission.admitted.map { (target.folder, $0) }
        }
        // Settlement's order: files in byte order of their names, as if they had been dropped together.
        admitted.sort { $0.file.file.dataEntry < $1.file.file.dataEntry }
        var intakes = try read(admitted, options: options, limits: limits)
        Settle.markDuplicates(&intakes, earlier: [], workers: options.workers)
        report.files += intakes.map {
            PreflightFile(
                $0, campaign: options.campaign, maxProblems: options.maxProblems, language: options.providerLanguage)
        }
        report.files.sort { $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
        return report
    }

    /// A registry that knows only the providers named by the files, so that no provider is looked up and each
    /// provider's files are one group for the duplicate check.
    static func snapshot(providers: Set<ProviderID>) -> RegistrySnapshot {
        var snapshot = RegistrySnapshot()
        for (index, provider) in providers.sorted().enumerated() { snapshot.addProvider(provider, key: Int32(index)) }
        return snapshot
    }

    /// Reads the admitted files through settlement's intake, folder by folder, keeping their order.
    private static func read(
        _ admitted: [(folder: String, file: AdmittedFile)], options: Options, limits: Limits
    ) throws -> [FileIntake] {
        let snapshot = snapshot(providers: Set(admitted.compactMap(\.file.file.provider)))
        var intakes: [FileIntake?] = Array(repeating: nil, count: admitted.count)
        var settlement = SettlementOptions(
            folders: DropFolders(inbox: "", outbox: "", archive: "", quarantine: ""), campaign: options.campaign,
            workers: options.workers)
        settlement.limits = limits
        for folder in Set(admitted.map(\.folder)) {
            let indices = admitted.indices.filter { admitted[$0].folder == folder }
            settlement.folders.inbox = folder
            let read = try SettlementRun.readFiles(
                indices.map { admitted[$0].file }, snapshot: snapshot, options: settlement,
                mode: .withoutRegistry(maxMalformedFields: options.maxProblems))
            for (index, intake) in zip(indices, read) { intakes[index] = intake }
        }
        return intakes.map { $0! }
    }

    /// One folder to scan, whole (`stems` nil) or only the drops named.
    struct Target {
        var folder: String
        var stems: Set<[UInt8]>?
    }

    /// The folders to scan for `paths`, in the order first named.
    static func targets(_ paths: [String]) throws(SettlementError) -> [Target] {
        var targets: [Target] = []
        func add(_ folder: String, stem: [UInt8]?) {
            guard let index = targets.firstIndex(where: { $0.folder == folder }) else {
                targets.append(Target(folder: folder, stems: stem.map { [$0] }))
                return
            }
            if let stem, targets[index].stems != nil {
                targets[index].stems!.insert(stem)
            } else {
                targets[index].stems = nil
            }
        }
        for (position, path) in paths.enumerated() {
            let status: Stat
            switch examine(path) {
            case .success(let found): status = found
            case .failure(let error):
                throw SettlementError(code: .configuration, message: Self.unusable(position: position + 1, error))
            }
            if status.type == .directory {
                add((path as NSString).standardizingPath, stem: nil)
                continue
            }
            let name = EntryName((path as NSString).lastPathComponent)
            let isData = name.hasSuffix(ProviderFile.dataSuffix)
            guard isData || name.hasSuffix(ProviderFile.controlSuffix), name.bytes.first != 0x2E else {
                throw SettlementError(
                    code: .configuration,
                    message:
                        "PATH \(position + 1) is named like no drop file ({provider_id}_{YYYYMMDD}_{seq}.csv.zst or .ctl, not starting with a dot); settle would leave it alone"
                )
            }
            let folder = ((path as NSString).deletingLastPathComponent as NSString).standardizingPath
            add(
                folder.isEmpty ? "." : folder,
                stem: name.dropping(isData ? ProviderFile.dataSuffix : ProviderFile.controlSuffix))
        }
        return targets
    }

    /// The entry at `path` as typed, not followed.
    ///
    /// The path is not normalized: a trailing slash makes `lstat` follow
    /// a link to a folder, as the operator may mean. The corresponding C function is `lstat`.
    private static func examine(_ path: String) -> Result<Stat, Errno> {
        path.withCString { path in Result { () throws(Errno) in try Stat(path, followTargetSymlink: false) } }
    }

    /// Why PATH `position` cannot be checked.
    ///
    /// The path itself is not echoed: what was typed may hold anything.
    private static func unusable(position: Int, _ error: Errno) -> String {
        switch error {
        case .noSuchFileOrDirectory, .notDirectory:
            "PATH \(position) does not exist; name a data file, control file or folder"
        default:
            "PATH \(position) cannot be examined (\(error)); check the permissions of its folders"
        }
    }
}

/// What `check` found, one entry per drop file, in byte order of the names.
public struct PreflightReport: Sendable {
    /// The verdict on each file.
    public var files: [PreflightFile] = []
    /// Entries of the folders checked that are named like no drop file (settle leaves them alone).
    public var ignored: [String] = []

    /// True when every file would be settled: `check`'s exit code is 0 then, else 3.
    public var allAccepted: Bool { files.allSatisfy { $0.verdict == .accept } }
}

/// `check`'s verdict on one file.
public struct PreflightFile: Sendable {
    /// What settlement would do with the file.
    public enum Verdict: String, Sendable {
        /// Settled: every line gets a result row.
        case accept
        /// Quarantined whole, with `quarantine` saying why.
        case quarantine
        /// Not complete yet: the other half (data or control file) is not there.
        case waiting
    }

    /// The data file's name (the control file's for a control file without its data file).
    public var file: String
    /// The verdict.
    public var verdict: Verdict
    /// The §3.4 code, sentence and line, when quarantined.
    public var quarantine: Quarantine?
    /// Data lines that would get a result row (0 unless accepted).
    public var records = 0
    /// Lines per rejection reason `check` can know: `MALFORMED`, `DUPLICATE` (within the files given),
    /// `OUT_OF_WINDOW`.
    public var reasons: [Reason: Int] = [:]
    /// The first lines with one of those reasons, in line order.
    public var problems: [LineProblem] = []
    /// The language of ``message`` and of the problems' advice.
    public var language: Language

    /// A file that waits for its other half.
    init(waiting name: String, language: Language) {
        file = name
        verdict = .waiting
        self.language = language
    }

    /// The verdict on what intake made of a file.
    init(_ intake: FileIntake, campaign: Campaign, maxProblems: Int, language: Language) {
        file = intake.file.name
        self.language = language
        switch intake.verdict {
        case .quarantine(let quarantine):
            verdict = .quarantine
            self.quarantine = quarantine
        case .vanished:
            verdict = .waiting
        case .settle, .alreadySettled:
            verdict = .accept
            records = intake.records.count
            for (index, record) in intake.records.enumerated() where record.reason != Reason.none.rawValue {
                let reason = Reason(rawValue: record.reason)!
                reasons[reason, default: 0] += 1
                if problems.count < maxProblems {
                    problems.append(
                        LineProblem(
                            reason: reason, line: Int(intake.lines[index]), record: index + 1,
                            fault: intake.malformedFields[index], campaign: campaign, language: language))
                }
            }
        }
    }

    /// Why a file is not accepted, in any language; nil when it is.
    public var explanation: ProviderMessage? {
        switch verdict {
        case .accept: nil
        case .quarantine: quarantine?.reason
        case .waiting:
            file.hasSuffix(ProviderFile.controlSuffix) ? .waitingForData(control: file) : .waitingForControl(file: file)
        }
    }

    /// One sentence for the provider on a file that is not accepted, in ``language``; nil when it is.
    public var message: String? { explanation?.text(language) }
}

/// A data line that would be rejected, with what to do about it.
///
/// Never holds a field's value.
public struct LineProblem: Sendable, Equatable {
    /// The rejection reason.
    public var reason: Reason
    /// The physical line of the decompressed file (the header is line 1).
    public var line: Int
    /// The data line's position, which is its row in the result file (1 is the first row after the header).
    public var record: Int
    /// The field at fault (`record_id`, `mykey_id`, `kind`, `amount_yen`, `occurred_at`), nil for the whole line.
    public var field: String?
    /// What is wrong and what to do, in any language.
    public var explanation: ProviderMessage
    /// The language of ``advice``.
    public var language: Language

    /// What is wrong and what to do, in ``language``.
    public var advice: String { explanation.text(language) }

    init(reason: Reason, line: Int, record: Int, fault: MalformedField?, campaign: Campaign, language: Language) {
        self.reason = reason
        self.line = line
        self.record = record
        self.language = language
        switch reason {
        case .duplicate:
            field = "record_id"
            explanation = .duplicateAdvice
        case .outOfWindow:
            field = "occurred_at"
            explanation = .outOfWindowAdvice(
                start: Self.japanTime(campaign.windowStart), end: Self.japanTime(campaign.windowEnd))
        default:
            (field, explanation) = Self.malformed(fault)
        }
    }

    /// An instant in Japan time, as the campaign is announced.
    static func japanTime(_ instant: Instant) -> String {
        let shifted = Instant(nanosecondsSinceEpoch: instant.nanosecondsSinceEpoch &+ 9 * 3600 * 1_000_000_000)
        return String(RFC3339.format(shifted).dropLast()) + "+09:00"
    }

    /// The field and advice for a `MALFORMED` line.
    private static func malformed(_ fault: MalformedField?) -> (String?, ProviderMessage) {
        switch fault {
        case .fieldCount(.badQuoting): (nil, .badQuotingAdvice)
        case .fieldCount(.fields(let count)):
            (nil, .fieldCountAdvice(found: count > FieldSplitter.maxFields ? nil : count))
        case .recordID: ("record_id", .recordIDAdvice)
        case .myKeyID(individualNumber: true): ("mykey_id", .individualNumberAdvice)
        case .myKeyID(individualNumber: false): ("mykey_id", .myKeyIDAdvice)
        case .kind: ("kind", .kindAdvice)
        case .occurredAt: ("occurred_at", .occurredAtAdvice)
        case nil: (nil, .malformedAdvice)
        }
    }
}
