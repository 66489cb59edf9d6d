import Foundation
import Postgres
import TestSupport
import Testing

/// `mynapoint register` as a person runs it: the built binary on a pseudo-terminal, with the virtual JPKI card
/// in the vpcd reader; the PIN and password are typed at the prompts and must never be echoed.
@Suite(.serialized, .virtualReaders, .enabled(if: ProcessInfo.processInfo.environment["MYNAPOINT_SKIP_PCSC"] != "1"))
struct RegisterEndToEndTests {
    static let pin = "5937"
    static let password = "Quince-Harbour-48"

    struct Session: Decodable {
        var status: Int
        var transcript: String
        var unanswered: [String]
    }

    /// A resident's terminal: its locale, the card's PIN tries left, the prompts in order with the answers typed,
    /// and what the transcript must show.
    struct Terminal: Sendable, CustomTestStringConvertible {
        var lang: String
        var triesLeft: Int
        var script: [[String]]
        var shown: [String]
        /// What the resident answers when the PIN is typed before any prompt (`--pin-fd 0`).
        var firstLine: String
        var testDescription: String { lang }

        static let english = Terminal(
            lang: "C.UTF-8", triesLeft: 3,
            // The tries left must show before the PIN prompt: one pattern spans both.
            script: [
                ["PIN tries left: 3[\\s\\S]*PIN \\(4 digits\\): ", pin],
                ["New password[^:]*: ", password],
                ["Type the password again: ", password],
            ],
            shown: ["Insert your My Number card", "Registered: your MyKey ID is", "Applied for Mynapoint with PAYA"],
            firstLine: "Insert your My Number card")

        /// One try left: the resident confirms with a full-width ｙｅｓ and types the PIN in full-width digits, as a
        /// Japanese input method gives them.
        static let japanese = Terminal(
            lang: "ja_JP.UTF-8", triesLeft: 1,
            script: [
                ["残り回数はあと1回です[\\s\\S]*「はい」と入力してください: ", "ｙｅｓ"],
                ["利用者証明用電子証明書の暗証番号（数字4桁）: ", fullWidth(pin)],
                ["新しいパスワード[^:]*: ", password],
                ["もう一度パスワードを入力してください: ", password],
            ],
            shown: [
                "マイナンバーカードを", "暗証番号の残り回数は1回です", "お住まいの市区町村の窓口", "登録しました。あなたのマイキーIDは",
                "キャッシュレス決済サービス PAYA でマイナポイントを申込みました",
            ],
            firstLine: "マイナンバーカードを")
    }

    /// Digits as a Japanese input method types them (U+FF10–U+FF19).
    static func fullWidth(_ digits: String) -> String {
        String(String.UnicodeScalarView(digits.unicodeScalars.map { Unicode.Scalar($0.value + 0xFEE0)! }))
    }

