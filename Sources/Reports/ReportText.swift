import Ledger
public import Localization

/// The reconciliation report as plain text for a terminal or a mail: the verdict, the totals, the checks, and the
/// tables per provider and per month, in the language of the reader.
public enum ReportText {
    /// The report in `language`; figures, codes and IDs are the same in both.
    public static func render(_ report: ReconciliationReport, language: Language = .en) -> String {
        func say(_ message: FinanceText) -> String { message.text(language) }
        var out = say(.reportHeading) + "\n"
        out += period(report, language) + " · " + say(.generated(FinanceFormat.time(report.generatedAt, language)))
        out += "\n\n"
        let failing = report.checks.filter { !$0.ok }
        out +=
            (failing.isEmpty
                ? say(.allChecksPass(checks: report.checks.count))
                : say(
                    .checksFail(
                        failing: failing.count, checks: report.checks.count,
                        names: ReportText.names(of: failing, language)))) + "\n\n"
        out += RunHistory.aligned(
            [
                [say(.cardPointsOwed), FinanceFormat.points(report.totals.points, language)],
                [say(.cardEligibleAmount), FinanceFormat.yen(report.eligibleAmountTotal, language)],
                [say(.cardRecordsSettled), NumberFormatting.grouped(report.totals.records)],
                [say(.cardRecordsGranted), NumberFormatting.grouped(report.totals.grantedRecords)],
                [say(.cardFilesSettled), NumberFormatting.grouped(report.totals.files)],
                [say(.cardFilesQuarantined), NumberFormatting.grouped(report.totals.quarantinedFiles)],
                [say(.cardHoldersAtCap), NumberFormatting.grouped(report.holdersAtCap)],
            ], leftColumns: [0])
        out += "\n" + say(.checksHeading) + "\n"
        out += RunHistory.aligned(
            [[say(.columnCheck), say(.columnVerdict), say(.columnDetail)]]
                + report.checks.map {
                    [say(.checkName($0.name)), say($0.ok ? .verdictPass : .verdictFail), $0.detail(language)]
                }, leftColumns: [0, 1, 2])
        out += "\n" + say(.providersHeading) + "\n"
        var providers = [
            [
                say(.columnProvider), say(.columnFiles), say(.columnRecords), say(.columnGranted),
                say(.columnRejected), say(.columnPoints), say(.columnEligibleAmount),
            ]
        ]
        for p in report.providers {
            providers.append(
                [p.providerID] + [p.files, p.records, p.grantedRecords, p.records - p.grantedRecords].map(grouped)
                    + [FinanceFormat.points(p.points, language), FinanceFormat.yen(p.eligibleAmount, language)])
        }
        let t = report.totals
        providers.append(
            [say(.total)] + [t.files, t.records, t.grantedRecords, t.records - t.grantedRecords].map(grouped)
                + [FinanceFormat.points(t.points, language), FinanceFormat.yen(report.eligibleAmountTotal, language)])
        out += RunHistory.aligned(providers, leftColumns: [0])
        out += "\n" + say(.monthsHeading) + "\n" + months(report, language)
        out += "\n" + say(.rejectionsHeading) + "\n"
        let rejected = report.rejectionTotals
        let reasons = ReconciliationReport.rejectionCodes.filter { rejected[$0] != nil }
        out +=
            reasons.isEmpty
            ? say(.noRejections) + "\n"
            : RunHistory.aligned(
                [[say(.columnReason)] + report.providers.map(\.providerID) + [say(.total)]]
                    + reasons.map { reason in
                        [reason]
                            + (report.providers.map { $0.rejections[reason] ?? 0 } + [rejected[reason] ?? 0])
                            .map(grouped)
                    }, leftColumns: [0])
        if !report.quarantines.isEmpty {
            out += "\n" + say(.quarantineHeading) + "\n"
            out += RunHistory.aligned(
                [[say(.columnRun), say(.columnFile), say(.columnCode), say(.columnReason)]]
                    + report.quarantines.map { [String($0.runID), $0.file, $0.code, $0.message] },
                leftColumns: [1, 2, 3])
        }
        return out
    }

    /// The per-month table.
    static func months(_ report: ReconciliationReport, _ language: Language) -> String {
        func say(_ message: FinanceText) -> String { message.text(language) }
        var rows = [
            [
                say(.columnMonth), say(.columnProvider), say(.columnRuns), say(.columnFiles), say(.columnRecords),
                say(.columnGranted), say(.columnPoints), say(.columnEligibleAmount),
            ]
        ]
        for m in report.months {
            rows.append(
                [FinanceFormat.month(m.month, language), m.providerID]
                    + [m.runs, m.files, m.records, m.grantedRecords].map(grouped)
                    + [FinanceFormat.points(m.points, language), FinanceFormat.yen(m.eligibleAmount, language)])
        }
        return RunHistory.aligned(rows, leftColumns: [0, 1])
    }

    /// The period of the report's runs in `language`.
    public static func period(_ report: ReconciliationReport, _ language: Language) -> String {
        let message: FinanceText
        switch (
            report.from.map { FinanceFormat.date($0, language) }, report.to.map { FinanceFormat.date($0, language) }
        )
        {
        case (nil, nil): message = .periodAll
        case (let from?, nil): message = .periodFrom(from)
        case (nil, let to?): message = .periodUpTo(to)
        case (let from?, let to?): message = .periodBetween(from, to)
        }
        return message.text(language)
    }

    /// The names of `checks` for the verdict: `points, cap` in English, `ポイントの一致（points）、上限の遵守（cap）` in
    /// Japanese.
    static func names(of checks: [ReconciliationReport.Check], _ language: Language) -> String {
        checks.map { FinanceText.checkName($0.name).text(language) }.joined(separator: language == .ja ? "、" : ", ")
    }

    static func grouped(_ value: Int) -> String { NumberFormatting.grouped(value) }
}
