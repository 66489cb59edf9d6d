import Foundation
import Postgres
import Registry
import Rules
import Settlement
import TestSupport
import Testing
import Zstd

@testable import Ledger

/// Runs `body` with a ledger over a fresh database (migrated unless asked otherwise); drops the database afterwards.
func withLedger<T>(migrated: Bool = true, _ body: (Ledger, TemporaryDatabase) throws -> T) throws -> T {
    let database = try TemporaryDatabase.create(prefix: "ledger")
    defer { database.drop() }
    let ledger = Ledger(connection: try database.connect())
    defer { ledger.connection.close() }
    if migrated { try ledger.migrate() }
    return try body(ledger, database)
}

/// The worked example's registry folder.
var exampleRegistry: String { DropWorkspace.fixtures() + "/example/registry" }

/// The lines of one of the example registry's files, header included.
func exampleLines(_ name: String) throws -> [String] {
    let data = try #require(FileManager.default.contents(atPath: exampleRegistry + "/" + name))
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}

/// A temporary registry folder, removed when the value goes away.
final class RegistryFolder {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory.path
            + "/mynapoint-registry-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A folder holding a copy of the example registry.
    static func example() throws -> RegistryFolder {
        let folder = try RegistryFolder()
        for name in try FileManager.default.contentsOfDirectory(atPath: exampleRegistry) {
            try FileManager.default.copyItem(atPath: exampleRegistry + "/" + name, toPath: folder.path + "/" + name)
        }
        return folder
    }

    /// Writes `name` with these lines, each ended by LF.
    func write(_ name: String, _ lines: [String]) throws {
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    /// Writes `name` (ending `.csv.zst`) as these lines, zstd-compressed.
    func writeCompressed(_ name: String, _ lines: [String]) throws {
        let compressed = try Zstd.compress(Array(lines.map { $0 + "\n" }.joined().utf8))
        try Data(compressed).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    /// Removes `name` from the folder.
    func remove(_ name: String) throws {
        try FileManager.default.removeItem(atPath: path + "/" + name)
    }

    /// Reads the folder as the `registry import` command does.
    func read() throws -> RegistryLoad { try RegistryReader.read(directory: path) }
}

/// Headers of the registry files (settlement spec §8).
enum Header {
    static let providers = "provider_id,name"
    static let holders = "mykey_id,status,provider_id,applied_at"
    static let certificates = "serial,mykey_id,not_before,not_after,revoked_at"
    static let changes = "old_mykey_id,new_mykey_id,changed_at"
}

/// Reads and imports a registry folder.
@discardableResult
func importFolder(_ ledger: Ledger, _ directory: String) throws -> RegistryImportCounts {
    try ledger.importRegistry(try RegistryReader.read(directory: directory))
}

/// The number of rows of `table`, optionally filtered.
func rowCount(_ ledger: Ledger, _ table: String, where condition: String = "true") throws -> Int64 {
    try ledger.connection.query("SELECT count(*) FROM \(table) WHERE \(condition)")[0, 0].int()
}

/// Row count and a digest of every row of each registry table and the audit log: equal fingerprints mean nothing
/// was inserted, updated or deleted in between.
func fingerprint(_ ledger: Ledger) throws -> [String: String] {
    var tables: [String: String] = [:]
    for table in [
        "providers", "holders", "mykey_ids", "applications", "certificates", "certificate_revocations", "audit_log",
    ] {
        let result = try ledger.connection.query(
            "SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM \(table) t"
        )
        tables[table] = try result[0, 0].string()
    }
    return tables
}

/// Expects reading and importing `directory` to fail naming `file` and `line`, with a message containing
/// `mentioning`, and leave every registry table exactly as it was.
@discardableResult
func expectImportFailure(
    _ ledger: Ledger, _ directory: String, file: String, line: Int?, mentioning fragment: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> RegistryImportError? {
    let before = try fingerprint(ledger)
    let error = #expect(throws: RegistryImportError.self, sourceLocation: sourceLocation) {
        try importFolder(ledger, directory)
    }
    #expect(error?.file == file, sourceLocation: sourceLocation)
    #expect(error?.line == line, sourceLocation: sourceLocation)
    #expect(error?.message.contains(fragment) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    #expect(error?.description.contains("nothing was imported") == true, sourceLocation: sourceLocation)
    #expect(try fingerprint(ledger) == before, "a failed import changed the database", sourceLocation: sourceLocation)
    return error
}

/// An instant from RFC 3339 text.
func instant(_ text: String) throws -> Instant { try #require(RFC3339.parse(text)) }

/// A MyKey ID from text.
func myKey(_ text: String) throws -> MyKeyID { try #require(MyKeyID(text)) }

/// Expects `body` to fail in PostgreSQL with `sqlState` (and `constraint`, when given).
@discardableResult
func expectViolation(
    sqlState: String, constraint: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> PostgresError? {
    let error = #expect(throws: PostgresError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.sqlState == sqlState, "\(String(describing: error))", sourceLocation: sourceLocation)
    if let constraint {
        #expect(error?.constraint == constraint, "\(String(describing: error))", sourceLocation: sourceLocation)
    }
    return error
}
