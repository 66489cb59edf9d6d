import Foundation
public import Ledger
public import Localization
import Rules

/// The finance reconciliation report (settlement spec §10): what each provider is owed for the runs
/// finished in a period, and checks, from the database alone, that every line and point is accounted for.
///
/// Its JSON is exactly the §10 shape (`providers`, `totals`, `holders_at_cap`, `checks`); the period, the
/// per-month figures and the quarantined files ride along for the CSV and HTML renderings only.
public struct ReconciliationReport: Sendable, Codable {
    /// One provider's figures: the ledger's own value, with its rejections by reason.
    public typealias Provider = ProviderSettlement

    /// Totals over providers.
    public struct Totals: Sendable, Codable, Equatable {
        /// Settled files.
        public var files: Int
        /// Quarantined files (of any provider, known or not).
        public var quarantinedFiles: Int
        /// Settled data lines.
        public var records: Int
        /// Rows with status `GRANTED`.
        public var grantedRecords: Int
        /// Points owed.
        public var points: Int

        enum CodingKeys: String, CodingKey {
            case files
            case quarantinedFiles = "quarantined_files"
            case records
            case grantedRecords = "granted_records"
            case points
        }

        /// The sums over `providers`, with the period's quarantined files.
        init(_ providers: [Provider], quarantinedFiles: Int) {
            files = providers.reduce(0) { $0 + $1.files }
            self.quarantinedFiles = quarantinedFiles
            records = providers.reduce(0) { $0 + $1.records }
            grantedRecords = providers.reduce(0) { $0 + $1.grantedRecords }
            points = providers.reduce(0) { $0 + $1.points }
        }
    }

    /// One reconciliation check and its verdict.
    public struct Check: Sendable, Codable, Equatable {
        /// Its name: `conservation`, `points` or `cap`.
        public var name: String
        /// True when it holds.
        public var ok: Bool
        /// The figures behind the verdict, in English (the JSON's `detail`).
        public var detail: String
        /// The same figures as a message for people in any language (not part of the JSON).
        public var finding: FinanceText? = nil

        enum CodingKeys: String, CodingKey {
            case name, ok, detail
        }

        /// A check whose detail is the same text in every language.
        init(name: String, ok: Bool, detail: String) {
            self.name = name
            self.ok = ok
            self.detail = detail
        }

        /// A check whose detail is `finding` in English.
        init(name: String, ok: Bool, finding: FinanceText) {
            self.name = name
            self.ok = ok
            self.detail = finding.english
            self.finding = finding
        }

        /// The figures behind the verdict in `language`.
        public func detail(_ language: Language) -> String { finding?.text(language) ?? detail }
    }

    /// One provider's month: the ledger's own value.
    public typealias MonthRow = MonthlySettlement

    /// A quarantined file of the period.
    public struct Quarantine: Sendable, Equatable {
        /// The run that quarantined it.
        public var runID: Int64
        /// The data file's name.
        public var file: String
        /// The §3.4 code.
        public var code: String
        /// Why.
        public var message: String
    }

    /// First date (JST) of the period, when limited.
    public var from: String?
    /// Last date (JST) of the period, when limited.
    public var to: String?
    /// Per provider, in byte order of their IDs.
    public var providers: [Provider]
    /// Totals.
    public var totals: Totals
    /// Holders whose points reached the cap (over the whole campaign).
    public var holdersAtCap: Int
    /// The §10 checks.
    public var checks: [Check]
    /// Per month and provider, months ascending (not part of the JSON).
    public var months: [MonthRow] = []
    /// Quarantined files of the period (not part of the JSON).
    public var quarantines: [Quarantine] = []
    /// When the report was made, RFC 3339 in JST (not part of the JSON).
    public var generatedAt = ""

    enum CodingKeys: String, CodingKey {
        case providers, totals
        case holdersAtCap = "holders_at_cap"
        case checks
    }

    /// True when every check holds.
    public var allChecksPass: Bool { checks.allSatisfy(\.ok) }

    /// `REJECTED` rows by reason over all providers.
    public var rejectionTotals: [String: Int] {
        var totals: [String: Int] = [:]
        for provider in providers {
            for (reason, count) in provider.rejections { totals[reason, default: 0] += count }
        }
        return totals
    }

    /// The eligible amount over all providers, yen.
    public var eligibleAmountTotal: Int { providers.reduce(0) { $0 + $1.eligibleAmount } }

    /// The months of the report, ascending.
    public var monthList: [String] { Array(Set(months.map(\.month))).sorted() }

    /// The rejection codes of §4, in the spec's order (the stable columns of the CSV).
    public static let rejectionCodes: [String] = Reason.allCases.filter(\.isRejection).map(\.code)

