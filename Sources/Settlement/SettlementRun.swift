import Crypto
import Foundation
public import Ledger
public import Logging
import Postgres
public import Rules
import Synchronization
import Zstd

/// How a run is to be done.
public struct SettlementOptions: Sendable {
    /// The folders.
    public var folders: DropFolders
    /// The campaign's parameters.
    public var campaign: Campaign
    /// Intake threads.
    public var workers: Int
    /// Everything but writing: no database changes, no result files, no moves.
    public var dryRun = false
    /// Wait for another run to finish instead of exiting.
    public var waitForLock = false
    /// Limits on files and runs (settlement spec §11.2).
    public var limits = Limits()
    /// Stop after one run even when files were left for a later one.
    public var once = false
    /// The build's version, recorded with the run.
    public var version = "unknown"
    /// Called now and then with the run's progress (from any thread).
    public var progress: (@Sendable (Progress) -> Void)?

    /// Options for a run.
    public init(folders: DropFolders, campaign: Campaign, workers: Int) {
        self.folders = folders
        self.campaign = campaign
        self.workers = workers
    }

    /// A run's progress.
    public struct Progress: Sendable {
        /// What the run is doing.
        public var phase: String
        /// Files read so far, of all complete files.
        public var filesDone: Int
        /// Complete files.
        public var files: Int
        /// Data lines read so far.
        public var records: Int
    }
}

/// What a run did, for the operator, the summary file and the exit code (settlement spec §9).
public struct RunSummary: Sendable, Codable {
    /// One file's outcome.
    public struct FileOutcome: Sendable, Codable {
        public var file: String
        public var outcome: String
        public var records: Int
        public var granted_records: Int
        public var points: Int
        public var code: String?
        public var message: String?
        public var line: Int?
    }

    public var run_id: Int64?
    public var dry_run: Bool
    public var started_at: String
    public var duration_seconds: Double
    public var files: [FileOutcome]
    public var waiting: [String]
    public var settled_files: Int
    public var quarantined_files: Int
    public var already_settled_files: Int
    public var records: Int
    public var granted_records: Int
    public var rejected_records: Int
    public var points: Int
    public var eligible_amount: Int
    public var rejections: [String: Int]
    public var recovered_runs: [Int64]
    /// Inbox entries named like no drop file, left alone.
    public var ignored: [String] = []
    /// Complete files left for a later run by `max_run_records` (only after `--once` or a dry run).
    public var deferred: [String] = []
    /// Inputs left in the inbox at delivery because they were replaced after the run read them.
    public var left_in_inbox: [String] = []
    /// The runs of the invocation, one entry each (absent inside an entry).
    public var runs: [RunSummary]?
    /// Seconds spent in each phase of the run (snapshot, intake, duplicates, points, results, commit, delivery).
    public var phase_seconds: [String: Double] = [:]

    /// The exit code of §9: 0 when every complete file was settled (or had been), 3 when some was quarantined.
    public var exitCode: Int32 { quarantined_files > 0 ? 3 : 0 }
}

