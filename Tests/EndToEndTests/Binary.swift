import Foundation
import Postgres
import TestSupport
import Testing

/// The built `mynapoint` executable, run as an operator would.
struct Binary {
    struct Outcome {
        var status: Int32
        var killedBySignal: Int32?
        var stdout: String
        var stderr: String
    }

    static var path: String {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // swift test runs .build/<config>/<package>PackageTests.xctest; the product sits beside it.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("mynapoint").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return ".build/debug/mynapoint"
    }

    /// Runs `mynapoint` with arguments against `database`, waiting for it to end; through `launcher` (a command
    /// that runs the rest of its arguments, such as `setpriv …`) when one is given.
    @discardableResult
    static func run(
        _ arguments: [String], database: TemporaryDatabase?, environment extra: [String: String] = [:],
        cwd: String? = nil, launcher: [String] = []
    ) throws
        -> Outcome
    {
        let process = Process()
        let command = launcher + [path] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        if let database { environment["PGDATABASE"] = database.name }
        environment["MYNAPOINT_LOG_LEVEL"] = "error"
        environment.removeValue(forKey: "MYNAPOINT_CRASH_AT")
        environment.removeValue(forKey: "MYNAPOINT_PAUSE_AT")
        // English unless a test asks for another locale: the machine's own locale must not change what tests read.
        environment.removeValue(forKey: "LC_ALL")
        environment.removeValue(forKey: "LC_MESSAGES")
        environment["LANG"] = "C.UTF-8"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs, so a full pipe never blocks it.
        let outData = LockedData()
        let errData = LockedData()
        let group = DispatchGroup()
        for (pipe, sink) in [(out, outData), (err, errData)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        process.waitUntilExit()
        group.wait()
        let signal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        return Outcome(
            status: process.terminationStatus, killedBySignal: signal,
            stdout: String(decoding: outData.value, as: UTF8.self),
            stderr: String(decoding: errData.value, as: UTF8.self))
    }
}

extension Binary {
    /// An environment whose configuration sets `provider_language` to `language` (`en`, `ja`), so a test can read
    /// the sentences providers are given in the language it expects.
    static func providerLanguage(_ language: String) throws -> [String: String] {
        let path = FileManager.default.temporaryDirectory.path + "/mynapoint-provider-\(language)-\(getpid()).json"
        try Data("{\"provider_language\": \"\(language)\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        return ["MYNAPOINT_CONFIG": path]
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) {
        lock.lock()
        data = value
        lock.unlock()
    }
    var value: Data {
        lock.lock()
        defer { lock.unlock() }
        return data
    }
}

/// A database, migrated and loaded with a registry, and a workspace with a drop (immutable after set-up).
final class Deployment: @unchecked Sendable {
    let database: TemporaryDatabase
    let workspace: DropWorkspace

    init(generated records: Int = 0, faults: Bool = true, example: Bool = false, providers: Int = 3) throws {
        database = try TemporaryDatabase.create(prefix: "e2e")
        workspace = try DropWorkspace()
        let migrated = try Binary.run(["migrate"], database: database)
        guard migrated.status == 0 else { throw SetupFailure(what: "migrate", outcome: migrated) }
        if example {
            let registry = DropWorkspace.fixtures() + "/example/registry"
            try workspace.copyIntoInbox(from: DropWorkspace.fixtures() + "/example/inbox")
            let imported = try Binary.run(["registry", "import", registry], database: database)
            guard imported.status == 0 else { throw SetupFailure(what: "registry import", outcome: imported) }
        } else {
            var arguments = [
                "generate", "--registry", workspace.registry, "--inbox", workspace.inbox, "--holders", "500",
                "--records", String(records), "--providers", String(providers), "--files-per-provider", "2",
                "--seed", "7",
            ]
            if faults { arguments.append("--faults") }
            let generated = try Binary.run(arguments, database: nil)
            guard generated.status == 0 else { throw SetupFailure(what: "generate", outcome: generated) }
            let imported = try Binary.run(["registry", "import", workspace.registry], database: database)
            guard imported.status == 0 else { throw SetupFailure(what: "registry import", outcome: imported) }
        }
    }

    deinit {
        database.drop()
        workspace.remove()
    }

    var folderArguments: [String] {
        [
            "--inbox", workspace.inbox, "--outbox", workspace.outbox, "--archive", workspace.archive, "--quarantine",
            workspace.quarantine,
        ]
    }

    @discardableResult
    func settle(_ extra: [String] = [], environment: [String: String] = [:]) throws -> Binary.Outcome {
        try Binary.run(["settle"] + folderArguments + extra, database: database, environment: environment)
    }

    /// The database's settlement state, without run numbers, IDs or times, for comparing two histories.
    func state() throws -> String {
        let connection = try database.connect()
        defer { connection.close() }
        var out = ""
        for sql in [
            "SELECT provider_key, record_id, holder_key, line, occurred_at_ns, amount, points, reason FROM grants ORDER BY 1, 2",
            "SELECT holder_key, cap_points, points, eligible_amount, records FROM ledger ORDER BY 1",
            """
            SELECT name, outcome, encode(sha256, 'hex'), quarantine_code, quarantine_line, records, granted_records, points,
                   result_name, encode(result_sha256, 'hex') FROM files ORDER BY name, outcome
            """,
            "SELECT f.name, o.reason, o.records, o.points FROM file_outcomes o JOIN files f USING (file_id) ORDER BY 1, 2",
            "SELECT count(*) FROM runs WHERE delivered_at IS NULL",
        ] {
            let result = try connection.query(sql)
            for row in result {
                out += (0..<row.columnCount).map { row[$0].optionalString() ?? "NULL" }.joined(separator: "|") + "\n"
            }
            out += "--\n"
        }
        return out
    }
}

struct SetupFailure: Error, CustomStringConvertible {
    var what: String
    var outcome: Binary.Outcome
    var description: String { "\(what) exited \(outcome.status): \(outcome.stderr)" }
}
