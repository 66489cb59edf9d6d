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

    /// Runs `mynapoint arguments` on a pseudo-terminal through Tests/Fixtures/pty-session.py, answering `script`.
    func onTerminal(_ arguments: [String], answering script: [[String]], database: TemporaryDatabase) throws -> Session
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // The session's time limit only ends a session that went wrong; a loaded machine must not reach it.
        process.arguments = ["python3", DropWorkspace.fixtures() + "/pty-session.py", "180", Binary.path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PGDATABASE"] = database.name
        environment["MYNAPOINT_LOG_LEVEL"] = "trace"  // the most a log could say: it must still say no secret
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

    @Test func registerOnATerminalWithEchoOff() async throws {
        try #require(FileManager.default.fileExists(atPath: "/run/pcscd/pcscd.comm"), "pcscd is not running")
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

        let card = VirtualJPKICard(leaf: leaf, ca: pki.ca, pin: Self.pin)
        let arguments = [
            "register", "--reader", VirtualReaders.cardReader, "--timeout", "60", "--trust-anchor",
            pki.ca.certificateFile.path, "--apply", "PAYA", "--json",
        ]
        // The tries left must show before the PIN prompt: one pattern spans both.
        let ordered = [
            ["PIN tries left: 3[\\s\\S]*PIN \\(4 digits\\): ", Self.pin],
            ["New password[^:]*: ", Self.password],
            ["Type the password again: ", Self.password],
        ]
        let session: Session = try await blocking {
            try card.whileInserted { try onTerminal(arguments, answering: ordered, database: database) }
        }.get()
        #expect(session.unanswered.isEmpty, "\(session.transcript)")
        #expect(session.status == 0, "\(session.transcript)")
        #expect(session.transcript.contains("Insert your My Number card"))
        // Echo was off: neither secret appears in what the terminal showed.
        #expect(!session.transcript.contains(Self.pin))
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
                    arguments.filter { $0 != "--apply" && $0 != "PAYA" } + ["--pin-fd", "0"],
                    answering: [["Insert your My Number card", Self.pin]], database: database)
            }
        }.get()
        #expect(again.status == 0, "\(again.transcript)")
        // Typed while the program was not at a prompt, the PIN is echoed by the terminal: the scan above would see it.
        #expect(again.transcript.contains(Self.pin))
        #expect(again.transcript.contains("\"status\":\"existing\""))
        #expect(again.transcript.contains("\"mykey_id\":\"\(myKey)\""))
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
