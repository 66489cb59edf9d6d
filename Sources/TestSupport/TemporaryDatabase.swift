import Foundation
public import Postgres
import Synchronization

/// A database created for one test on the server libpq's environment names, so parallel tests never share one.
///
/// Call `drop()` when done (a `defer` right after `create`); databases left behind vanish with the private cluster,
/// which `Scripts/test.sh` creates afresh for every run.
public final class TemporaryDatabase: Sendable {
    /// Why a temporary database could not be made.
    public struct SetupError: Error, CustomStringConvertible {
        /// What went wrong, and what to do.
        public let description: String
    }

    private static let counter = Atomic<Int>(0)

    /// The database's name: the prefix, the process ID, a per-process counter and a random suffix.
    public let name: String

    private init(name: String) {
        self.name = name
    }

    /// A conninfo string naming this database; libpq's environment supplies the host, port and user.
    public var url: String { "dbname=\(name)" }

    /// Creates a new database with a unique name starting with `prefix`: empty, or a copy of `template` (which no
    /// session may be connected to), so many tests can start from one migrated and loaded database cheaply.
    public static func create(prefix: String = "test", template: String? = nil) throws -> TemporaryDatabase {
        guard let host = ProcessInfo.processInfo.environment["PGHOST"], !host.isEmpty else {
            throw SetupError(
                description: """
                    PGHOST is not set: these tests need the private PostgreSQL cluster; run them through \
                    Scripts/test.sh (or source Scripts/services.sh and call start_postgres first)
                    """)
        }
        let cleanPrefix = String(prefix.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        let number = counter.add(1, ordering: .relaxed).newValue
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let name = "\(cleanPrefix.prefix(30))_\(ProcessInfo.processInfo.processIdentifier)_\(number)_\(suffix)"
        let admin = try PostgresConnection.connect(url: "dbname=postgres", applicationName: "mynapoint-tests")
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \"\(name)\"" + (template.map { " TEMPLATE \"\($0)\"" } ?? ""))
        return TemporaryDatabase(name: name)
    }

    /// Opens a new connection to this database.
    public func connect() throws -> PostgresConnection {
        try PostgresConnection.connect(url: url, applicationName: "mynapoint-tests")
    }

    /// Drops the database, ending any sessions still connected to it; errors are ignored (best-effort cleanup).
    public func drop() {
        guard let admin = try? PostgresConnection.connect(url: "dbname=postgres", applicationName: "mynapoint-tests")
        else { return }
        defer { admin.close() }
        try? admin.execute("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
    }
}
