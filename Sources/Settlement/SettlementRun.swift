import Crypto
import DropFormat
import Foundation
public import Ledger
public import Localization
public import Logging
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
    /// Connections a run's grants are written over in parallel (two-phase commit; one needs no preparing).
    public var commitConnections = ProcessInfo.processInfo.activeProcessorCount
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
    /// The language of the quarantine sentences written for providers (the database, `error.json`).
    public var providerLanguage = Language.ja
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
        public var phase: RunPhase
        /// Files read so far, of all complete files.
        public var filesDone: Int
        /// Complete files.
        public var files: Int
        /// Data lines read so far.
        public var records: Int
    }
}

/// Settlement (settlement spec §3–§7, §11): under the lock, deliver what earlier runs left undelivered, then one
/// atomic run after another until nothing settleable is left.
///
/// `run` takes the lock (`lock`) and delivers earlier runs (`recover`); each `runOnce` is then a sequence of phase
/// functions, each returning what the next needs: `loadSnapshot` → `RegistrySnapshot`, `scan` → `ScannedInbox`,
/// `readFiles` → `[FileIntake]`, `markDuplicates` and `awardPoints` (→ `[BalanceChange]`) decide every record,
/// `renderResults` → `[ResultFile?]`, `register` → `[FileRegistration]`, `commit` → the run ID, `deliver` →
/// `Delivery.Delivered`. `RunSummary` is derived from those values.
public enum SettlementRun {
    /// Settles the complete files in the inbox, in as many runs as `max_run_records` needs (one with `once` or
    /// `dryRun`).
    ///
    /// Blocking; call from a dedicated thread. Throws `SettlementError`: `.locked` when another run holds the lock,
    /// `.deliveryPending` when a run is committed but its delivery failed, another code when nothing of the failing
    /// run was committed (``SettlementError/committedRuns`` names earlier runs of the invocation that were).
    public static func run(ledger: Ledger, options: SettlementOptions, logger: Logger) throws -> RunSummary {
        let started = Date()
        try validate(options)
        try lock(ledger, wait: options.waitForLock)
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
        try completeInterruptedCommits(ledger, dryRun: options.dryRun, logger: logger)
        let recovered = options.dryRun ? [] : try recover(ledger: ledger, options: options, logger: logger)
        CrashPoint.reach("recovered")
        let streams = options.dryRun ? 1 : try grantStreams(ledger, options: options, logger: logger)
        var runs: [RunSummary] = []
        while true {
            let summary: RunSummary
            do {
                summary = try runOnce(
                    ledger: ledger, options: options, streams: streams, started: runStarted, logger: logger)
            } catch var error as SettlementError {
                error.committedRuns = runs.compactMap(\.runID)
                throw error
            } catch {
                throw SettlementError(code: .database, message: "\(error)", committedRuns: runs.compactMap(\.runID))
            }
            runs.append(summary)
            // The next run of this invocation starts where this one ended.
            runStarted = Date()
            if options.dryRun || options.once || summary.deferred.isEmpty || summary.files.isEmpty { break }
            logger.notice(
                "more files than one run admits; starting the next run",
                metadata: ["deferred_files": "\(summary.deferred.count)"])
        }
        return RunSummary.combining(runs, started: started, recovered: recovered)
    }

    /// Refuses options no run can use.
    static func validate(_ options: SettlementOptions) throws {
        if let problem = options.campaign.validationError {
            throw SettlementError(code: .configuration, message: "campaign parameters: \(problem)")
        }
        if let problem = options.limits.validationError {
            throw SettlementError(code: .configuration, message: problem)
        }
        guard (1...64).contains(options.commitConnections) else {
            throw SettlementError(
                code: .configuration,
                message: "commit_connections is \(options.commitConnections); it must be 1–64 (connections per run)")
        }
    }

    /// Phase 0: one settlement at a time on a database (settlement spec §7.4).
    static func lock(_ ledger: Ledger, wait: Bool) throws {
        do {
            try ledger.lockSettlement(wait: wait)
        } catch is SettlementLockBusy {
            throw SettlementError(
                code: .locked,
                message:
                    "another settlement run holds the lock on this database; nothing was changed — wait for it to finish (or use --wait)"
            )
        }
    }

