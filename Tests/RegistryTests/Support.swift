import Foundation
import Ledger
import Registry
import TestSupport
import Testing
import Zstd

/// The worked example's registry folder.
var exampleRegistry: String { DropWorkspace.fixtures() + "/example/registry" }

/// A temporary folder, removed when the value goes away.
final class InputFolder {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory.path
            + "/mynapoint-registry-input-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `name` with these lines, each ended by LF.
    func write(_ name: String, _ lines: [String]) throws {
        try write(name, text: lines.map { $0 + "\n" }.joined())
    }

    /// Writes `name` with exactly this text.
    func write(_ name: String, text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + name))
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
    func read() throws(RegistryInputError) -> RegistryLoad { try RegistryReader.read(directory: path) }
}

/// Headers of the registry files (settlement spec §8).
enum Header {
    static let providers = "provider_id,name"
    static let holders = "mykey_id,status,provider_id,applied_at"
    static let certificates = "serial,mykey_id,not_before,not_after,revoked_at"
    static let changes = "old_mykey_id,new_mykey_id,changed_at"
}
