import Foundation
import Postgres
import TestSupport
import Testing

/// No database password on the command line (registration spec §5), and an audit identity that comes from the
/// operating system, not from the environment (settlement spec §11.6), through the built binary.
@Suite struct SecretsAndIdentityEndToEndTests {
    /// Distinctive, so a scan of the output cannot hit by chance; the parts are checked one by one too.
    static let secret = "Sesame-Walrus-731"

    @Test(arguments: [
        "postgresql://mynapoint:\(secret)@localhost/mynapoint",
        "postgres://u:\(secret)@/mynapoint?host=/tmp",
        "postgresql:///mynapoint?sslmode=disable&password=\(secret)",
        "postgresql:///mynapoint?pass%77ord=\(secret)",
        "host=localhost password=\(secret) dbname=mynapoint",
        "dbname=mynapoint password = 'Sesame Walrus 731'",
        // Unreadable (an unterminated quote): what it holds cannot be told, so it is refused as well.
        "host=localhost password='\(secret)",
    ])
    func aPasswordInDatabaseURLIsRefusedWithoutEchoingIt(url: String) throws {
        for arguments in [["migrate"], ["holder", "show", "ABCDEFGH", "--format", "json"], ["runs", "list"]] {
            let outcome = try Binary.run(arguments + ["--database-url", url], database: nil)
            #expect(outcome.status == 64, "\(arguments): \(outcome.stderr)")
            let output = outcome.stdout + outcome.stderr
            for part in [Self.secret, "Sesame", "Walrus", "731"] {
                #expect(!output.contains(part), "\(arguments) echoed \(part): \(output)")
            }
            #expect(outcome.stderr.contains("--database-url"))
            if url.hasSuffix("'\(Self.secret)") { continue }
            for pointer in ["PGPASSWORD", "~/.pgpass", "DATABASE_URL"] {
                #expect(outcome.stderr.contains(pointer), "\(arguments): \(outcome.stderr)")
            }
        }
    }

    @Test func withoutAPasswordOrFromTheEnvironmentTheURLIsUsed() throws {
        let database = try TemporaryDatabase.create(prefix: "e2e_url")
        defer { database.drop() }
        // The host and user come from libpq's environment (PGHOST, PGUSER) in both cases.
        let plain = try Binary.run(["migrate", "--database-url", "postgresql:///\(database.name)"], database: nil)
        #expect(plain.status == 0, "\(plain.stderr)")
        let byName = try Binary.run(["runs", "list", "--database-url", database.name], database: nil)
        #expect(byName.status == 0, "\(byName.stderr)")
        // DATABASE_URL is the owner's alone, so it may carry a password (the test server trusts the socket).
        let fromEnvironment = try Binary.run(
            ["runs", "list"], database: nil,
            environment: ["DATABASE_URL": "postgresql://postgres:\(Self.secret)@/\(database.name)"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(!(fromEnvironment.stdout + fromEnvironment.stderr).contains(Self.secret))
    }

    @Test func auditIdentityComesFromTheOperatingSystemNotTheEnvironment() throws {
        let expected = try "\(command("/usr/bin/id", "-un"))@\(command("/bin/uname", "-n"))"
        #expect(!expected.contains("mallory"))
        let deployment = try Deployment(generated: 300, faults: false)
        let spoofed = ["USER": "mallory", "LOGNAME": "mallory", "USERNAME": "mallory", "HOSTNAME": "mallory-host"]
        let migrated = try Binary.run(["migrate"], database: deployment.database, environment: spoofed)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        let settled = try deployment.settle(environment: spoofed)
        #expect(settled.status == 0, "\(settled.stderr)")
        let suspended = try Binary.run(
            ["mykey", "suspend", "NOBODY00", "--reason", "test"], database: deployment.database, environment: spoofed)
        #expect(suspended.status == 1)

        let connection = try deployment.database.connect()
        defer { connection.close() }
        let startedBy = try connection.query("SELECT DISTINCT started_by FROM runs")
        #expect(startedBy.rowCount == 1)
        #expect(try startedBy[0, 0].string() == expected)
        let actors = try connection.query("SELECT DISTINCT actor FROM audit_log")
        #expect(actors.rowCount == 1)
        #expect(try actors[0, 0].string() == expected)
        #expect(
            try connection.query("SELECT count(*) FROM audit_log WHERE action = 'campaign.record'")[0, 0].int() == 1)
    }

    /// A resident who logs in with a MyKey ID and a wrong password reads why in their language; the exit status
    /// and standard output do not change with it.
    @Test func aWrongPasswordIsToldInTheResidentsLanguage() throws {
        let database = try TemporaryDatabase.create(prefix: "e2e_holder_lang")
        defer { database.drop() }
        try #require(try Binary.run(["migrate"], database: database).status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-password-\(UUID())")
        try Data("Wrong-Password-1\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        // The password on descriptor 3, as a password manager or a script would give it.
        let launcher = ["/bin/sh", "-c", "exec \"$@\" 3<\"$MYNAPOINT_TEST_PASSWORD_FILE\"", "sh"]
        let arguments = ["apply", "PAYA", "--mykey", "AB12CD34", "--password-fd", "3"]
        var outcomes: [String: Binary.Outcome] = [:]
        for lang in ["C.UTF-8", "ja_JP.UTF-8"] {
            outcomes[lang] = try Binary.run(
                arguments, database: database,
                environment: ["LANG": lang, "MYNAPOINT_TEST_PASSWORD_FILE": file.path], launcher: launcher)
        }
        let english = try #require(outcomes["C.UTF-8"])
        let japanese = try #require(outcomes["ja_JP.UTF-8"])
        #expect(english.status == 1 && japanese.status == 1)
        #expect(english.stdout == japanese.stdout)
        #expect(
            english.stderr
                == "mynapoint: error: MyKey ID or password is wrong (or no password is set: log in with the card)\n")
        #expect(
            japanese.stderr == "mynapoint: エラー: マイキーIDまたはパスワードが違います（パスワードを設定していない場合は、カードでログインしてください）\n")
        // A full-width MyKey ID, as a Japanese input method types it, is the same ID.
        let byLang = try Binary.run(
            ["apply", "PAYA", "--mykey", "ＡＢ１２ＣＤ３４", "--password-fd", "3", "--lang", "ja"], database: database,
            environment: ["MYNAPOINT_TEST_PASSWORD_FILE": file.path], launcher: launcher)
        #expect(byLang.stderr == japanese.stderr && byLang.status == 1)
    }

    /// A user id without a password-database entry is named by its number (containers run with arbitrary ids).
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func aUserIDWithoutAnEntryIsNamedByItsNumber() throws {
        let uid: UInt32 = 54_321
        try #require(getpwuid(uid) == nil)
        let database = try TemporaryDatabase.create(prefix: "e2e_uid")
        defer { database.drop() }
        let outcome = try Binary.run(
            ["migrate"], database: database, environment: ["USER": "mallory"],
            launcher: ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let connection = try database.connect()
        defer { connection.close() }
        let actors = try connection.query("SELECT DISTINCT actor FROM audit_log")
        #expect(actors.rowCount == 1)
        #expect(try actors[0, 0].string() == "uid \(uid)@\(command("/bin/uname", "-n"))")
    }

    /// The first line a system command prints.
    func command(_ path: String, _ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
