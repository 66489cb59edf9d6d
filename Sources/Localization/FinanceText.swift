/// What a finance officer reads: the reconciliation report (text and HTML), the provider statement's human header,
/// the run history and the audit's lines.
///
/// Values arrive formatted for the language (dates, yen, points), so a message only places them; codes, check
/// names, file names and field names pass through unchanged in both languages.
public enum FinanceText: LocalizedMessage, Equatable {
    // MARK: Reconciliation report

    /// The page title, with the period.
    case reportTitle(period: String)
    /// The report's heading.
    case reportHeading
    /// The period when not limited.
    case periodAll
    /// Runs committed from a date on.
    case periodFrom(String)
    /// Runs committed up to a date.
    case periodUpTo(String)
    /// Runs committed between two dates.
    case periodBetween(String, String)
    /// When the report was made.
    case generated(String)
    /// The verdict when every check holds.
    case allChecksPass(checks: Int)
    /// The verdict when some checks fail, naming them.
    case checksFail(failing: Int, checks: Int, names: String)
    /// Card: points owed.
    case cardPointsOwed
    /// Card: eligible amount.
    case cardEligibleAmount
    /// Card: records settled.
    case cardRecordsSettled
    /// Card: records granted.
    case cardRecordsGranted
    /// Card: files settled.
    case cardFilesSettled
    /// Card: files quarantined.
    case cardFilesQuarantined
    /// Card: holders at the cap.
    case cardHoldersAtCap
    /// Heading of the checks.
    case checksHeading
    /// A check's name for people (`conservation`, `points`, `cap`).
    case checkName(String)
    /// A passing verdict.
    case verdictPass
    /// A failing verdict.
    case verdictFail
    /// The conservation check holds over every settled file.
    case conservationHolds(files: Int, lines: Int)
    /// The conservation check fails for some files.
    case conservationBroken(unbalanced: Int, files: Int)
    /// The four point sums that must agree.
    case pointSums(grants: Int, ledger: Int, resultControls: Int, files: Int)
    /// No holder is above the cap.
    case capHolds(cap: Int?)
    /// Some holders are above the cap.
    case capBroken(holders: Int, cap: Int?)
    /// Heading of the per-provider section.
    case providersHeading
    /// Chart title: points per provider.
    case chartPointsPerProvider
    /// Heading of the per-month section.
    case monthsHeading
    /// Chart title: points per month.
    case chartPointsPerMonth
    /// A month's subtotal row.
    case allProvidersRow
    /// Heading of the rejections.
    case rejectionsHeading
    /// No rejection in the period.
    case noRejections
    /// Chart title: rejections by reason.
    case chartRejections
    /// Heading of the quarantined files.
    case quarantineHeading
    /// No quarantined file in the period.
    case noQuarantine
    /// A chart without data.
    case chartNoData
    /// A month chart without runs.
    case chartNoRuns
    /// The page's footnote.
    case reportFooter

    // MARK: Column headings

    /// Column: check.
    case columnCheck
    /// Column: verdict.
    case columnVerdict
    /// Column: detail.
    case columnDetail
    /// Column: provider.
    case columnProvider
    /// Column: provider ID.
    case columnProviderID
    /// Column: provider name.
    case columnProviderName
    /// Column: month.
    case columnMonth
    /// Column: runs.
    case columnRuns
    /// Column: files.
    case columnFiles
    /// Column: records.
    case columnRecords
    /// Column: granted records.
    case columnGranted
    /// Column: rejected records.
    case columnRejected
    /// Column: points.
    case columnPoints
    /// Column: points claimed (the statement).
    case columnPointsClaimed
    /// Column: running total of points.
    case columnCumulativePoints
    /// Column: eligible amount in yen.
    case columnEligibleAmount
    /// Column: rejection reason.
    case columnReason
    /// Column: run.
    case columnRun
    /// Column: file.
    case columnFile
    /// Column: code.
    case columnCode
    /// Row: the total.
    case total