    /// Completes or rolls back the grants a crash left prepared, before anything reads grants: a run whose own
    /// transaction committed gets them all, any other run none.
    ///
    /// A dry run changes nothing, so it refuses to start
    /// while there are such grants.
    static func completeInterruptedCommits(_ ledger: Ledger, dryRun: Bool, logger: Logger) throws {
        if dryRun {
            guard let run = try ledger.interruptedCommits().first else { return }
            throw SettlementError(
                code: .database,
                message:
                    "run \(run.run)'s commit was interrupted and is not complete, and a dry run changes nothing — run settle without --dry-run first: it \(run.decided ? "completes" : "rolls back") run \(run.run)"
            )
        }
        CrashPoint.reach("resolving")
        for run in try ledger.resolveInterruptedCommits() {
            if run.decided {
                logger.notice(
                    "completed the commit of an interrupted run: its prepared grants are committed",
                    metadata: ["run_id": "\(run.run)", "streams": "\(run.preparedStreams)"])
            } else {
                logger.notice(
                    "rolled back the prepared grants of an interrupted run that never committed",
                    metadata: ["run_id": "\(run.run)", "streams": "\(run.preparedStreams)"])
            }
        }
    }

    /// How many connections each run writes its grants over; says once when the server allows fewer than asked.
    static func grantStreams(_ ledger: Ledger, options: SettlementOptions, logger: Logger) throws -> Int {
        let streams = try ledger.grantStreams(requested: options.commitConnections)
        if let notice = streams.notice { logger.warning("\(notice)") }
        return streams.count
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

    /// One atomic run over the files admitted now, started at `started` (the lock, or the previous run's end): each
    /// phase a function returning the value the next one needs.
    static func runOnce(
        ledger: Ledger, options: SettlementOptions, streams: Int, started: Date, logger: Logger
    ) throws -> RunSummary {
        var clock = PhaseClock()
        let (snapshot, inbox, reading) = try loadSnapshot(ledger, options: options, logger: logger)
        clock.end(.snapshot)
        var intakes = try reading.wait()
        clock.end(.intake)
        CrashPoint.reach("intake")
        try markDuplicates(&intakes, snapshot: snapshot, ledger: ledger, workers: options.workers)
        clock.end(.duplicates)
        let balances = awardPoints(&intakes, snapshot: snapshot, options: options)
        clock.end(.points)
        // Every record is decided: the grants stream to the database while the result files are rendered.
        let commit = try beginCommit(intakes, snapshot: snapshot, streams: streams, options: options, ledger: ledger)
        let registrations: [FileRegistration]
        do {
            options.progress?(.init(phase: .results, filesDone: intakes.count, files: intakes.count, records: 0))
            let results = try renderResults(intakes, workers: options.workers)
            clock.end(.results)
            CrashPoint.reach("results")
            registrations = register(
                intakes, results: results, snapshot: snapshot, language: options.providerLanguage)
        } catch {
            commit?.abandon()
            throw error
        }
        log(intakes, logger: logger)
        let vanished = intakes.filter { $0.verdict == .vanished }.map(\.file.name)

        var committed: DeliveredRun?
        if let commit {
            let runID = try finish(
                commit, intakes: intakes, registrations: registrations, balances: balances, started: started,
                options: options)
            clock.end(.commit)
            CrashPoint.reach("committed")
            logger.notice(
                "run committed",
                metadata: ["run_id": "\(runID)", "points": "\(registrations.reduce(0) { $0 + $1.points })"])
            let delivered = try deliver(
                run: runID, intakes: intakes, options: options, started: started, ledger: ledger, logger: logger)
            // Ends where the recorded duration ends, so the phases never add up to more than the run took.
            clock.end(.delivery, at: delivered.finishedAt)
            committed = DeliveredRun(runID: runID, delivered: delivered)
        }
        return RunSummary(
            started: started, dryRun: options.dryRun, inbox: inbox, files: registrations, vanished: vanished,
            committed: committed, phaseSeconds: clock.seconds)
    }

    /// Phases 1 to 3, the first two at once: the registry as it stands now (settlement spec §4), and meanwhile the
    /// inbox's scan and the reading of its files.
    ///
    /// The files are read (`FileReading`) as soon as the snapshot holds the providers and the files settled before:
    /// all intake needs but the holders. Records are decided once the snapshot is whole: those of files read before
    /// then afterwards, the others as they are read. Whatever fails, the reading has ended when this throws.
    static func loadSnapshot(
        _ ledger: Ledger, options: SettlementOptions, logger: Logger
    ) throws -> (RegistrySnapshot, ScannedInbox, FileReading) {
        var started: (ScannedInbox, FileReading)?
        let snapshot: RegistrySnapshot
        do {
            snapshot = try ledger.loadSnapshot { providers in
                let inbox = try scan(options.folders.inbox, limits: options.limits, logger: logger)
                started = (inbox, FileReading(inbox.admission.admitted, snapshot: providers, options: options))
            }
        } catch {
            if let reading = started?.1 {
                reading.snapshot.publish(nil)
                _ = try? reading.wait()
            }
            throw error
        }
        logger.info("registry snapshot loaded", metadata: ["holders": "\(snapshot.holderCount)"])
        guard let (inbox, reading) = started else {
            throw SettlementError(code: .database, message: "the registry snapshot was read without its providers")
        }
        reading.snapshot.publish(snapshot)
        return (snapshot, inbox, reading)
    }

    /// Phase 2: what the inbox holds, and which complete files this run takes on (settlement spec §3.1, §11.2).
    static func scan(_ inbox: String, limits: Limits, logger: Logger) throws -> ScannedInbox {
        let drop = try Drop.scan(inbox: inbox)
        let admission = try Admission.admit(drop, inbox: inbox, limits: limits)
        for name in drop.waiting { logger.info("file waiting for its other half", metadata: ["file": "\(name)"]) }
        if !drop.ignored.isEmpty {
            logger.notice(
                "inbox entries named like no drop file were left alone",
                metadata: ["entries": "\(drop.ignored.count)", "first": "\(drop.ignored[0])"])
        }
        return ScannedInbox(drop: drop, admission: admission)
    }

    /// Phase 4: marks `DUPLICATE` on keys settled by earlier runs (one set-based query) and on keys repeated within
    /// this run.
    static func markDuplicates(
        _ intakes: inout [FileIntake], snapshot: RegistrySnapshot, ledger: Ledger, workers: Int
    ) throws {
        // Only files whose range of record IDs holds a settled key can repeat one. Each file's range is a pass over
        // its records, so the files are spread over the workers.
        let settled = intakes.indices.filter { intakes[$0].verdict == .settle }
        let view = intakes
        let found = Mutex([(low: [UInt8], high: [UInt8])?](repeating: nil, count: settled.count))
        Parallel.forEach(settled.count, workers: workers) { n in
            let range = view[settled[n]].recordIDRange()
            found.withLock { $0[n] = range }
        }
        var files: [Int] = []
        var ranges: [KeyRange] = []
        for (n, range) in found.withLock({ $0 }).enumerated() {
            guard let range else { continue }
            let f = settled[n]
            files.append(f)
            ranges.append(
                KeyRange(
                    providerKey: snapshot.providerKeys[Int(intakes[f].providerIndex)], low: range.low, high: range.high)
            )
        }
        let possible = Set(try ledger.rangesHoldingGrants(ranges).map { files[$0] })
        let earlier = try ledger.alreadySettled { emit in
            for (f, intake) in intakes.enumerated() where possible.contains(f) {
                let providerKey = snapshot.providerKeys[Int(intake.providerIndex)]
                for (r, record) in intake.records.enumerated() where !record.isMalformed {
                    let key = RunKey(position: Settle.position(file: f, record: r), providerKey: providerKey)
                    try intake.withRecordID(record) { try emit(key, $0) }
                }
            }
        }
        CrashPoint.reach("duplicates")
        Settle.markDuplicates(&intakes, earlier: earlier, workers: workers)
    }

    /// Phase 5: points in the §5 order; returns the holders' new balances.
    static func awardPoints(
        _ intakes: inout [FileIntake], snapshot: RegistrySnapshot, options: SettlementOptions
    ) -> [BalanceChange] {
        let changes = Settle.awardPoints(
            &intakes, snapshot: snapshot, campaign: options.campaign, workers: options.workers)
        return changes.map { change in
            BalanceChange(
                holderKey: snapshot.holderKeys[Int(change.holder)], before: snapshot.balances[Int(change.holder)],
                after: change.balance, records: change.records)
        }
    }

    /// The registration of every decided file (a vanished file is not decided, so not registered); quarantine
    /// sentences are in the provider's `language`.
    static func register(
        _ intakes: [FileIntake], results: [ResultFile?], snapshot: RegistrySnapshot, language: Language
    ) -> [FileRegistration] {
        zip(intakes, results).compactMap { intake, result -> FileRegistration? in
            let providerKey = intake.providerIndex >= 0 ? snapshot.providerKeys[Int(intake.providerIndex)] : nil
            var registration = FileRegistration(
                name: intake.file.name, providerKey: providerKey, sha256: intake.sha256, outcome: .settled)
            registration.controlSHA256 = intake.controlSHA256
            registration.rawName = intake.file.rawNameIfShownOtherwise
            registration.amountTotal = intake.amountTotal
            switch intake.verdict {
            case .vanished: return nil
            case .quarantine(let verdict):
                registration.outcome = .quarantined
                registration.quarantine = .init(
                    code: verdict.code.rawValue, message: verdict.message(language), line: verdict.line)
            case .alreadySettled:
                registration.outcome = .alreadySettled
            case .settle:
                guard let result else { return nil }
                registration.records = result.records
                registration.grantedRecords = result.grantedRecords
                registration.points = result.pointsTotal
                registration.eligibleAmount = result.eligibleAmount
                registration.result = .init(
                    name: result.name, bytes: result.bytes, sha256: result.sha256, control: result.control)
                registration.tallies = Reason.allCases.compactMap { reason in
                    let count = result.reasonCounts[Int(reason.rawValue)]
                    guard count > 0 else { return nil }
                    return .init(reason: reason, records: count, points: result.reasonPoints[Int(reason.rawValue)])
                }
            }
            return registration
        }
    }

    /// Tells the operator about the files that were not settled, in English whatever the providers read: operators'
    /// logs are parsed.
    static func log(_ intakes: [FileIntake], logger: Logger) {
        for intake in intakes {
            switch intake.verdict {
            case .settle, .vanished: break
            case .quarantine(let verdict):
                logger.warning(
                    "file quarantined",
                    metadata: [
                        "file": "\(intake.file.name)", "code": "\(verdict.code.rawValue)",
                        "reason": "\(verdict.message(.en))",
                    ])
            case .alreadySettled:
                logger.notice("file already settled; skipped", metadata: ["file": "\(intake.file.name)"])
            }
        }
    }

    /// Phase 6: begins the run's commit once every record is decided, its grant rows streaming over `streams`
    /// connections; nil for a dry run or a run that decided no file.
    static func beginCommit(
        _ intakes: [FileIntake], snapshot: RegistrySnapshot, streams: Int, options: SettlementOptions, ledger: Ledger
    ) throws -> RunCommit? {
        guard !options.dryRun, intakes.contains(where: { $0.verdict != .vanished }) else { return nil }
        // Registrations leave out vanished files, so a file's index among them is counted here.
        var registered: [Int] = []
        var next = 0
        for intake in intakes {
            registered.append(next)
            if intake.verdict != .vanished { next += 1 }
        }
        let rows = GrantStreams(intakes, count: streams).rows(intakes, snapshot: snapshot, registered: registered)
        return try ledger.beginRunCommit(files: next, grants: rows)
    }

    /// Phase 7: commits the run, all of it or nothing (recording the campaign if it is the first run to commit).
    static func finish(
        _ commit: RunCommit, intakes: [FileIntake], registrations: [FileRegistration], balances: [BalanceChange],
        started: Date, options: SettlementOptions
    ) throws -> Int64 {
        let records = registrations.reduce(0) { $0 + $1.records }
        options.progress?(.init(phase: .commit, filesDone: intakes.count, files: intakes.count, records: records))
        let header = RunHeader(
            runID: commit.runID, startedAt: started, startedBy: Ledger.actor, host: ProcessInfo.processInfo.hostName,
            version: options.version, parametersJSON: parametersJSON(options))
        do {
            try commit.finish(header, files: registrations, balances: balances, campaign: options.campaign)
        } catch let incomplete as RunCommitIncomplete {
            throw SettlementError(code: .deliveryPending, message: incomplete.message)
        }
        return commit.runID
    }

    /// Phase 8: writes the result files and moves the inputs of the committed run.
    static func deliver(
        run: Int64, intakes: [FileIntake], options: SettlementOptions, started: Date, ledger: Ledger, logger: Logger
    ) throws -> Delivery.Delivered {
        let records = intakes.reduce(0) { $0 + $1.records.count }
        options.progress?(.init(phase: .delivery, filesDone: intakes.count, files: intakes.count, records: records))
        var opened: [String: FileIdentity] = [:]
        for intake in intakes { opened[intake.file.name] = intake.identity }
        do {
            return try Delivery.deliver(
                run: run, ledger: ledger, folders: options.folders, opened: opened, started: started, logger: logger)
        } catch {
            throw SettlementError.deliveryPending(run: run, cause: error)
        }
    }

    /// Reads every complete file on `workers` threads (each with its own decompressor); results in name order.
    ///
    /// With `whole`, `snapshot` holds only the providers and settled files: records are decided once `whole` has the
    /// whole snapshot, the files read before then by the workers when no file is left to read.
    static func readFiles(
        _ files: [AdmittedFile], snapshot: RegistrySnapshot, options: SettlementOptions,
        mode: Intake.Mode = .settlement, whole: WholeSnapshot? = nil
    ) throws -> [FileIntake] {
        let slots = Mutex<[FileIntake?]>(Array(repeating: nil, count: files.count))
        let undecided = Mutex<[Int]>([])
        let next = Atomic<Int>(0)
        let records = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        let workers = max(1, min(options.workers, files.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let intake: Intake
            do {
                intake = try Intake(
                    snapshot: snapshot, campaign: options.campaign, limits: options.limits, mode: mode,
                    decidesWhileReading: whole == nil)
            } catch {
                failure.withLock { $0 = $0 ?? error }
                return
            }
            while failure.withLock({ $0 == nil }) {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < files.count else { break }
                if !intake.decidesWhileReading, let whole, let snapshot = whole.ifPublished() {
                    guard let snapshot else { return }
                    intake.adopt(snapshot)
                }
                let result: FileIntake
                do {
                    result = try intake.read(files[index], inbox: options.folders.inbox)
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
                let total = records.wrappingAdd(result.records.count, ordering: .relaxed).newValue
                slots.withLock { $0[index] = result }
                if !intake.decidesWhileReading && !result.records.isEmpty { undecided.withLock { $0.append(index) } }
                options.progress?(.init(phase: .intake, filesDone: index + 1, files: files.count, records: total))
            }
            if let whole, let snapshot = whole.wait() {
                Intake.decide(undecided: undecided, slots: slots, snapshot: snapshot, campaign: options.campaign)
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        if let whole, whole.wait() == nil { throw WholeSnapshot.Missing() }
        return slots.withLock { $0.map { $0! } }
    }

    /// Renders the result file of every settled file, in parallel.
    static func renderResults(_ intakes: [FileIntake], workers: Int) throws -> [ResultFile?] {
        let slots = Mutex<[ResultFile?]>(Array(repeating: nil, count: intakes.count))
        let next = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, intakes.count))) { _ in
            do {
                let renderer = ResultRenderer(compressor: try ResultFile.compressor())
                while true {
                    let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard index < intakes.count else { return }
                    guard intakes[index].verdict == .settle else { continue }
                    let result = try renderer.render(intakes[index])
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

/// The timed phases of a run, in their order; the raw values are the keys of the summary's `phase_seconds`.
public enum RunPhase: String, Sendable, CaseIterable {
    /// Reading the registry snapshot (the inbox scan is counted with it).
    case snapshot
    /// Reading and checking the admitted files.
    case intake
    /// Finding keys settled before or repeated within the run.
    case duplicates
    /// Awarding points in the settlement order.
    case points
    /// Rendering the result files.
    case results
    /// Committing the run in one transaction.
    case commit
    /// Writing the result files and moving the inputs.
    case delivery
}

/// Seconds per phase of a run, each phase ending where the next begins.
struct PhaseClock {
    private var start = Date()
    private(set) var seconds: [String: Double] = [:]

    mutating func end(_ phase: RunPhase, at now: Date = Date()) {
        seconds[phase.rawValue] = (now.timeIntervalSince(start) * 1000).rounded() / 1000
        start = now
    }
}

/// What the scan phase found: the inbox's entries and the files this run takes on.
struct ScannedInbox {
    /// The inbox's entries.
    var drop: Drop
    /// The complete files admitted into this run, and those left for a later one.
    var admission: Admission
}

/// A run this invocation committed, and what its delivery did.
struct DeliveredRun {
    /// The run's number.
    var runID: Int64
    /// What the delivery did.
    var delivered: Delivery.Delivered
}