/// Settlement (settlement spec §3–§7, §11): under the lock, deliver what earlier runs left undelivered, then one
/// atomic run after another (lock → recover → snapshot → admit → intake → duplicates → points → results → commit →
/// deliver) until nothing settleable is left.
public enum SettlementRun {
    /// Settles the complete files in the inbox, in as many runs as `max_run_records` needs (one with `once` or
    /// `dryRun`).
    ///
    /// Blocking; call from a dedicated thread. Throws `SettlementError`: `.locked` when another run holds the lock,
    /// `.deliveryPending` when a run is committed but its delivery failed, another code when nothing of the failing
    /// run was committed (``SettlementError/committedRuns`` names earlier runs of the invocation that were).
    public static func run(ledger: Ledger, options: SettlementOptions, logger: Logger) throws -> RunSummary {
        let started = Date()
        if let problem = options.campaign.validationError {
            throw SettlementError(code: .configuration, message: "campaign parameters: \(problem)")
        }
        if let problem = options.limits.validationError {
            throw SettlementError(code: .configuration, message: problem)
        }
        do {
            try ledger.lockSettlement(wait: options.waitForLock)
        } catch is SettlementLockBusy {
            throw SettlementError(
                code: .locked,
                message:
                    "another settlement run holds the lock on this database; nothing was changed — wait for it to finish (or use --wait)"
            )
        }
        defer { ledger.unlockSettlement() }
        // The first run starts here, once the lock is held (a --wait for it is not the run's): its start and
        // duration include the checks and the recovery of earlier runs, so `runs show` shows the whole run.
        var runStarted = Date()
        CrashPoint.reach("locked")
        try ledger.requireCurrentSchema()
        do {
            try ledger.checkCampaign(options.campaign)
        } catch let error as LedgerError {
            throw SettlementError(code: .parametersChanged, message: error.message)
        }
        let recovered = options.dryRun ? [] : try recover(ledger: ledger, options: options, logger: logger)
        CrashPoint.reach("recovered")
        var runs: [RunSummary] = []
        while true {
            let summary: RunSummary
            do {
                summary = try runOnce(ledger: ledger, options: options, started: runStarted, logger: logger)
            } catch var error as SettlementError {
                error.committedRuns = runs.compactMap(\.run_id)
                throw error
            } catch {
                throw SettlementError(
                    code: .database, message: "\(error)", committedRuns: runs.compactMap(\.run_id))
            }
            runs.append(summary)
            // The next run of this invocation starts where this one ended.
            runStarted = Date()
            if options.dryRun || options.once || summary.deferred.isEmpty || summary.files.isEmpty { break }
            logger.notice(
                "more files than one run admits; starting the next run",
                metadata: ["deferred_files": "\(summary.deferred.count)"])
        }
        var total = RunSummary.combining(runs, dryRun: options.dryRun, started: started)
        total.recovered_runs = recovered
        return total
    }

    /// Delivers every committed run whose delivery is not confirmed, before anything else (settlement spec §11.4).
    static func recover(ledger: Ledger, options: SettlementOptions, logger: Logger) throws -> [Int64] {
        var recovered: [Int64] = []
        for run in try ledger.undeliveredRuns() {
            logger.notice("delivering the result files of a committed run", metadata: ["run_id": "\(run)"])
            do {
                try Delivery.deliver(run: run, ledger: ledger, folders: options.folders, logger: logger)
            } catch {
                throw SettlementError.deliveryPending(run: run, cause: error)
            }
            recovered.append(run)
        }
        return recovered
    }

