import ArgumentParser
import Foundation
import Ledger
import Reports
import Rules
import Settlement

struct Settle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Settles the complete files in the inbox: one run, committed exactly once.",
        discussion: """
            Runs one atomic run after another until nothing settleable is left: each run admits complete files in name
            order while the records their control files declare stay within max_run_records (--once stops after one).
            Exit codes: 0 every complete file settled (or settled before); 3 some file quarantined; 75 another run
            holds the lock (nothing changed); 1 failure (nothing of the failing run committed; rerun after fixing the
            cause); 5 a run is committed but its delivery failed (the next settle delivers it first).
            With --metrics-file, every invocation (also a failed or skipped one) replaces that file atomically with
            its metrics in Prometheus text format, for node_exporter's textfile collector.
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(help: Configuration.optionHelp) var config: String?
    @Option(help: "Folder providers drop files into.") var inbox: String?
    @Option(help: "Folder result files are written to, per provider.") var outbox: String?
    @Option(help: "Folder settled inputs are moved to, per provider.") var archive: String?
    @Option(help: "Folder bad files are moved to, with a reason file.") var quarantine: String?
    @Option(help: "Intake threads (default: the machine's cores).") var workers: Int?
    @Option(
        name: .customLong("commit-connections"),
        help: "Connections a run's grants are written over in parallel (default: the machine's cores).")
    var commitConnections: Int?
    @Option(name: .customLong("summary-json"), help: "Write the run's summary as JSON to this file.") var summaryJSON:
        String?
    @Flag(name: .customLong("dry-run"), help: "Do everything but write: print what would be granted.") var dryRun =
        false
    @Flag(help: "Wait for another run to finish instead of exiting with 75.") var wait = false
    @Flag(help: "Stop after one run, even when files were left for a later run by max_run_records.") var once = false
    @OptionGroup var fileLimits: FileLimitOptions
    @Option(name: .customLong("max-run-records"), help: "Most records admitted into one run (default 20000000).")
    var maxRunRecords: Int?
    @Option(
        name: .customLong("metrics-file"),
        help:
            "Write this invocation's metrics here in Prometheus text format (e.g. …/textfile_collector/mynapoint.prom)."
    )
    var metricsFile: String?

    @Option(name: .customLong("rate-percent"), help: "Premium rate (default 25).") var ratePercent: Int?
    @Option(name: .customLong("cap-points"), help: "Points cap per holder (default 5000).") var capPoints: Int?
    @Option(name: .customLong("window-start"), help: "First instant a record may occur (RFC 3339).") var windowStart:
        String?
    @Option(name: .customLong("window-end"), help: "End of the window, exclusive (RFC 3339).") var windowEnd: String?
    @Option(help: "per_record or cumulative.") var rounding: String?

    func validate() throws {
        if let workers, workers < 1 || workers > 256 { throw ValidationError("--workers must be 1–256") }
        if let commitConnections, commitConnections < 1 || commitConnections > 64 {
            throw ValidationError("--commit-connections must be 1–64")
        }
        if let rounding, Rounding(rawValue: rounding) == nil {
            throw ValidationError("--rounding must be per_record or cumulative")
        }
        if let windowStart, RFC3339.parse(windowStart) == nil {
            throw ValidationError("--window-start must be RFC 3339 with seconds and offset")
        }
        if let windowEnd, RFC3339.parse(windowEnd) == nil {
            throw ValidationError("--window-end must be RFC 3339 with seconds and offset")
        }
        if let maxRunRecords, maxRunRecords < 1 {
            throw ValidationError("--max-run-records must be a positive whole number")
        }
        // Out-of-range values given here are usage errors (64), as `check` reports them, not failed runs (1).
        let limits = commandLineLimits(over: Limits())
        if let problem = limits.validationError {
            throw ValidationError(
                "--" + problem.dropFirst("limits.".count).replacingOccurrences(of: "_", with: "-"))
        }
        var campaign = Campaign.mynapoint2020
        if let ratePercent { campaign.ratePercent = ratePercent }
        if let capPoints { campaign.capPoints = capPoints }
        if let windowStart, let windowEnd {
            campaign.windowStart = RFC3339.parse(windowStart)!
            campaign.windowEnd = RFC3339.parse(windowEnd)!
        }
        if let problem = campaign.validationError {
            throw ValidationError(
                "--" + problem.replacingOccurrences(of: "_", with: "-"))
        }
    }

    func run() throws {
        let started = Date()
        var ledger: Ledger?
        let summary: RunSummary
        do {
            if let summaryJSON {
                // Checked before the run: once it commits, exit 1 ("nothing committed") would no longer be true.
                let folder = (summaryJSON as NSString).deletingLastPathComponent
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isFolder),
                    isFolder.boolValue, FileManager.default.isWritableFile(atPath: folder.isEmpty ? "." : folder)
                else {
                    throw Output.fail(
                        "cannot write the summary to \(summaryJSON): its folder does not exist or is not writable; nothing was settled — give --summary-json a path in a writable folder"
                    )
                }
            }
            summary = try settle(&ledger)
        } catch let exit as ExitCode {
            recordMetrics(started: started, exitCode: exit.rawValue, summary: nil, ledger: nil)
            throw exit
        }
        if let summaryJSON {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                try (encoder.encode(summary) + Data("\n".utf8)).write(
                    to: URL(fileURLWithPath: summaryJSON), options: .atomic)
            } catch {
                recordMetrics(started: started, exitCode: 1, summary: summary, ledger: ledger)
                throw Output.fail(
                    "the run \(summary.runID.map(String.init) ?? "") completed but the summary could not be written to \(summaryJSON): \(error)"
                )
            }
        }
        printSummary(summary)
        recordMetrics(started: started, exitCode: summary.exitCode, summary: summary, ledger: ledger)
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    /// `limits` with the values given on the command line.
    private func commandLineLimits(over limits: Limits) -> Limits {
        var result = fileLimits.applied(to: limits)
        if let maxRunRecords { result.maxRunRecords = maxRunRecords }
        return result
    }

    /// One run; every failure leaves as an `ExitCode` after its one line on standard error.
    private func settle(_ opened: inout Ledger?) throws -> RunSummary {
        let logger = database.logger("mynapoint.settle")
        let summary: RunSummary
        do {
            let file = try Configuration.load(path: config)?.0 ?? Configuration()
            var campaign = try file.resolvedCampaign()
            if let ratePercent { campaign.ratePercent = ratePercent }
            if let capPoints { campaign.capPoints = capPoints }
            if let windowStart { campaign.windowStart = RFC3339.parse(windowStart)! }
            if let windowEnd { campaign.windowEnd = RFC3339.parse(windowEnd)! }
            if let rounding { campaign.rounding = Rounding(rawValue: rounding)! }
            func folder(_ option: String?, _ configured: String?, _ name: String) throws -> String {
                guard let path = option ?? configured else {
                    throw Output.fail("no \(name) folder: give --\(name) or set folders.\(name) in the configuration")
                }
                return path
            }
            let folders = DropFolders(
                inbox: try folder(inbox, file.folders?.inbox, "inbox"),
                outbox: try folder(outbox, file.folders?.outbox, "outbox"),
                archive: try folder(archive, file.folders?.archive, "archive"),
                quarantine: try folder(quarantine, file.folders?.quarantine, "quarantine"))
            var options = SettlementOptions(
                folders: folders, campaign: campaign,
                workers: workers ?? file.workers ?? ProcessInfo.processInfo.activeProcessorCount)
            options.commitConnections =
                commitConnections ?? file.commitConnections ?? ProcessInfo.processInfo.activeProcessorCount
            options.dryRun = dryRun
            options.waitForLock = wait
            options.once = once
            options.limits = commandLineLimits(over: file.limits ?? Limits())
            options.version = Mynapoint.version
            options.providerLanguage = try file.resolvedProviderLanguage()
            if Output.standardErrorIsTerminal { options.progress = ProgressLine.shared.update }
            let ledger = try Ledger(url: database.url ?? file.databaseURL)
            opened = ledger
            summary = try SettlementRun.run(ledger: ledger, options: options, logger: logger)
            ProgressLine.shared.clear()
        } catch let error as SettlementError where error.code == .locked {
            throw Output.fail(error.message, code: 75)
        } catch let error as SettlementError where error.code == .deliveryPending {
            ProgressLine.shared.clear()
            throw Output.fail(error.message, code: 5)
        } catch let error as SettlementError where !error.committedRuns.isEmpty {
            ProgressLine.shared.clear()
            let runs = error.committedRuns.map(String.init).joined(separator: ", ")
            throw Output.fail(
                "settlement stopped: run(s) \(runs) of this invocation were committed and delivered, but the next run failed and nothing of it was committed: \(error.message)"
            )
        } catch let exit as ExitCode {
            throw exit
        } catch {
            ProgressLine.shared.clear()
            throw Output.fail("settlement failed, nothing was committed: \(error)")
        }
        return summary
    }

    /// Writes the metrics file, when asked; a failure to write it is reported but does not change the exit code.
    private func recordMetrics(started: Date, exitCode: Int32, summary: RunSummary?, ledger: Ledger?) {
        guard let metricsFile else { return }
        let now = Date()
        var metrics = SettleMetrics(
            exitCode: exitCode, durationSeconds: now.timeIntervalSince(started), finishedAt: now)
        if let s = summary {
            metrics.runID = s.runID
            metrics.files = [
                "settled": s.settledFiles, "quarantined": s.quarantinedFiles,
                "already_settled": s.alreadySettledFiles, "waiting": s.waiting.count,
            ]
            metrics.points = s.points
            metrics.eligibleAmount = s.eligibleAmount
            if let run = s.runID, let ledger, let outcomes = try? RunHistory.outcomes(ledger: ledger, run: run) {
                for (reason, count) in outcomes { metrics.records[reason == "GRANTED" ? "" : reason] = count }
            } else {
                // A dry run has no outcomes in the database; cap reasons are then counted as plain grants.
                metrics.records = s.rejections
                metrics.records[""] = s.grantedRecords
            }
        }
        do {
            try metrics.write(to: metricsFile)
        } catch {
            FileHandle.standardError.write(
                Data(
                    ("mynapoint: warning: cannot write the metrics file \(metricsFile): \(error); "
                        + "check the folder and its permissions\n").utf8))
        }
    }

    private func printSummary(_ s: RunSummary) {
        let head = s.dryRun ? "dry run (nothing written)" : (s.runID.map { "run \($0)" } ?? "nothing to settle")
        print(
            "\(head): \(s.settledFiles) files settled, \(s.quarantinedFiles) quarantined, \(s.alreadySettledFiles) already settled, \(s.waiting.count) waiting"
        )
        print(
            "records \(s.records): granted \(s.grantedRecords), rejected \(s.rejectedRecords); points \(s.points) on \(s.eligibleAmount) yen eligible"
        )
        if !s.rejections.isEmpty {
            print(
                "rejections: "
                    + s.rejections.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for file in s.files where file.outcome == .quarantined {
            print("quarantined \(file.file): \(file.code ?? "") \(file.message ?? "")")
        }
        if let runs = s.runs, runs.count > 1 {
            print("in \(runs.count) runs: \(runs.compactMap(\.runID).map(String.init).joined(separator: ", "))")
        }
        if !s.deferred.isEmpty {
            print("left for a later run (max_run_records): \(s.deferred.count) file(s), first \(s.deferred[0])")
        }
        for name in s.leftInInbox {
            print("left in the inbox: \(name) was replaced after the run read it; the next run treats it as a new drop")
        }
        if !s.ignored.isEmpty {
            print(
                "ignored \(s.ignored.count) inbox entr\(s.ignored.count == 1 ? "y" : "ies") named like no drop file: \(s.ignored.prefix(5).joined(separator: ", "))"
            )
        }
        if !s.recoveredRuns.isEmpty {
            print(
                "delivered the results of earlier run(s) \(s.recoveredRuns.map(String.init).joined(separator: ", "))")
        }
        let phases = RunPhase.allCases.map(\.rawValue)
            .compactMap { name in s.phaseSeconds[name].map { String(format: "%@ %.2f", name, $0) } }
        print(
            String(format: "took %.2f s", s.durationSeconds)
                + (phases.isEmpty ? "" : " (" + phases.joined(separator: ", ") + ")"))
    }
}

/// A progress line on a terminal, rewritten in place at most five times a second: phase, files read, records,
/// rate and an estimate of the time left.
///
/// Nothing when standard error is not a terminal (the caller installs it
/// only then), so logs and cron mails stay clean.
final class ProgressLine: @unchecked Sendable {  // every field is guarded by `lock`
    static let shared = ProgressLine()
    private let lock = NSLock()
    private var last = Date.distantPast
    private var started: Date?
    private var shown = false
    private var filesRead = 0
    private var records = 0

    @Sendable func update(_ progress: SettlementOptions.Progress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        if started == nil { started = now }
        // Workers finish files out of order: count reports rather than trusting the index, keep the largest total.
        if progress.phase == .intake {
            filesRead += 1
            records = max(records, progress.records)
        }
        guard now.timeIntervalSince(last) > 0.2 || progress.phase != .intake else { return }
        last = now
        let elapsed = now.timeIntervalSince(started ?? now)
        let done = progress.phase == .intake ? min(filesRead, progress.files) : progress.filesDone
        let total = NumberFormatting.grouped(max(records, progress.records))
        var line = "\(progress.phase.rawValue): files \(done)/\(progress.files), records \(total)"
        if progress.phase == .intake && done > 0 && elapsed > 0.5 {
            let rate = Double(records) / elapsed
            let left = elapsed / Double(done) * Double(progress.files - done)
            line += ", \(NumberFormatting.grouped(Int(rate))) records/s, about \(Self.clock(left)) left"
        }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        shown = true
    }

    /// Seconds as `42 s` or `3 min 05 s`.
    static func clock(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        return whole < 60 ? "\(whole) s" : String(format: "%d min %02d s", whole / 60, whole % 60)
    }

    func clear() {
        lock.lock()
        defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}