    // MARK: Run history

    /// No committed run yet.
    case noRuns
    /// Column: when the run was committed.
    case columnCommitted
    /// Column: quarantined files (short).
    case columnQuarantinedShort
    /// Column: already settled files (short).
    case columnSkippedShort
    /// Column: duration.
    case columnDuration
    /// Column: delivered or not.
    case columnDelivered
    /// Column: who started the run.
    case columnStartedBy
    /// Column: a file's outcome.
    case columnOutcome
    /// Column: a note.
    case columnNote
    /// Delivered.
    case delivered
    /// Not delivered.
    case notDelivered
    /// A duration not known yet.
    case durationPending
    /// A duration in milliseconds.
    case duration(milliseconds: Int)
    /// A duration measured from the lock through delivery.
    case durationThroughDelivery(String)
    /// No duration yet: the run is not delivered.
    case durationPendingDetail
    /// No duration: a later settle delivered the run.
    case durationUnknown
    /// The heading of `runs show`.
    case runHeading(Int64)
    /// A field of `runs show`.
    case runField(RunField)
    /// The run's result files are not delivered yet.
    case notDeliveredYet
    /// Files settled, quarantined and already settled.
    case runFiles(settled: Int, quarantined: Int, alreadySettled: Int)
    /// Records, with the granted ones.
    case runRecords(records: String, granted: String)
    /// The line of a quarantined file that decided it.
    case quarantineLine(Int)
    /// A file's outcome in a run (`settled`, `quarantined` …).
    case fileOutcome(String)

    // MARK: Audit

    /// One difference: subject, field, expected and found.
    case difference(subject: String, field: String, expected: String, found: String)
    /// The audit's summary line.
    case verifySummary(
        holders: Int, files: Int, lines: Int, grants: Int, resultFilesOnDisk: Int, differences: Int,
        undeliveredRuns: [Int64])

    /// A labelled field of `runs show`.
    public enum RunField: String, Sendable, CaseIterable, Equatable {
        /// When it started.
        case started
        /// When it committed.
        case committed
        /// When it was delivered.
        case delivered
        /// How long it took.
        case duration
        /// Who started it.
        case startedBy
        /// Where it ran.
        case host
        /// The program's version.
        case version
        /// Its parameters.
        case parameters
        /// Its files.
        case files
        /// Its records.
        case records
        /// Its points.
        case points
        /// Its outcomes.
        case outcomes
    }

    /// The kind of a finance message.
    public enum Key: CaseIterable, Hashable, Sendable {
        case reportTitle, reportHeading, periodAll, periodFrom, periodUpTo, periodBetween, generated
        case allChecksPass, checksFail
        case cardPointsOwed, cardEligibleAmount, cardRecordsSettled, cardRecordsGranted, cardFilesSettled
        case cardFilesQuarantined, cardHoldersAtCap
        case checksHeading, checkName, verdictPass, verdictFail
        case conservationHolds, conservationBroken, pointSums, capHolds, capBroken
        case providersHeading, chartPointsPerProvider, monthsHeading, chartPointsPerMonth, allProvidersRow
        case rejectionsHeading, noRejections, chartRejections, quarantineHeading, noQuarantine
        case chartNoData, chartNoRuns, reportFooter
        case columnCheck, columnVerdict, columnDetail, columnProvider, columnProviderID, columnProviderName
        case columnMonth, columnRuns, columnFiles, columnRecords, columnGranted, columnRejected, columnPoints
        case columnPointsClaimed, columnCumulativePoints, columnEligibleAmount, columnReason, columnRun
        case columnFile, columnCode, total
        case noRuns, columnCommitted, columnQuarantinedShort, columnSkippedShort, columnDuration
        case columnDelivered, columnStartedBy, columnOutcome, columnNote, delivered, notDelivered
        case durationPending, duration, durationThroughDelivery, durationPendingDetail, durationUnknown
        case runHeading, runField, notDeliveredYet, runFiles, runRecords, quarantineLine, fileOutcome
        case difference, verifySummary
    }

