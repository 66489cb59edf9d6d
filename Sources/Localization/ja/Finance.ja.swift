import Foundation

extension FinanceText {
    /// The message in Japanese.
    public var japanese: String {
        switch self {
        case .reportTitle(let period): "マイナポイント精算照合 — \(period)"
        case .reportHeading: "マイナポイント精算：経理向け照合レポート"
        case .periodAll: "全期間の実行"
        case .periodFrom(let from): "\(from)以降に確定した実行（日本時間）"
        case .periodUpTo(let to): "\(to)までに確定した実行（日本時間）"
        case .periodBetween(let from, let to): "\(from)〜\(to)に確定した実行（日本時間）"
        case .generated(let time): "作成日時 \(time)（日本時間）"
        case .allChecksPass(let checks): "✔ 照合チェック\(checks)件はすべて合格です。"
        case .checksFail(let failing, let checks, let names):
            "✘ 照合チェック\(checks)件中\(failing)件が不合格です：\(names)。解消するまで支払を行わないでください。"
        case .cardPointsOwed: "支払ポイント"
        case .cardEligibleAmount: "対象決済額"
        case .cardRecordsSettled: "精算件数"
        case .cardRecordsGranted: "付与件数"
        case .cardFilesSettled: "精算ファイル数"
        case .cardFilesQuarantined: "隔離ファイル数"
        case .cardHoldersAtCap: "上限到達者数"
        case .checksHeading: "照合チェック"
        case .checkName(let name):
            switch name {
            case "conservation": "件数の整合（conservation）"
            case "points": "ポイントの一致（points）"
            case "cap": "上限の遵守（cap）"
            default: name
            }
        case .verdictPass: "✔ 合格"
        case .verdictFail: "✘ 不合格"
        case .conservationHolds(let files, let lines):
            "精算済み全\(files)ファイル（\(lines)行）：行数＝付与＋却下、各行に結果が一つ"
        case .conservationBroken(let unbalanced, let files):
            "精算済み\(files)ファイル中\(unbalanced)ファイルで行数が付与＋却下または結果件数と一致しません"
        case .pointSums(let grants, let ledger, let resultControls, let files):
            "付与記録 \(grants)、保有者台帳 \(ledger)、結果コントロール合計 \(resultControls)、ファイル \(files)"
        case .capHolds(let cap): "上限\(cap.map { "\($0)ポイント" } ?? "")を超えた保有者はいません"
        case .capBroken(let holders, let cap): "上限\(cap.map { "\($0)ポイント" } ?? "")を超えた保有者が\(holders)人います"
        case .providersHeading: "決済事業者別"
        case .chartPointsPerProvider: "決済事業者別の支払ポイント"
        case .monthsHeading: "月別"
        case .chartPointsPerMonth: "月別の支払ポイント（実行確定月、日本時間）"
        case .allProvidersRow: "全事業者"
        case .rejectionsHeading: "却下"
        case .noRejections: "対象期間に却下されたレコードはありません。"
        case .chartRejections: "理由別の却下件数"
        case .quarantineHeading: "隔離ファイル"
        case .noQuarantine: "対象期間に隔離されたファイルはありません。"
        case .chartNoData: "データなし"
        case .chartNoRuns: "対象期間に実行はありません"
        case .reportFooter:
            """
            ポイントは1ポイントにつき1円を支払います。月は実行が確定した月（日本時間）です。照合チェックはデータベース全体、
            集計値は対象期間が対象です。mynapointで作成。
            """
        case .columnCheck: "チェック"
        case .columnVerdict: "判定"
        case .columnDetail: "内容"
        case .columnProvider: "決済事業者"
        case .columnProviderID: "事業者ID"
        case .columnProviderName: "事業者名"
        case .columnMonth: "月"
        case .columnRuns: "実行数"
        case .columnFiles: "ファイル数"
        case .columnRecords: "レコード数"
        case .columnGranted: "付与件数"
        case .columnRejected: "却下件数"
        case .columnPoints: "ポイント"
        case .columnPointsClaimed: "請求ポイント"
        case .columnCumulativePoints: "累計ポイント"
        case .columnEligibleAmount: "対象決済額（円）"
        case .columnReason: "理由"
        case .columnRun: "実行"
        case .columnFile: "ファイル"
        case .columnCode: "コード"
        case .total: "合計"
        case .noRuns: "確定した実行はありません"
        case .columnCommitted: "確定日時（日本時間）"
        case .columnQuarantinedShort: "隔離"
        case .columnSkippedShort: "精算済"
        case .columnDuration: "所要時間"
        case .columnDelivered: "配信"
        case .columnStartedBy: "実行者"
        case .columnOutcome: "結果"
        case .columnNote: "備考"
        case .delivered: "済"
        case .notDelivered: "未"
        case .durationPending: "未確定"
        case .duration(let milliseconds):
            milliseconds < 60_000
                ? String(format: "%.1f秒", Double(milliseconds) / 1000)
                : String(format: "%d分%02d秒", milliseconds / 60_000, milliseconds / 1000 % 60)
        case .durationThroughDelivery(let duration): "\(duration)（ロック取得から配信まで）"
        case .durationPendingDetail: "未確定 — 配信後に確定します"
        case .durationUnknown: "不明 — 実行の終了後に、後続のsettleが配信しました"
        case .runHeading(let run): "実行 \(run)"
        case .runField(let field):
            switch field {
            case .started: "開始日時"
            case .committed: "確定日時"
            case .delivered: "配信日時"
            case .duration: "所要時間"
            case .startedBy: "実行者"
            case .host: "ホスト"
            case .version: "バージョン"
            case .parameters: "パラメータ"
            case .files: "ファイル"
            case .records: "レコード"
            case .points: "ポイント"
            case .outcomes: "結果内訳"
            }
        case .notDeliveredYet: "未配信 — 次回のsettleで結果ファイルを配信します"
        case .runFiles(let settled, let quarantined, let alreadySettled):
            "精算 \(settled)、隔離 \(quarantined)、精算済みのため対象外 \(alreadySettled)"
        case .runRecords(let records, let granted): "\(records)（うち付与 \(granted)）"
        case .quarantineLine(let line): " \(line)行目"
        case .fileOutcome(let outcome):
            switch outcome {
            case "settled": "精算"
            case "quarantined": "隔離"
            case "already_settled": "精算済み（already_settled）"
            default: outcome
            }
        case .difference(let subject, let field, let expected, let found):
            "\(Self.japaneseSubject(subject)): \(field): 期待値 \(Self.japaneseValue(expected))、"
                + "実際 \(Self.japaneseValue(found))"
        case .verifySummary(let holders, let files, let lines, let grants, let onDisk, let differences, let undelivered):
            "保有者\(holders)人、精算済みファイル\(files)件（\(lines)行、付与記録\(grants)行）"
                + (onDisk > 0 ? "、送信フォルダの結果ファイル\(onDisk)件" : "") + "を検証しました："
                + (differences == 0 ? "差異はありません" : "差異が\(differences)件あります")
                + (undelivered.isEmpty
                    ? ""
                    : "（実行 \(undelivered.map(String.init).joined(separator: ", ")) は未配信です。settleを実行してください）")
        }
    }

    /// The audit's subject with its kind in Japanese (`holder …` → `保有者 …`, `file …` → `ファイル …`).
    static func japaneseSubject(_ subject: String) -> String {
        for (english, japanese) in [("holder ", "保有者 "), ("file ", "ファイル ")] where subject.hasPrefix(english) {
            return japanese + subject.dropFirst(english.count)
        }
        return subject
    }

    /// The audit's fixed words for a value in Japanese; figures, digests and names stay as they are.
    static func japaneseValue(_ value: String) -> String {
        switch value {
        case "none": "なし"
        case "present": "あり"
        case "missing": "見つかりません"
        case "unreadable": "読み取れません"
        case "a JSON object": "JSONオブジェクト"
        case "a valid zstd CSV": "正しいzstd圧縮のCSV"
        default: value
        }
    }
}
