import Foundation
public import Ledger
import Rules

/// What a run did, for the operator, the summary file and the exit code (settlement spec §9).
///
/// Derived from the values the run's phases return (the inbox scan, the files' registrations, the commit and the
/// delivery), never counted on the side. Encoded with the snake_case keys of the summary file.
public struct RunSummary: Sendable, Codable {
    /// One file's outcome.
    public struct FileOutcome: Sendable, Codable {
        /// The data file's name.
        public var file: String
        /// How the file ended.
        public var outcome: FileRegistration.Outcome
        /// Result rows (settled files).
        public var records: Int
        /// Rows with status GRANTED.
        public var grantedRecords: Int
        /// Points granted.
        public var points: Int
        /// The quarantine code, or `ALREADY_SETTLED`.
        public var code: String?
        /// The quarantine sentence.
        public var message: String?
        /// The physical line at fault, when one line is.
        public var line: Int?

        enum CodingKeys: String, CodingKey {
            case file, outcome, records, points, code, message, line
            case grantedRecords = "granted_records"
        }

        /// The outcome of a registered file.
        init(_ file: FileRegistration) {
            self.file = file.name
            outcome = file.outcome
            records = file.records
            grantedRecords = file.grantedRecords
            points = file.points
            switch file.outcome {
            case .settled: break
            case .alreadySettled: code = "ALREADY_SETTLED"
            case .quarantined:
                code = file.quarantine?.code
                message = file.quarantine?.message
                line = file.quarantine?.line
            }
        }
    }

    /// The run's number (of the last run that committed, for an invocation); nil when nothing was committed.
    public var runID: Int64?
    /// Whether this was a dry run (nothing written).
    public var dryRun: Bool
    /// When the run started (RFC 3339).
    public var startedAt: String
    /// Seconds from the start through delivery.
    public var durationSeconds: Double
    /// Every decided file, in name order.
    public var files: [FileOutcome]
    /// Halves of pairs still waiting for the other half, and files that vanished while the run read them.
    public var waiting: [String]
    /// Files settled.
    public var settledFiles: Int
    /// Files quarantined.
    public var quarantinedFiles: Int
    /// Files skipped as settled before.
    public var alreadySettledFiles: Int
    /// Result rows of the settled files.
    public var records: Int
    /// Rows granted.
    public var grantedRecords: Int
    /// Rows rejected.
    public var rejectedRecords: Int
    /// Points granted.
    public var points: Int
    /// Eligible amount over the granted rows, yen.
    public var eligibleAmount: Int
    /// Rejected rows by reason code.
    public var rejections: [String: Int]
    /// Earlier runs whose delivery this invocation completed first.
    public var recoveredRuns: [Int64] = []
    /// Inbox entries named like no drop file, left alone.
    public var ignored: [String] = []
    /// Complete files left for a later run by `max_run_records` (only after `--once` or a dry run).
    public var deferred: [String] = []
    /// Inputs left in the inbox at delivery because they were replaced after the run read them.
    public var leftInInbox: [String] = []
    /// The runs of the invocation, one entry each (absent inside an entry).
    public var runs: [RunSummary]?
    /// Seconds spent in each phase of the run (snapshot, intake, duplicates, points, results, commit, delivery).
    public var phaseSeconds: [String: Double] = [:]

    enum CodingKeys: String, CodingKey {
        case files, waiting, records, points, rejections, ignored, deferred, runs
        case runID = "run_id"
        case dryRun = "dry_run"
        case startedAt = "started_at"
        case durationSeconds = "duration_seconds"
        case settledFiles = "settled_files"
        case quarantinedFiles = "quarantined_files"
        case alreadySettledFiles = "already_settled_files"
        case grantedRecords = "granted_records"
        case rejectedRecords = "rejected_records"
        case eligibleAmount = "eligible_amount"
        case recoveredRuns = "recovered_runs"
        case leftInInbox = "left_in_inbox"
        case phaseSeconds = "phase_seconds"
    }

    /// The exit code of §9: 0 when every complete file was settled (or had been), 3 when some was quarantined.
    public var exitCode: Int32 { quarantinedFiles > 0 ? 3 : 0 }

    /// The summary of one run, from what its phases returned.
    init(
        started: Date, dryRun: Bool, inbox: ScannedInbox, files registrations: [FileRegistration], vanished: [String],
        committed: DeliveredRun?, phaseSeconds: [String: Double]
    ) {
        runID = committed?.runID
        self.dryRun = dryRun
        startedAt = RFC3339.format(Instant(secondsSinceEpoch: Int64(started.timeIntervalSince1970)))
        durationSeconds = Date().timeIntervalSince(started)
        files = registrations.map(FileOutcome.init)
        waiting = inbox.drop.waiting + vanished
        ignored = inbox.drop.ignored
        deferred = inbox.admission.deferred
        leftInInbox = committed?.delivered.leftInInbox ?? []
        self.phaseSeconds = phaseSeconds
        let settled = registrations.filter { $0.outcome == .settled }
        settledFiles = settled.count
        quarantinedFiles = registrations.count { $0.outcome == .quarantined }
        alreadySettledFiles = registrations.count { $0.outcome == .alreadySettled }
        records = settled.reduce(0) { $0 + $1.records }
        grantedRecords = settled.reduce(0) { $0 + $1.grantedRecords }
        rejectedRecords = settled.reduce(0) { $0 + $1.rejectedRecords }
        points = settled.reduce(0) { $0 + $1.points }
        eligibleAmount = settled.reduce(0) { $0 + $1.eligibleAmount }
        rejections = [:]
        for tally in settled.flatMap(\.tallies) where tally.reason.isRejection {
            rejections[tally.reason.code, default: 0] += tally.records
        }
    }

    /// The invocation's totals over its runs, with each run under `runs`.
    static func combining(_ runs: [RunSummary], started: Date, recovered: [Int64]) -> RunSummary {
        var total = runs.last!
        total.startedAt = runs[0].startedAt
        total.files = runs.flatMap(\.files)
        total.leftInInbox = runs.flatMap(\.leftInInbox)
        for keyPath in [
            \RunSummary.settledFiles, \.quarantinedFiles, \.alreadySettledFiles, \.records, \.grantedRecords,
            \.rejectedRecords, \.points, \.eligibleAmount,
        ] {
            total[keyPath: keyPath] = runs.reduce(0) { $0 + $1[keyPath: keyPath] }
        }
        total.rejections = runs.reduce(into: [:]) { sum, run in sum.merge(run.rejections, uniquingKeysWith: +) }
        total.phaseSeconds = runs.reduce(into: [:]) { sum, run in sum.merge(run.phaseSeconds, uniquingKeysWith: +) }
        total.runID = runs.last(where: { $0.runID != nil })?.runID
        total.durationSeconds = Date().timeIntervalSince(started)
        total.recoveredRuns = recovered
        total.runs = runs
        return total
    }
}