    /// The message's kind.
    public var key: Key {
        switch self {
        case .reportTitle: .reportTitle
        case .reportHeading: .reportHeading
        case .periodAll: .periodAll
        case .periodFrom: .periodFrom
        case .periodUpTo: .periodUpTo
        case .periodBetween: .periodBetween
        case .generated: .generated
        case .allChecksPass: .allChecksPass
        case .checksFail: .checksFail
        case .cardPointsOwed: .cardPointsOwed
        case .cardEligibleAmount: .cardEligibleAmount
        case .cardRecordsSettled: .cardRecordsSettled
        case .cardRecordsGranted: .cardRecordsGranted
        case .cardFilesSettled: .cardFilesSettled
        case .cardFilesQuarantined: .cardFilesQuarantined
        case .cardHoldersAtCap: .cardHoldersAtCap
        case .checksHeading: .checksHeading
        case .checkName: .checkName
        case .verdictPass: .verdictPass
        case .verdictFail: .verdictFail
        case .conservationHolds: .conservationHolds
        case .conservationBroken: .conservationBroken
        case .pointSums: .pointSums
        case .capHolds: .capHolds
        case .capBroken: .capBroken
        case .providersHeading: .providersHeading
        case .chartPointsPerProvider: .chartPointsPerProvider
        case .monthsHeading: .monthsHeading
        case .chartPointsPerMonth: .chartPointsPerMonth
        case .allProvidersRow: .allProvidersRow
        case .rejectionsHeading: .rejectionsHeading
        case .noRejections: .noRejections
        case .chartRejections: .chartRejections
        case .quarantineHeading: .quarantineHeading
        case .noQuarantine: .noQuarantine
        case .chartNoData: .chartNoData
        case .chartNoRuns: .chartNoRuns
        case .reportFooter: .reportFooter
        case .columnCheck: .columnCheck
        case .columnVerdict: .columnVerdict
        case .columnDetail: .columnDetail
        case .columnProvider: .columnProvider
        case .columnProviderID: .columnProviderID
        case .columnProviderName: .columnProviderName
        case .columnMonth: .columnMonth
        case .columnRuns: .columnRuns
        case .columnFiles: .columnFiles
        case .columnRecords: .columnRecords
        case .columnGranted: .columnGranted
        case .columnRejected: .columnRejected
        case .columnPoints: .columnPoints
        case .columnPointsClaimed: .columnPointsClaimed
        case .columnCumulativePoints: .columnCumulativePoints
        case .columnEligibleAmount: .columnEligibleAmount
        case .columnReason: .columnReason
        case .columnRun: .columnRun
        case .columnFile: .columnFile
        case .columnCode: .columnCode
        case .total: .total
        case .noRuns: .noRuns
        case .columnCommitted: .columnCommitted
        case .columnQuarantinedShort: .columnQuarantinedShort
        case .columnSkippedShort: .columnSkippedShort
        case .columnDuration: .columnDuration
        case .columnDelivered: .columnDelivered
        case .columnStartedBy: .columnStartedBy
        case .columnOutcome: .columnOutcome
        case .columnNote: .columnNote
        case .delivered: .delivered
        case .notDelivered: .notDelivered
        case .durationPending: .durationPending
        case .duration: .duration
        case .durationThroughDelivery: .durationThroughDelivery
        case .durationPendingDetail: .durationPendingDetail
        case .durationUnknown: .durationUnknown
        case .runHeading: .runHeading
        case .runField: .runField
        case .notDeliveredYet: .notDeliveredYet
        case .runFiles: .runFiles
        case .runRecords: .runRecords
        case .quarantineLine: .quarantineLine
        case .fileOutcome: .fileOutcome
        case .difference: .difference
        case .verifySummary: .verifySummary
        }
    }
}
