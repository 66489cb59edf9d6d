extension ProviderMessage {
    /// The message in Japanese.
    public var japanese: String {
        switch self {
        case .badName(let file):
            "ファイル名 \(file) が {provider_id}_{YYYYMMDD}_{seq}.csv.zst の形式（実在する日付（2000–2099年）と4桁の連番）になっていません。ファイル名を付け直して再送してください。"
        case .notAFile(let name, let entry):
            "\(name) は\(ProviderMessage.entry(entry).japanese)であり、通常のファイルではないため、何も読み込んでいません。ファイルそのものを一時的な名前でアップロードしてから名前を変更してください（管理ファイルは最後に置いてください）。"
        case .unknownProvider(let provider):
            "決済サービス事業者 \(provider) は登録されていません。ファイルを精算する前に登録（registry import）してください。"
        case .badControl(let control, let problem):
            "\(control): \(problem.japanese)。訂正した管理ファイルを送ってください。"
        case .checksumMismatch(let file, let digest, let declared):
            "\(file) の SHA-256 は \(digest) ですが、管理ファイルには \(declared) と記載されています。ファイルが不完全な可能性があります。ファイルをアップロードし直してください（管理ファイルは最後に置いてください）。"
        case .nameReused(let file):
            "\(file) という名前で内容の異なるファイルが既に精算されています。新しい記録は新しい連番で送ってください。"
        case .declaresTooMany(let records, let limit):
            "管理ファイルの件数 \(records) 件は、ファイルあたりの上限 \(limit) 件を超えています。記録を複数のファイルに分けてください。"
        case .badCompression(let file, let detail):
            "\(file) は完全で正しい zstd ストリームではありません（\(detail)）。zstd で圧縮し直して再送してください。"
        case .lineTooLong(let file, let line, let limit):
            "\(file) の \(line) 行目が \(limit) バイトを超えています。正しい記録がこの長さになることはありません。行を訂正してファイルを再送してください。"
        case .decompressesTooLarge(let file, let limit):
            "\(file) は展開すると \(limit) バイトを超えます。記録を複数のファイルに分けてください。"
        case .tooManyLines(let file, let limit, let line):
            "\(file) のデータ行が \(limit) 行を超えています（\(line) 行目が上限を超えています）。記録を複数のファイルに分けてください。"
        case .badHeader(let file):
            "\(file) の先頭行は record_id,mykey_id,kind,amount_yen,occurred_at と完全に一致する必要があります。"
        case .badAmount(let line):
            "\(line) 行目の amount_yen が 1 から 999999999 までの整数（円）ではありません。訂正してファイルを再送してください。"
        case .beyondDeclared(let file, let declared, let line):
            "\(file) のデータ行が管理ファイルの件数 \(declared) 件より多くなっています（超えた最初の行は \(line) 行目です）。対応するデータファイルと管理ファイルを組で再送してください。"
        case .lineCount(let file, let lines, let declared):
            "\(file) のデータ行は \(lines) 行ですが、管理ファイルでは \(declared) 件となっています。対応するデータファイルと管理ファイルを組で再送してください。"
        case .amountTotal(let file, let total, let declared):
            "\(file) の金額の合計は \(total) 円ですが、管理ファイルでは \(declared) 円となっています。対応するデータファイルと管理ファイルを組で再送してください。"
        case .controlTooLarge: "管理ファイルが 64 KiB を超えています"
        case .controlNamesOther(let named, let expected):
            "管理ファイルに記載されたファイル名が \(expected) ではなく \(named) です"
        case .controlNotJSON(let detail): "管理ファイルが正しい JSON ではありません（\(detail)）"
        case .controlForeignField(let field): "管理ファイルに不要な項目 \"\(field)\" があります"
        case .controlRepeatedField(let field): "管理ファイルに項目 \"\(field)\" が複数あります"
        case .controlMissingField(let field): "管理ファイルに項目 \"\(field)\" がありません"
        case .controlNotStrings: "管理ファイルの format、file、sha256 は JSON の文字列でなければなりません"
        case .controlNotIntegers:
            "管理ファイルの records と amount_total は JSON の整数（小数・指数表記なし）でなければなりません"
        case .controlFormat(let format): "管理ファイルの format が \"\(format)\" ではありません"
        case .controlDigest: "管理ファイルの sha256 が 64 桁の十六進数ではありません"
        case .controlNegative: "管理ファイルの records と amount_total に負の値は使えません"
        case .resultControlNotJSON(let detail): "結果管理ファイルが正しい JSON ではありません（\(detail)）"
        case .resultControlFormat(let format): "結果管理ファイルの format が \"\(format)\" ではありません"
        case .resultControlIncomplete:
            "結果管理ファイルに file、sha256、records、granted_records、points_total のいずれかがありません"
        case .entry(let entry): Self.japanese(entry)
        case .waitingForData(let control):
            "\(control) のデータファイルがありません。データファイルが届くまで、settle は管理ファイルをそのまま残します（データファイルを先に、管理ファイルを最後にアップロードしてください）。"
        case .waitingForControl(let file):
            "\(file) の管理ファイルがまだありません。管理ファイルが届くまで、settle はこのファイルをそのまま残します（管理ファイルは最後にアップロードしてください）。"
        case .duplicateAdvice:
            "この record_id は、同時に確認した同じ事業者のファイルの前の行にも出ています。同じ記録は一度しか精算されません。重複した行を削除するか、別の記録であれば別の record_id を付けてください。"
        case .outOfWindowAdvice(let start, let end):
            "occurred_at がキャンペーン期間（\(start) 以降、\(end) より前）の外です。この記録は却下され、ポイントは付与されません。"
        case .badQuotingAdvice:
            "引用符が閉じていないか、閉じた引用符の後にカンマ以外の文字があります" + Self.resend
        case .fieldCountAdvice(let found):
            "この行の項目数は \(found.map { "\($0)" } ?? "5 を超える数") で、record_id,mykey_id,kind,amount_yen,occurred_at の 5 項目になっていません（カンマを含む項目は引用符で囲んでください）"
                + Self.resend
        case .recordIDAdvice: "record_id は A–Z a–z 0–9 . _ - からなる 1–64 文字にしてください" + Self.resend
        case .individualNumberAdvice:
            "mykey_id が 12 桁の数字で、マイナンバー（個人番号）の形をしています。個人番号は決して送らないでください（どこにも表示・記録していません）。保有者のマイキーID（A–Z 0–9 の 8 文字）を入れてください"
                + Self.resend
        case .myKeyIDAdvice: "mykey_id はちょうど 8 文字の A–Z 0–9 にしてください（小文字・空白は使えません）" + Self.resend
        case .kindAdvice: "kind は charge か purchase にしてください" + Self.resend
        case .occurredAtAdvice:
            "occurred_at は 2020-10-01T12:34:56+09:00 のように秒と時差を含む RFC 3339 の形式で、実在する日時にしてください"
                + Self.resend
        case .malformedAdvice: "正しい形式になっていない項目があります" + Self.resend
        case .checkAccepted(let file, let records, let rejected):
            "\(file): 受理、\(records) 件" + (rejected.isEmpty ? "" : "。却下される行: \(rejected)")
        case .checkProblem(let line, let record, let code, let field, let advice):
            "\(line) 行目（結果ファイルの \(record) 行目） \(code)\(field.map { " \($0)" } ?? ""): \(advice.japanese)"
        case .checkMore(let count): "…ほか \(count) 件"
        case .checkQuarantined(let file, let code, let line, let reason):
            "\(file): 隔離 \(code)\(line.map { "（\($0) 行目）" } ?? ""): \(reason.japanese)"
        case .checkWaiting(let file, let reason): "\(file): 待機中: \(reason.japanese)"
        case .checkIgnored(let names): "対象外として残すもの（ドロップファイルの名前ではありません）: \(names)"
        case .checkTotal(let files, let accepted, let quarantined, let waiting):
            "\(files) ファイル: 受理 \(accepted)、隔離 \(quarantined)、待機中 \(waiting)"
        case .packWrote(let data, let control, let records, let amountTotal):
            "\(data) と \(control) を書き出しました: \(records) 件、\(amountTotal) 円"
        case .packRefused: "拒否しました。何も書き出していません"
        }
    }

    /// How every advice on a `MALFORMED` line ends.
    private static let resend = "。訂正のうえ、同じ record_id で新しいファイルに入れて再送してください。"

    /// What an entry is, in Japanese.
    private static func japanese(_ entry: Entry) -> String {
        switch entry {
        case .regular: "通常のファイル"
        case .hardLink: "別の名前も持つファイル（ハードリンク）"
        case .symbolicLink: "シンボリックリンク"
        case .directory: "ディレクトリ"
        case .fifo: "FIFO（名前付きパイプ）"
        case .socket: "ソケット"
        case .device: "デバイス"
        case .missing: "存在しないエントリ"
        }
    }
}
