import Crypto
import DropFormat
import Foundation
import Zstd

/// A temporary provider-drop layout for tests: inbox, outbox, archive, quarantine and registry folders.
public final class DropWorkspace: @unchecked Sendable {
    /// The workspace's root folder.
    public let root: String

    /// Makes a new, empty workspace under the system's temporary folder.
    public init(prefix: String = "mynapoint") throws {
        let base = FileManager.default.temporaryDirectory.path + "/\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))"
        root = base
        for folder in ["inbox", "outbox", "archive", "quarantine", "registry"] {
            try FileManager.default.createDirectory(atPath: base + "/" + folder, withIntermediateDirectories: true)
        }
    }

    /// The folder providers drop data and control files into; `drop` writes here.
    public var inbox: String { root + "/inbox" }
    /// The folder result files go to, one subfolder per provider.
    public var outbox: String { root + "/outbox" }
    /// The folder settled files are moved to.
    public var archive: String { root + "/archive" }
    /// The folder refused files are moved to.
    public var quarantine: String { root + "/quarantine" }
    /// The folder for the registry's CSV files.
    public var registry: String { root + "/registry" }

    /// Removes the workspace.
    public func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// Drops a data file made of `csv` (compressed) and a matching control file; returns the data file's name.
    ///
    /// `records` and `amountTotal` default to what the CSV holds (five-field lines, after the header).
    @discardableResult
    public func drop(
        _ name: String, csv: String, records: Int? = nil, amountTotal: Int? = nil, sha256: String? = nil,
        controlFile: String? = nil
    ) throws -> String {
        let compressed = try Zstd.compress(Array(csv.utf8))
        return try drop(
            name, bytes: compressed, csv: csv, records: records, amountTotal: amountTotal, sha256: sha256,
            controlFile: controlFile)
    }

    /// Drops a data file with exactly these bytes, and a control file describing `csv`.
    @discardableResult
    public func drop(
        _ name: String, bytes: [UInt8], csv: String, records: Int? = nil, amountTotal: Int? = nil,
        sha256: String? = nil,
        controlFile: String? = nil
    ) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: inbox + "/" + name))
        let counted = Self.count(csv)
        let digest = sha256 ?? SHA256.hash(bytes).hexString
        let control =
            controlFile
            ?? ControlFile(
                file: name, sha256: digest, records: records ?? counted.records,
                amountTotal: amountTotal ?? counted.amount
            ).json
        let stem = name.hasSuffix(".csv.zst") ? String(name.dropLast(8)) : name
        try Data(control.utf8).write(to: URL(fileURLWithPath: inbox + "/" + stem + ".ctl"))
        return name
    }

    /// Data lines and the sum of the fourth field over five-field lines, as a provider would count them.
    static func count(_ csv: String) -> (records: Int, amount: Int) {
        // Bytes, not Characters: in a String "\r\n" is one Character, so splitting at "\n" would miss CRLF ends.
        var lines = Array(csv.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).map {
            $0.last == 0x0D ? $0.dropLast() : $0
        }
        lines = Array(lines.dropFirst())
        var records = 0
        var amount = 0
        for line in lines where !line.isEmpty {
            records += 1
            let fields = line.split(separator: 0x2C, omittingEmptySubsequences: false)
            if fields.count == 5 {
                amount += Int(String(decoding: fields[3].filter { $0 != 0x22 }, as: UTF8.self)) ?? 0
            }
        }
        return (records, amount)
    }

    /// The decompressed text of a result file in the outbox, or nil when there is none.
    public func result(provider: String, stem: String) throws -> String? {
        guard let data = FileManager.default.contents(atPath: outbox + "/\(provider)/\(stem).result.csv.zst") else {
            return nil
        }
        return String(decoding: try Zstd.decompress(Array(data)), as: UTF8.self)
    }

    /// Every file under the workspace (relative paths) with its bytes, for comparing two runs.
    public func snapshot(of folders: [String] = ["inbox", "outbox", "archive", "quarantine"]) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for folder in folders {
            let base = root + "/" + folder
            guard let enumerator = FileManager.default.enumerator(atPath: base) else { continue }
            while let path = enumerator.nextObject() as? String {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: base + "/" + path, isDirectory: &isDirectory),
                    !isDirectory.boolValue,
                    let data = FileManager.default.contents(atPath: base + "/" + path)
                {
                    files[folder + "/" + path] = Array(data)
                }
            }
        }
        return files
    }

    /// Copies every file of a folder into the inbox.
    public func copyIntoInbox(from folder: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: inbox + "/" + name)
        }
    }

    /// The repository's `Tests/Fixtures` folder.
    public static func fixtures(file: String = #filePath) -> String {
        var url = URL(fileURLWithPath: file)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("Tests/Fixtures").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return "Tests/Fixtures"
    }
}