    /// Runs `mynapoint arguments` on a pseudo-terminal in the locale `lang` through Tests/Fixtures/pty-session.py,
    /// answering `script`.
    func onTerminal(
        _ arguments: [String], lang: String, answering script: [[String]], database: TemporaryDatabase
    ) throws -> Session {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // The session's time limit only ends a session that went wrong; a loaded machine must not reach it.
        process.arguments = ["python3", DropWorkspace.fixtures() + "/pty-session.py", "180", Binary.path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PGDATABASE"] = database.name
        environment["MYNAPOINT_LOG_LEVEL"] = "trace"  // the most a log could say: it must still say no secret
        environment["LANG"] = lang
        environment["LC_ALL"] = nil
        environment["LC_MESSAGES"] = nil
        process.environment = environment
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: script))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONDecoder().decode(Session.self, from: data)
    }

    /// What a registration showed and printed: the transcripts of the first and the repeated registration, and
    /// the JSON each printed last.
    struct Registration {
        var first: Session
        var again: Session
        var created: [String: String]
        var existing: [String: String]
    }

    @Test func registerOnATerminalWithEchoOffInEitherLanguage() async throws {
        try #require(FileManager.default.fileExists(atPath: "/run/pcscd/pcscd.comm"), "pcscd is not running")
        let english = try await register(on: .english)
        let japanese = try await register(on: .japanese)
        // Only the words change: the JSON (its keys, the serial, the status) and the exit status are the same.
        #expect(english.first.status == japanese.first.status && english.again.status == japanese.again.status)
        for (one, other) in [(english.created, japanese.created), (english.existing, japanese.existing)] {
            #expect(one.keys.sorted() == other.keys.sorted())
            #expect(one.filter { $0.key != "mykey_id" } == other.filter { $0.key != "mykey_id" })
        }
        // The Japanese resident read no English sentence (the log lines are for operators and stay English).
        for line in (japanese.first.transcript + "\n" + japanese.again.transcript).split(whereSeparator: \.isNewline)
        where !Self.isLogLine(line) {
            #expect(!EnglishText.hasPhrase(line), "\(line)")
        }
        #expect(english.first.transcript.contains("PIN tries left: 3 of 3."))
        #expect(!japanese.first.transcript.contains("Insert your"))
    }

    /// Registers a new card on `terminal`, checks what it showed, what the ledger holds, and that the same card
    /// registers again as existing.
    func register(on terminal: Terminal) async throws -> Registration {
        let pki = try await TestPKI.shared()
        let leaf = try await pki.issueLeaf(
            by: pki.ca, serialHex: "E2E001", notBefore: Date().addingTimeInterval(-86_400),
            notAfter: Date().addingTimeInterval(365 * 86_400), key: pki.sharedLeafKey)
        let database = try TemporaryDatabase.create(prefix: "e2e_register")
        defer { database.drop() }
        let migrated = try Binary.run(["migrate"], database: database)
        try #require(migrated.status == 0, "\(migrated.stderr)")
        let connection = try database.connect()
        defer { connection.close() }
        try connection.execute("INSERT INTO providers (provider_id, name) VALUES ('PAYA', 'Pay A')")
        // Registration fails closed without current revocation data: import a current CRL first.
        let crl = try await pki.revocationList(
            by: pki.ca, revoked: [], thisUpdate: Date().addingTimeInterval(-60),
            nextUpdate: Date().addingTimeInterval(86_400))
        let crlFile = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-register-\(UUID()).crl")
        try Data(crl.der).write(to: crlFile)
        defer { try? FileManager.default.removeItem(at: crlFile) }
        let imported = try Binary.run(
            ["crl", "import", crlFile.path, "--trust-anchor", pki.ca.certificateFile.path], database: database)
        try #require(imported.status == 0, "\(imported.stderr)")

        let card = VirtualJPKICard(leaf: leaf, ca: pki.ca, pin: Self.pin, triesLeft: terminal.triesLeft)
        let arguments = [
            "register", "--reader", VirtualReaders.cardReader, "--timeout", "60", "--trust-anchor",
            pki.ca.certificateFile.path, "--apply", "PAYA", "--json",
        ]
        let session: Session = try await blocking {
            try card.whileInserted {
                try onTerminal(arguments, lang: terminal.lang, answering: terminal.script, database: database)
            }
        }.get()
        #expect(session.unanswered.isEmpty, "\(session.transcript)")
        #expect(session.status == 0, "\(session.transcript)")
        for text in terminal.shown {
            #expect(session.transcript.contains(text), "\(text) in \(session.transcript)")
        }
        // Echo was off: neither secret appears in what the terminal showed, in either width.
        #expect(!session.transcript.contains(Self.pin) && !session.transcript.contains(Self.fullWidth(Self.pin)))
        #expect(!session.transcript.contains(Self.password))

        let lastLine = try #require(
            session.transcript.split(whereSeparator: \.isNewline).last { $0.hasPrefix("{") })
        let result = try JSONDecoder().decode([String: String].self, from: Data(lastLine.utf8))
        #expect(result["certificate_serial"] == "E2E001")
        #expect(result["status"] == "created")
        let myKey = try #require(result["mykey_id"])
        #expect(myKey.count == 8)

        // The holder exists with the application; nothing in the database holds the PIN or the password.
        let holder = try connection.query(
            """
            SELECT h.status, p.provider_id FROM mykey_ids m JOIN holders h USING (holder_key)
            JOIN applications a USING (holder_key) JOIN providers p USING (provider_key) WHERE m.mykey_id = $1
            """, [.text(myKey)])
        #expect(holder.rowCount == 1)
        #expect(try holder[0, 1].string() == "PAYA")
        let columns = try connection.query(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND data_type IN ('text', 'jsonb', 'bytea')
            """)
        for row in columns {
            let table = try row[0].string()
            let values = try connection.query("SELECT \"\(try row[1].string())\"::text FROM \"\(table)\"")
            for value in values {
                let text = value[0].optionalString() ?? ""
                #expect(!text.contains(Self.pin) && !text.contains(Self.password), "\(table)")
            }
        }

        // The same card again, the PIN from a file descriptor: existing, with the same MyKey ID.
        let again = try await blocking {
            try card.whileInserted {
                try onTerminal(
                    arguments.filter { $0 != "--apply" && $0 != "PAYA" } + ["--pin-fd", "0"], lang: terminal.lang,
                    answering: [[terminal.firstLine, Self.pin]], database: database)
            }
        }.get()
        #expect(again.status == 0, "\(again.transcript)")
        // Typed while the program was not at a prompt, the PIN is echoed by the terminal: the scan above would see it.
        #expect(again.transcript.contains(Self.pin))
        #expect(again.transcript.contains("\"status\":\"existing\""))
        #expect(again.transcript.contains("\"mykey_id\":\"\(myKey)\""))
        let againLine = try #require(again.transcript.split(whereSeparator: \.isNewline).last { $0.hasPrefix("{") })
        return Registration(
            first: session, again: again, created: result,
            existing: try JSONDecoder().decode([String: String].self, from: Data(againLine.utf8)))
    }

    /// A line of the operators' log (swift-log's text or JSON form), which stays English in every language.
    static func isLogLine(_ line: Substring) -> Bool {
        line.hasPrefix("{\"") && line.contains("\"level\"") || line.contains(" trace ") || line.contains(" debug ")
            || line.contains(" info ") || line.contains(" notice ")
    }

    @Test func noCardTimesOutAndMissingTrustAnchorsAreNamed() async throws {
        let pki = try await TestPKI.shared()
        let database = try TemporaryDatabase.create(prefix: "e2e_register")
        defer { database.drop() }
        _ = try Binary.run(["migrate"], database: database)
        // A current CRL, so that the refusal for stale revocation data does not come first.
        let crl = try await pki.revocationList(
            by: pki.ca, revoked: [], thisUpdate: Date().addingTimeInterval(-60),
            nextUpdate: Date().addingTimeInterval(86_400))
        let crlFile = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-nocard-\(UUID()).crl")
        try Data(crl.der).write(to: crlFile)
        defer { try? FileManager.default.removeItem(at: crlFile) }
        let imported = try Binary.run(
            ["crl", "import", crlFile.path, "--trust-anchor", pki.ca.certificateFile.path], database: database)
        try #require(imported.status == 0, "\(imported.stderr)")
        let base = ["register", "--reader", VirtualReaders.emptyReader, "--timeout", "1", "--pin-fd", "0"]
        let noCard = try Binary.run(base + ["--trust-anchor", pki.ca.certificateFile.path], database: database)
        #expect(noCard.status == 1)
        #expect(noCard.stderr.contains("Insert your My Number card"), "\(noCard.stderr)")
        #expect(noCard.stderr.contains("no card was presented within 1 s"), "\(noCard.stderr)")
        let japanese = try Binary.run(
            base + ["--trust-anchor", pki.ca.certificateFile.path], database: database,
            environment: ["LANG": "ja_JP.UTF-8"])
        #expect(japanese.status == noCard.status && japanese.stdout == noCard.stdout)
        #expect(japanese.stderr.contains("マイナンバーカードを"), "\(japanese.stderr)")
        #expect(japanese.stderr.contains("mynapoint: エラー: 1秒以内にカードがセットされませんでした"), "\(japanese.stderr)")
        let noAnchor = try Binary.run(
            base + ["--config", "/nonexistent/mynapoint.json"], database: database,
            environment: ["MYNAPOINT_CONFIG": ""])
        #expect(noAnchor.status == 1)
        #expect(noAnchor.stderr.contains("configuration"), "\(noAnchor.stderr)")
    }
}

/// Runs blocking work on a dedicated thread, keeping it off Swift's cooperative pool.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error> {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: Result { try body() }) }.start()
    }
}
