import ArgumentParser
import Foundation
import Logging
import Postgres

@main
struct Mynapoint: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mynapoint",
        abstract: "Settles Mynapoint premium points for cashless payment providers, exactly once.",
        discussion: """
            Providers drop zstd-compressed record files with control files into an inbox; `settle` checks them,
            grants the 25 % premium up to the cap once per record in PostgreSQL, and writes a result file per input.
            The database comes from libpq's environment (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ~/.pgpass)
            or DATABASE_URL / --database-url (which must not carry a password: other users can read arguments).
            Text for people is in the locale's language (LC_ALL, LC_MESSAGES, LANG: ja_JP.UTF-8 is Japanese, anything
            else English), or the configuration's `language`, or `--lang ja|en` before or after any command.
            Machine-readable output (JSON, CSV, result files, codes, exit codes) is the same in every language.
            """,
        version: version,
        subcommands: [
            Migrate.self, RegistryCommand.self, Settle.self, HolderCommand.self, Report.self, Verify.self, Runs.self,
            Check.self, PackCommand.self, Generate.self, Register.self, MyKeyCommand.self, ApplyCommand.self,
            CertificateCommand.self,
            CRLCommand.self,
        ]
    )

    /// Parses and runs the command; a usage error exits 64 with its message, never echoing the value given
    /// (it may be a misplaced individual number or a secret).
    static func main() {
        do {
            let arguments = try LanguageArgument.extract(from: Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let error where error is ExitCode || exitCode(for: error) == .success {
            exit(withError: error)  // our own one-line failures, help and version
        } catch {
            let message = UsageMessage.redacting(fullMessage(for: error))
            FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }
}

/// Usage messages without the values a person typed.
enum UsageMessage {
    /// `message` with every quoted value on its `Error:` line that is not an option name replaced by
    /// `(the value given)`; help and usage lines, which hold only the program's own text, stay as they are.
    static func redacting(_ message: String) -> String {
        message.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("Error:") ? redactingQuotes(line) : String(line)
        }.joined(separator: "\n")
    }

    private static func redactingQuotes(_ line: Substring) -> String {
        var out = ""
        var rest = line
        while let open = rest.firstIndex(of: "'") {
            let after = rest.index(after: open)
            guard let close = rest[after...].firstIndex(of: "'") else { break }
            let quoted = rest[after..<close]
            out += rest[..<open]
            out += quoted.hasPrefix("-") ? "'\(quoted)'" : "(the value given)"
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

/// Options every database command takes.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: """
            postgresql:// URL or conninfo, without a password (default: DATABASE_URL, then libpq's environment); \
            give the password in PGPASSWORD, ~/.pgpass or DATABASE_URL.
            """)
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = ProcessInfo.processInfo.environment["MYNAPOINT_LOG_LEVEL"] ?? "error"

    @Option(
        name: .customLong("log-format"),
        help: "text, or json: one JSON object per line on standard error (default: $MYNAPOINT_LOG_FORMAT, then text).")
    var logFormat: String = ProcessInfo.processInfo.environment["MYNAPOINT_LOG_FORMAT"] ?? "text"

    func validate() throws {
        if let databaseURL { try Self.refuseSecrets(in: databaseURL) }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical")
        }
    }

    var url: String? { databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"] }

    /// Refuses a `--database-url` that carries a password: any user can read a process's arguments (`ps`,
    /// `/proc/PID/cmdline`), while the environment and files are the owner's.
    ///
    /// Never echoes the value.
    static func refuseSecrets(in databaseURL: String) throws {
        switch ConnectionString.passwordPresence(databaseURL) {
        case .none:
            return
        case .present:
            throw ValidationError(
                "--database-url must not carry a password: other users can read it in the process list; "
                    + "give the password in PGPASSWORD or ~/.pgpass, or the whole URL in DATABASE_URL")
        case .unreadable:
            throw ValidationError(
                "--database-url is neither a postgresql:// URL nor a conninfo string (key=value …) that libpq can read")
        }
    }

    func logger(_ label: String) -> Logger {
        Output.bootstrapLogging(level: Logger.Level(rawValue: logLevel) ?? .notice, json: logFormat == "json")
        return Logger(label: label)
    }
}

/// Terminal output: one clear line per failure, on standard error.
enum Output {
    nonisolated(unsafe) private static var bootstrapped = false

    static func bootstrapLogging(level: Logger.Level, json: Bool = false) {
        guard !bootstrapped else { return }
        bootstrapped = true
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    static func fail(_ message: String, code: Int32 = 1) -> ExitCode {
        FileHandle.standardError.write(Data("mynapoint: error: \(message)\n".utf8))
        return ExitCode(code)
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
    }

    /// Pretty, key-sorted JSON text with a final newline.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// Writes text to standard output, or atomically to a file.
    static func write(_ text: String, to path: String?) throws {
        guard let path else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw fail("cannot write \(path): \(error.localizedDescription); check the folder exists and is writable")
        }
    }

    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
}
