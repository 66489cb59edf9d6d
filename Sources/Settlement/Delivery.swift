import Foundation
import Ledger

/// The folders a run reads from and writes to.
public struct DropFolders: Sendable {
    /// Where providers drop files.
    public var inbox: String
    /// Where result files go, per provider.
    public var outbox: String
    /// Where settled inputs go, per provider.
    public var archive: String
    /// Where bad files go, with their reason.
    public var quarantine: String

    /// The four folders.
    public init(inbox: String, outbox: String, archive: String, quarantine: String) {
        self.inbox = inbox
        self.outbox = outbox
        self.archive = archive
        self.quarantine = quarantine
    }
}

/// Writes a committed run's result files and moves its inputs, from what the database holds, so a
/// restart after any crash delivers exactly the same files (settlement spec §6, §7.3).
enum Delivery {
    static func deliver(run: Int64, ledger: Ledger, folders: DropFolders) throws {
        for file in try ledger.deliveryFiles(run: run) {
            let stem = String(file.name.dropLast(ProviderFile.dataSuffix.count))
            let control = stem + ProviderFile.controlSuffix
            switch file.outcome {
            case .settled, .alreadySettled:
                let provider = file.providerID ?? "_"
                if let result = file.result {
                    let outbox = folders.outbox + "/" + provider
                    try FileOperations.makeDirectory(outbox)
                    let resultPath = outbox + "/" + result.name
                    if !FileOperations.hasContents(resultPath, result.bytes) {
                        try FileOperations.writeAtomically(result.bytes, to: resultPath)
                    }
                    CrashPoint.reach("result-file")
                    let controlName = String(result.name.dropLast(".csv.zst".count)) + ".ctl"
                    let controlBytes = Array(result.control.utf8)
                    if !FileOperations.hasContents(outbox + "/" + controlName, controlBytes) {
                        try FileOperations.writeAtomically(controlBytes, to: outbox + "/" + controlName)
                    }
                    CrashPoint.reach("result-control")
                }
                let archive = folders.archive + "/" + provider
                try FileOperations.makeDirectory(archive)
                try FileOperations.move(folders.inbox + "/" + file.name, to: archive + "/" + file.name)
                CrashPoint.reach("archive-data")
                try FileOperations.move(folders.inbox + "/" + control, to: archive + "/" + control)
                CrashPoint.reach("archive-control")
            case .quarantined:
                guard let verdict = file.quarantine else { continue }
                try FileOperations.makeDirectory(folders.quarantine)
                // Only what is still in the inbox moves; a quarantined file of the same name from an earlier
                // run is kept under another name, never overwritten.
                let source = folders.inbox + "/" + file.name
                let sourceControl = folders.inbox + "/" + control
                let dataPending = FileManager.default.fileExists(atPath: source)
                let controlPending = FileManager.default.fileExists(atPath: sourceControl)
                guard dataPending || controlPending else { continue }
                let lineJSON = verdict.line.map(String.init) ?? "null"
                let json = Array(
                    "{\"code\": \(jsonString(verdict.code)), \"message\": \(jsonString(verdict.message)), \"line\": \(lineJSON)}\n"
                        .utf8)
                let reasonPath = folders.quarantine + "/" + stem + ".error.json"
                if !FileOperations.hasContents(reasonPath, json) {
                    try keepEarlier(reasonPath, run: run)
                    try FileOperations.writeAtomically(json, to: reasonPath)
                }
                CrashPoint.reach("quarantine-reason")
                if dataPending {
                    try keepEarlier(folders.quarantine + "/" + file.name, run: run)
                    try FileOperations.move(source, to: folders.quarantine + "/" + file.name)
                }
                CrashPoint.reach("quarantine-data")
                if controlPending {
                    try keepEarlier(folders.quarantine + "/" + control, run: run)
                    try FileOperations.move(sourceControl, to: folders.quarantine + "/" + control)
                }
            }
        }
        CrashPoint.reach("delivered")
        try ledger.markDelivered(run: run)
        CrashPoint.reach("marked")
    }

    /// A quarantined file of the same name from an earlier run is kept under a suffixed name, not overwritten.
    private static func keepEarlier(_ path: String, run: Int64) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        try FileOperations.move(path, to: path + ".before-run-\(run)")
    }

    /// A JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
