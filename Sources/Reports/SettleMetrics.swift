public import Foundation
import Rules

/// The metrics of one `settle` invocation in Prometheus text exposition format, for node_exporter's textfile
/// collector: written after every invocation (also a failed or skipped one), replacing the previous file
/// atomically, so the collector never reads half a file.
public struct SettleMetrics: Sendable {
    /// The invocation's exit code (0 ok, 3 quarantine, 75 skipped for the lock, 1 failure).
    public var exitCode: Int32
    /// Seconds from start to end of the invocation.
    public var durationSeconds: Double
    /// When it ended.
    public var finishedAt: Date
    /// The committed run's number, if one committed.
    public var runID: Int64?
    /// Files by outcome: `settled`, `quarantined`, `already_settled`, `waiting`.
    public var files: [String: Int] = [:]
    /// Data lines by result reason code (`""` for an unqualified grant).
    public var records: [String: Int] = [:]
    /// Points granted.
    public var points = 0
    /// Eligible amount, yen.
    public var eligibleAmount = 0
    /// The end of the last invocation that completed a run (exit 0 or 3), carried over from the previous file
    /// when this one did not.
    public var lastSuccess: Date?

    /// Metrics of an invocation.
    public init(exitCode: Int32, durationSeconds: Double, finishedAt: Date) {
        self.exitCode = exitCode
        self.durationSeconds = durationSeconds
        self.finishedAt = finishedAt
    }

    /// True for the exit codes of an invocation that completed (0 all settled, 3 some file quarantined).
    public var succeeded: Bool { exitCode == 0 || exitCode == 3 }

    /// The exposition text.
    public var text: String {
        var out = ""
        func metric(
            _ name: String, _ help: String, _ samples: [(labels: String, value: String)], type: String = "gauge"
        ) {
            out += "# HELP mynapoint_settle_\(name) \(help)\n# TYPE mynapoint_settle_\(name) \(type)\n"
            for sample in samples {
                out += "mynapoint_settle_\(name)\(sample.labels.isEmpty ? "" : "{\(sample.labels)}") \(sample.value)\n"
            }
        }
        let reasons = Reason.allCases.map { reason in
            (
                labels:
                    "outcome=\"\(reason.isRejection ? "rejected" : "granted")\",reason=\"\(reason == .none ? "none" : reason.code)\"",
                value: String(records[reason.code] ?? 0)
            )
        }
        metric("records", "Data lines of the last settle invocation by result outcome and reason.", reasons)
        metric(
            "files", "Files of the last settle invocation by outcome.",
            ["settled", "quarantined", "already_settled", "waiting"].map {
                (labels: "outcome=\"\($0)\"", value: String(files[$0] ?? 0))
            })
        metric("points", "Points granted by the last settle invocation.", [("", String(points))])
        metric(
            "eligible_amount_yen", "Eligible amount of the last settle invocation, yen.", [("", String(eligibleAmount))]
        )
        metric(
            "duration_seconds", "Duration of the last settle invocation.",
            [("", String(format: "%.3f", durationSeconds))])
        metric(
            "exit_code", "Exit code of the last settle invocation (0 ok, 3 quarantine, 75 locked, 1 failure).",
            [("", String(exitCode))])
        metric("run_id", "Run committed by the last settle invocation (0 when none).", [("", String(runID ?? 0))])
        metric(
            "last_run_timestamp_seconds", "Unix time the last settle invocation ended.",
            [("", String(format: "%.3f", finishedAt.timeIntervalSince1970))])
        let success = succeeded ? finishedAt : lastSuccess
        metric(
            "last_success_timestamp_seconds",
            "Unix time the last settle invocation that completed (exit 0 or 3) ended.",
            [("", success.map { String(format: "%.3f", $0.timeIntervalSince1970) } ?? "0")])
        return out
    }

    /// The last-success time recorded in an earlier metrics file's text, if any.
    public static func lastSuccess(inPrevious text: String) -> Date? {
        for line in text.split(separator: "\n") where line.hasPrefix("mynapoint_settle_last_success_timestamp_seconds ")
        {
            if let value = Double(line.split(separator: " ").last ?? ""), value > 0 {
                return Date(timeIntervalSince1970: value)
            }
        }
        return nil
    }

    /// Writes the text to `path` atomically: a temporary file beside it (not ending in `.prom`, so the collector
    /// ignores it), flushed, then renamed over the old file.
    ///
    /// Carries the last success over from the old file.
    public func write(to path: String) throws {
        var metrics = self
        if metrics.lastSuccess == nil, let previous = FileManager.default.contents(atPath: path) {
            metrics.lastSuccess = Self.lastSuccess(inPrevious: String(decoding: previous, as: UTF8.self))
        }
        let temporary = path + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(metrics.text.utf8)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        if let handle = FileHandle(forWritingAtPath: temporary) {
            try? handle.synchronize()
            try? handle.close()
        }
        // The collector runs as another user: the file must be readable whatever the umask.
        try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: temporary)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw CocoaError(
                .fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: reason])
        }
    }
}