    /// Computes the report for runs committed on dates `from`…`to` (JST, inclusive; YYYY-MM-DD; nil: open).
    public static func compute(ledger: Ledger, from: String?, to: String?) throws -> ReconciliationReport {
        let period = CommitPeriod(from: from, to: to)
        let providers = try providers(ledger: ledger, period: period)
        let quarantines = try ledger.quarantinedFiles(in: period).map {
            Quarantine(runID: $0.runID, file: $0.name, code: $0.code, message: $0.message)
        }
        var report = ReconciliationReport(
            from: from, to: to, providers: providers, totals: Totals(providers, quarantinedFiles: quarantines.count),
            holdersAtCap: try ledger.holdersAtCap(), checks: checks(try ledger.reconciliationFigures()))
        report.months = try ledger.monthlySettlements(in: period)
        report.quarantines = quarantines
        report.generatedAt = try ledger.currentTimeInJST()
        return report
    }

    /// Per provider with settled files in the period, its figures and its rejections by reason.
    static func providers(ledger: Ledger, period: CommitPeriod) throws -> [Provider] {
        var providers = try ledger.settlementsByProvider(in: period)
        var index: [String: Int] = [:]
        for (i, provider) in providers.enumerated() { index[provider.providerID] = i }
        for rejection in try ledger.rejectionsByProvider(in: period) {
            if let i = index[rejection.providerID] { providers[i].rejections[rejection.reason] = rejection.records }
        }
        return providers
    }

    /// The §10 checks, with their verdicts, from the figures of the whole database.
    static func checks(_ figures: ReconciliationFigures) -> [Check] {
        let unbalanced = figures.unbalancedFiles
        let conservation = Check(
            name: "conservation", ok: unbalanced == 0,
            finding: unbalanced == 0
                ? .conservationHolds(files: figures.settledFiles, lines: figures.settledLines)
                : .conservationBroken(unbalanced: unbalanced, files: figures.settledFiles))
        let sums = [figures.grantPoints, figures.ledgerPoints, figures.resultControlPoints, figures.filePoints]
        let points = Check(
            name: "points", ok: Set(sums).count == 1,
            finding: .pointSums(
                grants: figures.grantPoints, ledger: figures.ledgerPoints,
                resultControls: figures.resultControlPoints, files: figures.filePoints))
        let above = figures.holdersOutsideCap
        let withinCap = Check(
            name: "cap", ok: above == 0,
            finding: above == 0
                ? .capHolds(cap: figures.capPoints) : .capBroken(holders: above, cap: figures.capPoints))
        return [conservation, points, withinCap]
    }

    /// The report as CSV for a spreadsheet (RFC 4180, CRLF): providers with a total row, the period's figures,
    /// the months, and the checks, each block with its own header row and a blank line between blocks.
    public var csv: String {
        var table = CSVTable()
        let reasons = Self.rejectionCodes
        table.row(
            ["provider_id", "files", "records", "granted_records", "points", "eligible_amount"].map(CSVTable.Cell.text)
                + reasons.map { .text("rejected_\($0)") })
        for p in providers {
            table.row(
                [
                    .text(p.providerID), .number(p.files), .number(p.records), .number(p.grantedRecords),
                    .number(p.points), .number(p.eligibleAmount),
                ] + reasons.map { .number(p.rejections[$0] ?? 0) })
        }
        let rejected = rejectionTotals
        table.row(
            [
                .text("TOTAL"), .number(totals.files), .number(totals.records), .number(totals.grantedRecords),
                .number(totals.points), .number(eligibleAmountTotal),
            ] + reasons.map { .number(rejected[$0] ?? 0) })
        table.blank()
        table.row(["from", "to", "quarantined_files", "holders_at_cap", "generated_at"].map(CSVTable.Cell.text))
        table.row(
            [
                .text(from ?? ""), .text(to ?? ""), .number(totals.quarantinedFiles), .number(holdersAtCap),
                .text(generatedAt),
            ])
        table.blank()
        table.row(
            ["month", "provider_id", "runs", "files", "records", "granted_records", "points", "eligible_amount"].map(
                CSVTable.Cell.text))
        for m in months {
            table.row(
                [
                    .text(m.month), .text(m.providerID), .number(m.runs), .number(m.files), .number(m.records),
                    .number(m.grantedRecords), .number(m.points), .number(m.eligibleAmount),
                ])
        }
        table.blank()
        table.row(["check", "ok", "detail"].map(CSVTable.Cell.text))
        for check in checks {
            table.row([.text(check.name), .text(check.ok ? "true" : "false"), .text(check.detail)])
        }
        return table.text
    }
}
