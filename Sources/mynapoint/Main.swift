import ArgumentParser
import Foundation
import Logging

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
            or --database-url / DATABASE_URL.
            """,
        version: version,
        subcommands: [
            Migrate.self, RegistryCommand.self, Settle.self, HolderCommand.self, Report.self, Generate.self, Register.self, MyKeyCommand.self, ApplyCommand.self, CertificateCommand.self, CRLCommand.self,
        ]
    )
}

/// Options every database command takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "postgresql:// URL or conninfo (default: DATABASE_URL, then libpq's environment).")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = ProcessInfo.processInfo.environment["MYNAPOINT_LOG_LEVEL"] ?? "error"

    var url: String? { databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"] }

    func logger(_ label: String) -> Logger {
        Output.bootstrapLogging(level: Logger.Level(rawValue: logLevel) ?? .notice)
        return Logger(label: label)
    }
}

/// Terminal output: one clear line per failure, on standard error.
enum Output {
    nonisolated(unsafe) private static var bootstrapped = false

    static func bootstrapLogging(level: Logger.Level) {
        guard !bootstrapped else { return }
        bootstrapped = true
        LoggingSystem.bootstrap { label in
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

    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
}