    /// One atomic run over the files admitted now, started at `started` (the lock, or the previous run's end).
    static func runOnce(
        ledger: Ledger, options: SettlementOptions, started: Date, logger: Logger
    ) throws -> RunSummary {
        var clock = PhaseClock()
        let snapshot = try ledger.loadSnapshot()
        clock.end("snapshot")
        logger.info("registry snapshot loaded", metadata: ["holders": "\(snapshot.holderCount)"])
        let drop = try Drop.scan(inbox: options.folders.inbox)
        let admission = try Admission.admit(drop, inbox: options.folders.inbox, limits: options.limits)
        for name in drop.waiting { logger.info("file waiting for its other half", metadata: ["file": "\(name)"]) }
        if !drop.ignored.isEmpty {
            logger.notice(
                "inbox entries named like no drop file were left alone",
                metadata: ["entries": "\(drop.ignored.count)", "first": "\(drop.ignored[0])"])
        }

        var intakes = try readFiles(admission.admitted, snapshot: snapshot, options: options)
        clock.end("intake")
        CrashPoint.reach("intake")
        let earlier = try duplicatesOfEarlierRuns(intakes, snapshot: snapshot, ledger: ledger)
        CrashPoint.reach("duplicates")
        Settle.markDuplicates(&intakes, earlier: earlier, workers: options.workers)
        clock.end("duplicates")
        let changes = Settle.awardPoints(
            &intakes, snapshot: snapshot, campaign: options.campaign, workers: options.workers)
        clock.end("points")
        options.progress?(.init(phase: "results", filesDone: intakes.count, files: intakes.count, records: 0))
        let results = try renderResults(intakes, workers: options.workers)
        clock.end("results")
        CrashPoint.reach("results")

        var summary = RunSummary(
            run_id: nil, dry_run: options.dryRun,
            started_at: RFC3339.format(Instant(secondsSinceEpoch: Int64(started.timeIntervalSince1970))),
            duration_seconds: 0, files: [], waiting: drop.waiting, settled_files: 0, quarantined_files: 0,
            already_settled_files: 0, records: 0, granted_records: 0, rejected_records: 0, points: 0,
            eligible_amount: 0, rejections: [:], recovered_runs: [])
        summary.ignored = drop.ignored
        summary.deferred = admission.deferred
        let registrations = register(intakes, results: results, snapshot: snapshot, summary: &summary, logger: logger)
        for intake in intakes where intake.verdict == .vanished { summary.waiting.append(intake.file.name) }

        if !options.dryRun && !registrations.isEmpty {
            let runID = try commit(
                intakes, registrations: registrations, changes: changes, snapshot: snapshot, started: started,
                options: options, summary: summary, ledger: ledger)
            clock.end("commit")
            CrashPoint.reach("committed")
            summary.run_id = runID
            logger.notice("run committed", metadata: ["run_id": "\(runID)", "points": "\(summary.points)"])
            options.progress?(
                .init(phase: "delivery", filesDone: intakes.count, files: intakes.count, records: summary.records))
            var opened: [String: FileIdentity] = [:]
            for intake in intakes { opened[intake.file.name] = intake.identity }
            let delivered: Delivery.Delivered
            do {
                delivered = try Delivery.deliver(
                    run: runID, ledger: ledger, folders: options.folders, opened: opened, started: started,
                    logger: logger)
            } catch {
                throw SettlementError.deliveryPending(run: runID, cause: error)
            }
            summary.left_in_inbox = delivered.leftInInbox
            // Ends where the recorded duration ends, so the phases never add up to more than the run took.
            clock.end("delivery", at: delivered.finishedAt)
        }
        summary.phase_seconds = clock.seconds
        summary.duration_seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Positions of the run's keys that earlier runs settled, in one set-based query.
    static func duplicatesOfEarlierRuns(
        _ intakes: [FileIntake], snapshot: RegistrySnapshot, ledger: Ledger
    ) throws -> [UInt64] {
        try ledger.alreadySettled { writer in
            for (f, intake) in intakes.enumerated() where intake.verdict == .settle {
                let providerKey = snapshot.providerKeys[Int(intake.providerIndex)]
                for (r, record) in intake.records.enumerated() where !record.isMalformed {
                    writer.beginRow(fieldCount: 3)
                    writer.writeInt64(Int64(Settle.position(file: f, record: r)))
                    writer.writeInt32(providerKey)
                    intake.withRecordID(record) { writer.writeText(bytes: $0) }
                }
            }
        }
    }

    /// The registration of every decided file, counted into `summary` as it goes.
    static func register(
        _ intakes: [FileIntake], results: [ResultFile?], snapshot: RegistrySnapshot, summary: inout RunSummary,
        logger: Logger
    ) -> [FileRegistration] {
        var registrations: [FileRegistration] = []
        for (intake, result) in zip(intakes, results) where intake.verdict != .vanished {
            let providerKey = intake.providerIndex >= 0 ? snapshot.providerKeys[Int(intake.providerIndex)] : nil
            var registration = FileRegistration(
                name: intake.file.name, providerKey: providerKey, sha256: intake.sha256, outcome: .settled)
            registration.controlSHA256 = intake.controlSHA256
            registration.rawName = intake.file.rawNameIfShownOtherwise
            registration.amountTotal = intake.amountTotal
            var outcome = RunSummary.FileOutcome(
                file: intake.file.name, outcome: "settled", records: 0, granted_records: 0, points: 0)
            switch intake.verdict {
            case .vanished: continue
            case .quarantine(let verdict):
                registration.outcome = .quarantined
                registration.quarantine = (verdict.code.rawValue, verdict.message, verdict.line)
                outcome.outcome = "quarantined"
                outcome.code = verdict.code.rawValue
                outcome.message = verdict.message
                outcome.line = verdict.line
                summary.quarantined_files += 1
                logger.warning(
                    "file quarantined",
                    metadata: [
                        "file": "\(intake.file.name)", "code": "\(verdict.code.rawValue)",
                        "reason": "\(verdict.message)",
                    ])
            case .alreadySettled:
                registration.outcome = .alreadySettled
                outcome.outcome = "already_settled"
                outcome.code = "ALREADY_SETTLED"
                summary.already_settled_files += 1
                logger.notice("file already settled; skipped", metadata: ["file": "\(intake.file.name)"])
            case .settle:
                guard let result else { continue }
                registration.records = result.records
                registration.grantedRecords = result.grantedRecords
                registration.points = result.pointsTotal
                registration.eligibleAmount = result.eligibleAmount
                registration.result = (result.name, result.bytes, SHA256.hash(result.bytes), result.control)
                for reason in Reason.allCases where result.reasonCounts[Int(reason.rawValue)] > 0 {
                    let count = result.reasonCounts[Int(reason.rawValue)]
                    registration.outcomes.append((reason.code, count, result.reasonPoints[Int(reason.rawValue)]))
                    if reason.isRejection { summary.rejections[reason.code, default: 0] += count }
                }
                outcome.records = result.records
                outcome.granted_records = result.grantedRecords
                outcome.points = result.pointsTotal
                summary.settled_files += 1
                summary.records += result.records
                summary.granted_records += result.grantedRecords
                summary.rejected_records += result.records - result.grantedRecords
                summary.points += result.pointsTotal
                summary.eligible_amount += result.eligibleAmount
            }
            registrations.append(registration)
            summary.files.append(outcome)
        }
        return registrations
    }

    /// Commits the run in one transaction (recording the campaign if it is the first run to commit).
    static func commit(
        _ intakes: [FileIntake], registrations: [FileRegistration],
        changes: [(holder: RegistrySnapshot.HolderIndex, balance: Balance, records: Int)], snapshot: RegistrySnapshot,
        started: Date, options: SettlementOptions, summary: RunSummary, ledger: Ledger
    ) throws -> Int64 {
        options.progress?(
            .init(phase: "commit", filesDone: intakes.count, files: intakes.count, records: summary.records))
        let runID = try ledger.nextRunID()
        let header = RunHeader(
            runID: runID, startedAt: started, startedBy: Ledger.actor, host: ProcessInfo.processInfo.hostName,
            version: options.version, parametersJSON: parametersJSON(options))
        let balanceChanges = changes.map { change in
            BalanceChange(
                holderKey: snapshot.holderKeys[Int(change.holder)], before: snapshot.balances[Int(change.holder)],
                after: change.balance, records: change.records)
        }
        try ledger.commitRun(
            header, files: registrations, balances: balanceChanges, cap: options.campaign.capPoints,
            campaign: options.campaign
        ) { fileIDs, writer in
            for (f, intake) in intakes.enumerated() where intake.verdict == .settle {
                let providerKey = snapshot.providerKeys[Int(intake.providerIndex)]
                for (r, record) in intake.records.enumerated()
                where !record.isMalformed && record.reason != Reason.duplicate.rawValue {
                    writer.beginRow(fieldCount: 10)
                    writer.writeInt32(providerKey)
                    intake.withRecordID(record) { writer.writeText(bytes: $0) }
                    if record.holder >= 0 {
                        writer.writeInt64(snapshot.holderKeys[Int(record.holder)])
                    } else {
                        writer.writeNull()
                    }
                    writer.writeInt64(runID)
                    writer.writeInt64(fileIDs[f])
                    writer.writeInt32(Int32(r + 1))
                    writer.writeInt64(record.occurredAt)
                    writer.writeInt32(record.amount)
                    writer.writeInt32(record.points)
                    writer.writeInt16(Int16(record.reason))
                    if r == intake.records.count / 2 { CrashPoint.reach("grants-copy") }
                }
            }
        }
        return runID
    }

    /// Reads every complete file on `workers` threads (each with its own decompressor); results in name order.
    static func readFiles(
        _ files: [AdmittedFile], snapshot: RegistrySnapshot, options: SettlementOptions,
        mode: Intake.Mode = .settlement
    ) throws -> [FileIntake] {
        let slots = Mutex<[FileIntake?]>(Array(repeating: nil, count: files.count))
        let next = Atomic<Int>(0)
        let records = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        let workers = max(1, min(options.workers, files.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let intake: Intake
            do {
                intake = try Intake(
                    snapshot: snapshot, campaign: options.campaign, limits: options.limits, mode: mode)
            } catch {
                failure.withLock { $0 = $0 ?? error }
                return
            }
            while failure.withLock({ $0 == nil }) {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < files.count else { return }
                let result: FileIntake
                do {
                    result = try intake.read(files[index], inbox: options.folders.inbox)
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
                let total = records.wrappingAdd(result.records.count, ordering: .relaxed).newValue
                slots.withLock { $0[index] = result }
                options.progress?(.init(phase: "intake", filesDone: index + 1, files: files.count, records: total))
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return slots.withLock { $0.map { $0! } }
    }

    /// Renders the result file of every settled file, in parallel.
    static func renderResults(_ intakes: [FileIntake], workers: Int) throws -> [ResultFile?] {
        let slots = Mutex<[ResultFile?]>(Array(repeating: nil, count: intakes.count))
        let next = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, intakes.count))) { _ in
            do {
                let compressor = try ZstdCompressor(level: 3, checksum: true)
                while true {
                    let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard index < intakes.count else { return }
                    guard intakes[index].verdict == .settle else { continue }
                    let result = try ResultFile.render(intakes[index], compressor: compressor)
                    slots.withLock { $0[index] = result }
                }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return slots.withLock { $0 }
    }

    static func parametersJSON(_ options: SettlementOptions) -> String {
        let c = options.campaign
        return "{\"rate_percent\": \(c.ratePercent), \"cap_points\": \(c.capPoints), "
            + "\"window_start\": \"\(c.windowStart)\", \"window_end\": \"\(c.windowEnd)\", "
            + "\"rounding\": \"\(c.rounding.rawValue)\", \"workers\": \(options.workers), "
            + "\"max_line_bytes\": \(options.limits.maxLineBytes), \"max_file_bytes\": \(options.limits.maxFileBytes), "
            + "\"max_file_records\": \(options.limits.maxFileRecords), \"max_run_records\": \(options.limits.maxRunRecords)}"
    }
}

/// Seconds per phase of a run, each phase ending where the next begins.
struct PhaseClock {
    private var start = Date()
    private(set) var seconds: [String: Double] = [:]

    mutating func end(_ phase: String, at now: Date = Date()) {
        seconds[phase] = (now.timeIntervalSince(start) * 1000).rounded() / 1000
        start = now
    }
}

extension RunSummary {
    /// The invocation's totals over its runs, with each run under `runs`.
    static func combining(_ runs: [RunSummary], dryRun: Bool, started: Date) -> RunSummary {
        var total = runs.last!
        total.started_at = runs[0].started_at
        total.files = runs.flatMap(\.files)
        total.left_in_inbox = runs.flatMap(\.left_in_inbox)
        for keyPath in [
            \RunSummary.settled_files, \.quarantined_files, \.already_settled_files, \.records, \.granted_records,
            \.rejected_records, \.points, \.eligible_amount,
        ] {
            total[keyPath: keyPath] = runs.reduce(0) { $0 + $1[keyPath: keyPath] }
        }
        total.rejections = runs.reduce(into: [:]) { sum, run in sum.merge(run.rejections, uniquingKeysWith: +) }
        total.phase_seconds = runs.reduce(into: [:]) { sum, run in sum.merge(run.phase_seconds, uniquingKeysWith: +) }
        total.run_id = runs.last(where: { $0.run_id != nil })?.run_id
        total.duration_seconds = Date().timeIntervalSince(started)
        total.runs = runs
        return total
    }
}
