import Localization
import Testing

/// The finance catalogue: every message in both languages, with the same figures, codes and field names.
@Suite struct FinanceMessageTests {
    static let samples: [FinanceText] =
        [
            .reportTitle(period: "2021-03-01 – 2021-03-31"), .reportHeading, .periodAll, .periodFrom("2021-03-01"),
            .periodUpTo("2021-03-31"), .periodBetween("2021-03-01", "2021-03-31"),
            .generated("2021-03-31T12:00:05+09:00"), .allChecksPass(checks: 3),
            .checksFail(failing: 1, checks: 4, names: "cap"), .cardPointsOwed, .cardEligibleAmount,
            .cardRecordsSettled, .cardRecordsGranted, .cardFilesSettled, .cardFilesQuarantined, .cardHoldersAtCap,
            .checksHeading, .checkName("conservation"), .checkName("points"), .checkName("cap"), .verdictPass,
            .verdictFail, .conservationHolds(files: 4, lines: 400), .conservationBroken(unbalanced: 2, files: 4),
            .pointSums(grants: 12_345, ledger: 12_345, resultControls: 12_340, files: 12_345),
            .capHolds(cap: 30_000), .capHolds(cap: nil), .capBroken(holders: 2, cap: 30_000),
            .capBroken(holders: 3, cap: nil), .providersHeading, .chartPointsPerProvider, .monthsHeading,
            .chartPointsPerMonth, .allProvidersRow, .rejectionsHeading, .noRejections, .chartRejections,
            .quarantineHeading, .noQuarantine, .chartNoData, .chartNoRuns, .reportFooter,
            .columnCheck, .columnVerdict, .columnDetail, .columnProvider, .columnProviderID, .columnProviderName,
            .columnMonth, .columnRuns, .columnFiles, .columnRecords, .columnGranted, .columnRejected, .columnPoints,
            .columnPointsClaimed, .columnCumulativePoints, .columnEligibleAmount, .columnReason, .columnRun,
            .columnFile, .columnCode, .total,
            .noRuns, .columnCommitted, .columnQuarantinedShort, .columnSkippedShort, .columnDuration,
            .columnDelivered, .columnStartedBy, .columnOutcome, .columnNote, .delivered, .notDelivered,
            .durationPending, .duration(milliseconds: 1_500), .duration(milliseconds: 125_000),
            .durationThroughDelivery("2.5 s"), .durationPendingDetail, .durationUnknown, .runHeading(7),
            .notDeliveredYet, .runFiles(settled: 3, quarantined: 1, alreadySettled: 0),
            .runRecords(records: "1,234", granted: "1,200"), .quarantineLine(12), .fileOutcome("settled"),
            .fileOutcome("quarantined"),
            .fileOutcome("already_settled"),
            .difference(
                subject: "holder AAAA0009 (holder_key 9)", field: "ledger.points", expected: "120", found: "none"),
            .difference(
                subject: "file P0001_20210301_001.csv.zst", field: "outbox P0001/x.csv.zst", expected: "present",
                found: "missing"),
            .verifySummary(
                holders: 3, files: 2, lines: 40, grants: 38, resultFilesOnDisk: 2, differences: 1, undeliveredRuns: [7]),
            .verifySummary(
                holders: 3, files: 2, lines: 40, grants: 38, resultFilesOnDisk: 0, differences: 0, undeliveredRuns: []),
        ] + FinanceText.RunField.allCases.map(FinanceText.runField)

    @Test func everyMessageInBothLanguages() {
        checkParity(Self.samples)
    }

    /// The English texts are those the reports printed before they spoke Japanese: scripts and tests read them.
    @Test func englishIsUnchanged() {
        #expect(
            FinanceText.verifySummary(
                holders: 3, files: 2, lines: 40, grants: 38, resultFilesOnDisk: 0, differences: 2,
                undeliveredRuns: [7, 8]
            ).english == "verified 3 holders, 2 settled files (40 lines, 38 grant rows): 2 differences"
                + " (run 7, 8 not delivered yet: run settle)")
        #expect(FinanceText.duration(milliseconds: 1_500).english == "1.5 s")
        #expect(FinanceText.duration(milliseconds: 125_000).english == "2 min 05 s")
        #expect(FinanceText.capHolds(cap: 30_000).english == "no holder above the cap of 30000 points")
    }

    @Test func theAuditsWordsAreJapaneseButNotItsFigures() {
        let line = FinanceText.difference(
            subject: "holder AAAA0009 (holder_key 9)", field: "ledger.points", expected: "120", found: "none"
        ).japanese
        #expect(line == "保有者 AAAA0009 (holder_key 9): ledger.points: 期待値 120、実際 なし")
    }
}
