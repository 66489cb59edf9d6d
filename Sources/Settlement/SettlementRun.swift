import Crypto
public import Foundation
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
    /// Seconds spent in each phase of the run (snapshot, intake, duplicates, points, results, commit, delivery).
    public var phase_seconds: [String: Double] = [:]

    /// The exit code of §9: 0 when every complete file was settled (or had been), 3 when some was quarantined.
    public var exitCode: Int32 { quarantined_files > 0 ? 3 : 0 }
}

/// One settlement run (settlement spec §3–§7): lock, snapshot, parallel intake, duplicates, points, one
/// commit, then result files and moves.
public enum SettlementRun {
    /// Runs settlement once over the complete files in the inbox.
    ///
    /// Blocking; call from a dedicated thread. Throws `SettlementError` (`.locked` when another run holds the lock).
    public static func run(ledger: Ledger, options: SettlementOptions, logger: Logger) throws -> RunSummary {
        let started = Date()
        if let problem = options.campaign.validationError {
            throw SettlementError(code: .configuration, message: "campaign parameters: \(problem)")
        }
        let connection = ledger.connection
        if options.waitForLock {
            try connection.advisoryLock(Ledger.settlementLockKey)
        } else if !(try connection.tryAdvisoryLock(Ledger.settlementLockKey)) {
            throw SettlementError(
                code: .locked,
                message:
                    "another settlement run holds the lock on this database; nothing was changed — wait for it to finish (or use --wait)"
            )
        }
        defer { try? connection.advisoryUnlock(Ledger.settlementLockKey) }
        CrashPoint.reach("locked")
        try ledger.requireCurrentSchema()
        if options.dryRun {
            if let recorded = try ledger.recordedCampaign(), recorded != options.campaign {
                throw SettlementError(
                    code: .parametersChanged,
                    message:
                        "the campaign parameters differ from those recorded by the first run (\(Ledger.describe(recorded)))"
                )
            }
        } else {
            do {
                try ledger.recordOrCheckCampaign(options.campaign)
            } catch let error as LedgerError {
                throw SettlementError(code: .parametersChanged, message: error.message)
            }
        }

        var recovered: [Int64] = []
        if !options.dryRun {
            for run in try ledger.undeliveredRuns() {
                logger.notice("delivering the result files of a committed run", metadata: ["run_id": "\(run)"])
                try Delivery.deliver(run: run, ledger: ledger, folders: options.folders)
                recovered.append(run)
            }
        }

        CrashPoint.reach("recovered")
        var phases: [String: Double] = [:]
        var phaseStart = Date()
        func phase(_ name: String) {
            let now = Date()
            phases[name] = (now.timeIntervalSince(phaseStart) * 1000).rounded() / 1000
            phaseStart = now
        }
        let snapshot = try ledger.loadSnapshot()
        phase("snapshot")
        logger.info("registry snapshot loaded", metadata: ["holders": "\(snapshot.holderCount)"])
        let drop = try Drop.scan(inbox: options.folders.inbox)
        for name in drop.waiting {
            logger.info("file waiting for its other half", metadata: ["file": "\(name)"])
        }

        var intakes = try readFiles(drop.complete, snapshot: snapshot, options: options)
        phase("intake")
        CrashPoint.reach("intake")

        // Duplicates against earlier runs, in one set-based query.
        let earlier = try ledger.alreadySettled { writer in
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
        CrashPoint.reach("duplicates")
        Settle.markDuplicates(&intakes, earlier: earlier, workers: options.workers)
        phase("duplicates")
        let changes = Settle.awardPoints(
            &intakes, snapshot: snapshot, campaign: options.campaign, workers: options.workers)
        phase("points")
        options.progress?(.init(phase: "results", filesDone: intakes.count, files: intakes.count, records: 0))
        let results = try renderResults(intakes, workers: options.workers)
        phase("results")
        CrashPoint.reach("results")

        var summary = RunSummary(
            run_id: nil, dry_run: options.dryRun,
            started_at: RFC3339.format(Instant(secondsSinceEpoch: Int64(started.timeIntervalSince1970))),
            duration_seconds: 0, files: [], waiting: drop.waiting, settled_files: 0, quarantined_files: 0,
            already_settled_files: 0, records: 0, granted_records: 0, rejected_records: 0, points: 0,
            eligible_amount: 0,
            rejections: [:], recovered_runs: recovered)
        var registrations: [FileRegistration] = []
        for (intake, result) in zip(intakes, results) {
            let providerKey = intake.providerIndex >= 0 ? snapshot.providerKeys[Int(intake.providerIndex)] : nil
            var registration = FileRegistration(
                name: intake.file.name, providerKey: providerKey, sha256: intake.sha256, outcome: .settled)
            registration.amountTotal = intake.amountTotal
            var outcome = RunSummary.FileOutcome(
                file: intake.file.name, outcome: "settled", records: 0, granted_records: 0, points: 0)
            switch intake.verdict {
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
                    registration.outcomes.append(
                        (
                            reason.code, result.reasonCounts[Int(reason.rawValue)],
                            result.reasonPoints[Int(reason.rawValue)]
                        ))
                    if reason.isRejection {
                        summary.rejections[reason.code, default: 0] += result.reasonCounts[Int(reason.rawValue)]
                    }
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

        if !options.dryRun && !registrations.isEmpty {
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
                header, files: registrations, balances: balanceChanges, cap: options.campaign.capPoints
            ) {
                fileIDs, writer in
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
            phase("commit")
            CrashPoint.reach("committed")
            summary.run_id = runID
            logger.notice("run committed", metadata: ["run_id": "\(runID)", "points": "\(summary.points)"])
            options.progress?(
                .init(phase: "delivery", filesDone: intakes.count, files: intakes.count, records: summary.records))
            try Delivery.deliver(run: runID, ledger: ledger, folders: options.folders)
            phase("delivery")
        }
        summary.phase_seconds = phases
        summary.duration_seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Reads every complete file on `workers` threads (each with its own decompressor); results in name order.
    static func readFiles(
        _ files: [ProviderFile], snapshot: RegistrySnapshot, options: SettlementOptions
    ) throws -> [FileIntake] {
        let slots = Mutex<[FileIntake?]>(Array(repeating: nil, count: files.count))
        let next = Atomic<Int>(0)
        let records = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        let workers = max(1, min(options.workers, files.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let intake: Intake
            do {
                intake = try Intake(snapshot: snapshot, campaign: options.campaign)
            } catch {
                failure.withLock { $0 = $0 ?? error }
                return
            }
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < files.count else { return }
                let result = intake.read(files[index], inbox: options.folders.inbox)
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
            + "\"rounding\": \"\(c.rounding.rawValue)\", \"workers\": \(options.workers)}"
    }
}
