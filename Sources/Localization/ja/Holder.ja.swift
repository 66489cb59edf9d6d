extension HolderMessage {
    /// The message in Japanese, in the words of the program's own guidance for residents.
    public var japanese: String {
        switch self {
        case .insertCard(let reader, let seconds):
            "マイナンバーカードを\(reader.map { "カードリーダー「\($0)」" } ?? "カードリーダー")にセットしてください"
                + "（最大\(seconds)秒お待ちします。中止するには Ctrl-C を押してください）。"
        case .waitingForCard(let seconds): "カードをお待ちしています… 残り\(seconds)秒 "
        case .cardFound(let reader): "カードリーダー「\(reader)」でカードを確認しました。証明書を読み取っています。"
        case .triesLeft(let tries): "暗証番号の残り回数は\(tries)回です（最大3回）。"
        case .lastTryWarning:
            "ご注意ください: 暗証番号の残り回数はあと1回です。ここで間違えるとカードがロックされ、"
                + "お住まいの市区町村の窓口で初期化するまで利用できなくなります。"
        case .lastTryQuestion: "最後の入力で続けますか？ 続ける場合は「はい」と入力してください: "
        case .pinPrompt: "利用者証明用電子証明書の暗証番号（数字4桁）: "
        case .cardProved(let serial): "カードが証明書 \(serial) の持ち主であることを確認しました。"
        case .passwordPrompt(let myKey): "マイキーID \(myKey) のパスワード: "
        case .newPasswordPrompt(let minimum): "マイキーIDでログインするための新しいパスワード（\(minimum)文字以上）: "
        case .passwordAgainPrompt: "確認のため、もう一度パスワードを入力してください: "
        case .passwordLength(let minimum, let maximum): "パスワードは\(minimum)文字以上\(maximum)文字以下にしてください"
        case .passwordControlCharacters: "パスワードに制御文字は使えません"
        case .passwordsDiffer: "入力された二つのパスワードが一致しません。何も変更していません"
        case .alreadyRegistered(let myKey, let standing):
            "このカードは登録済みです: マイキーID \(myKey)（\(Self.japanese(standing))）。"
        case .registered(let myKey): "登録しました。あなたのマイキーIDは \(myKey) です。"
        case .alreadyAppliedWith(let provider): "キャッシュレス決済サービス \(provider) にはすでに申込済みです。"
        case .applied(let provider): "キャッシュレス決済サービス \(provider) でマイナポイントを申込みました。"
        case .revokeWarning(let myKey):
            "マイキーID \(myKey) を失効させると元に戻せません。このマイキーIDのポイントは使えなくなります。"
        case .revokePrompt: "失効させるマイキーIDを入力してください: "
        case .myKeyChanged(let old, let new): "マイキーIDを \(old) から \(new) に変更しました"
        case .myKeyRevoked(let myKey): "マイキーID \(myKey) を失効させました"
        case .passwordSet(let myKey, let reset):
            "マイキーID \(myKey) のパスワードを\(reset ? "再設定" : "変更")しました"
        case .appliedWith(let myKey, let provider):
            "マイキーID \(myKey) でキャッシュレス決済サービス \(provider) に申込みました"
        case .error(let detail): "mynapoint: エラー: \(detail)"
        case .failed(_, let detail): "処理に失敗しました: \(detail)"
        case .noTrustAnchors:
            "トラストアンカーがありません。--trust-anchor FILE を指定するか、設定ファイルの trust_anchors を設定してください"
        case .trustAnchorUnreadable(let file): "トラストアンカーのファイル \(file) を読み取れません"
        case .trustAnchorWithoutCertificate(let file): "トラストアンカーのファイル \(file) にPEM形式の証明書がありません"
        case .serviceUnavailable: "PC/SCサービス（pcscd）が動いていません"
        case .noReader: "カードリーダーが接続されていません。接続してからもう一度お試しください"
        case .noReaderNamed(let reader, let attached):
            "「\(reader)」という名前のカードリーダーは接続されていません"
                + (attached.isEmpty ? "" : "（接続中: \(attached.joined(separator: "、"))）")
        case .noCardWithin(let seconds): "\(seconds)秒以内にカードがセットされませんでした"
        case .noCardInTime: "時間内にカードがセットされませんでした"
        case .readerGone: "カードリーダーが使えなくなりました"
        case .cardRemoved: "カードが取り外されました。もう一度セットして、最初からやり直してください"
        case .cardBusy: "ほかのアプリケーションがカードを使用中です。そのアプリケーションを終了してから、もう一度お試しください"
        case .cardCommunication(let detail): "カードとの通信に失敗しました: \(detail)"
        case .notMyNumberCard(let status):
            "このカードには公的個人認証（JPKI）のアプリケーションがありません（ステータス \(status)）。マイナンバーカードではありません"
        case .missingCardFile(let file):
            "カードの公的個人認証（JPKI）アプリケーションに EF \(file) がありません。利用できるマイナンバーカードではありません"
        case .notJPKIToken: "カードのトークン情報が公的個人認証（JPKI）のカードを示していません"
        case .fileWithoutCertificate(let file): "EF \(file) がDER形式の証明書で始まっていません"
        case .certificateUnreadable(let detail): "カードの証明書を解析できません: \(detail)"
        case .cardFileTooLong: "カードのファイルが READ BINARY で読める長さを超えています"
        case .cardFileShort: "カードのファイルが、示された長さより前で終わっています"
        case .emptySignature: "カードが空の署名を返しました"
        case .signRefused: "カードが署名を拒否しました: 暗証番号が照合されていません"
        case .unexpectedStatus(let status, let step):
            "\(Self.japanese(step))ときに、カードが想定外の応答 \(status) を返しました"
        case .pinBlockedBeforeTry:
            "このカードの利用者証明用電子証明書の暗証番号はロックされています。お住まいの市区町村の窓口で初期化してください"
        case .pinBlocked: "暗証番号がロックされています。お住まいの市区町村の窓口で初期化してください"
        case .wrongPINNowBlocked:
            "暗証番号が違います。カードがロックされました。お住まいの市区町村の窓口で暗証番号を初期化してください"
        case .wrongPIN(let left): "暗証番号が違います。ロックされるまでの残り回数は\(left)回です"
        case .declinedLastTry: "最後の入力の前で中止しました。カードには何も送っていません"
        case .pinFormat: "暗証番号は数字4桁です。カードには何も送っていません"
        case .myKeyFormat: "マイキーIDは英大文字A–Zと数字0–9の8文字です。確認して、もう一度入力してください"
        case .providerIDFormat: "キャッシュレス決済サービスのIDは英大文字A–Zと数字0–9の1–16文字です。確認して、もう一度入力してください"
        case .pinUnreadable(let detail): "暗証番号を読み取れません: \(detail)"
        case .noChallenge(let detail): "確認用の乱数を作れません: \(detail)"
        case .signatureInvalid: "カードの署名が証明書と一致しません。正規のカードではありません"
        case .certificateExpired(let date):
            "カードの利用者証明用電子証明書は \(date) に有効期限が切れています。お住まいの市区町村の窓口で更新してください"
        case .certificateNotYetValid(let date): "カードの利用者証明用電子証明書は \(date) から有効になります"
        case .untrustedCertificate(let issuer):
            "カードの証明書（発行者 \(issuer)）は、設定されたトラストアンカーで検証できません"
        case .certificateRevoked(let serial, let date):
            "カードの利用者証明用電子証明書 \(serial) は \(date) に失効しています。お住まいの市区町村の窓口で更新してください"
        case .noCurrentCRL(let issuer):
            "\(issuer) の有効な失効リスト（CRL）が取り込まれていないため、失効を確認できません。"
                + "`mynapoint crl import FILE` で有効なCRLを取り込んでから、もう一度お試しください"
        case .noCurrentCRLOfAnyAnchor:
            "どのトラストアンカーについても有効な失効リスト（CRL）が取り込まれていないため、失効を確認できません。"
                + "`mynapoint crl import FILE` で有効なCRLを取り込んでから、もう一度お試しください"
        case .revocationCheckFailed(let detail): "失効の確認に失敗しました: \(detail)"
        case .notRegistered: "このカードは登録されていません。先に `mynapoint register` を実行してください"
        case .passwordLoginFailed:
            "マイキーIDまたはパスワードが違います（パスワードを設定していない場合は、カードでログインしてください）"
        case .passwordLoginFailedNowLocked(let limit, let until):
            "マイキーIDまたはパスワードが違います。\(limit)回続けて失敗したため、このマイキーIDのパスワードによるログインは"
                + " \(until) までロックされています。カード（暗証番号）でログインするとロックを解除できます"
        case .passwordLoginLocked(let until, let limit):
            "\(limit)回続けて失敗したため、このマイキーIDのパスワードによるログインは \(until) までロックされています。"
                + "カード（暗証番号）でログインするとロックを解除できます"
        case .myKeySuspended(let myKey):
            "マイキーID \(myKey) は運営者により利用停止されています。ヘルプデスクにお問い合わせください"
        case .myKeyRevokedAlready(let myKey):
            "マイキーID \(myKey) は失効しています。新しいマイキーIDを取得するには、もう一度登録してください"
        case .confirmationMismatch(let myKey): "入力された内容がマイキーID \(myKey) と一致しません。失効させていません"
        case .myKeyTaken(let myKey): "マイキーID \(myKey) は使用中または使用済みです。別のマイキーIDを選んでください"
        case .alreadyApplied: "このマイキーIDはすでにマイナポイントを申込済みです。申込は変更できません"
        case .unknownProvider(let provider): "キャッシュレス決済サービス \(provider) は登録されていません"
        case .databaseFailed(let detail): "データベースの処理に失敗しました: \(detail)"
        case .noRandomBytes(let detail): "マイキーIDを作るための乱数を得られません: \(detail)"
        case .passwordHashFailed(let detail): "パスワードのハッシュ化に失敗しました: \(detail)"
        case .nothingOnDescriptor(let fd): "ファイルディスクリプタ \(fd) から何も読み取れません"
        case .noTerminal:
            "入力を求める端末がありません。無人で使う場合は --pin-fd / --password-fd / --confirm を指定してください"
        case .terminalUnusable: "端末の入力表示（エコー）を止められません"
        case .terminalClosed: "端末が閉じられました"
        }
    }

    /// A MyKey ID's standing in Japanese.
    private static func japanese(_ standing: Standing) -> String {
        switch standing {
        case .active: "利用中"
        case .suspended: "利用停止中"
        case .revoked: "失効"
        }
    }

    /// A card step in Japanese, ending so that 「とき」 follows it.
    private static func japanese(_ step: CardStep) -> String {
        switch step {
        case .selectingFile(let file): "EF \(file) を選択した"
        case .askingTriesLeft: "暗証番号の残り回数を確認した"
        case .verifyingPIN: "暗証番号を照合した"
        case .signing: "署名した"
        case .readingFile: "ファイルを読み取った"
        }
    }
}
