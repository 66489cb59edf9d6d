import DropFormat
import Foundation
import Ledger
import Logging

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

/// Writes a committed run's result files and moves its inputs, from what the database holds, so a restart after
/// any crash delivers exactly the same files (settlement spec §6, §7.3).
///
/// Moves are tied to content (§11.4): an
/// inbox entry moves only while it is still what the run read; one replaced in the meantime stays in the inbox
/// and is a new drop for the next run.
enum Delivery {
    /// How an inbox entry compares with what the run decided on.
    private enum Presence {
        case absent
        case same
        case replaced
    }

    /// What a delivery did.
    struct Delivered {
        /// Inputs left in the inbox because they were replaced after the run read them.
        var leftInInbox: [String]
        /// When the files were all in place and the run was about to be marked delivered.
        var finishedAt: Date
    }

    /// Delivers run `run` and marks it delivered, recording its duration from `started` when the run is this
    /// process's own (nil when recovering an earlier invocation's run).
    @discardableResult
    static func deliver(
        run: Int64, ledger: Ledger, folders: DropFolders, opened: [String: FileIdentity] = [:], started: Date? = nil,
        logger: Logger? = nil
    ) throws -> Delivered {
        var left: [String] = []
        // The folders' fsyncs wait until every file is in place, and happen before the run is marked delivered.
        let pending = FolderSync()
        for file in try ledger.deliveryFiles(run: run) {
            let stem =
                file.rawName.map { Array($0.dropLast(ProviderFile.dataSuffix.utf8.count)) }
                ?? Array(file.name.utf8.dropLast(ProviderFile.dataSuffix.utf8.count))
            let inbox = ProviderFile(stemBytes: stem)
            let data = EntryPath(folder: folders.inbox, name: inbox.dataEntry)
            let control = EntryPath(folder: folders.inbox, name: inbox.controlEntry)
            if file.outcome != .quarantined, let result = file.result {
                // One file's bytes at a time, read when written.
                try writeResult(
                    result, bytes: try ledger.resultBytes(of: file), provider: file.providerID ?? "_", folders: folders,
                    folderSync: pending)
            }
            let dataPresence = try presence(data, digest: file.sha256, identity: opened[file.name])
            let controlPresence = try presence(control, digest: file.controlSHA256, identity: nil)
            if dataPresence == .replaced || controlPresence == .replaced {
                left.append(file.name)
                logger?.warning(
                    "input replaced since the run read it; left in the inbox for the next run",
                    metadata: ["file": "\(file.name)", "run_id": "\(run)"])
                continue
            }
            switch file.outcome {
            case .settled, .alreadySettled:
                let archive = folders.archive + "/" + (file.providerID ?? "_")
                try FileOperations.makeDirectory(archive)
                if dataPresence == .same {
                    try FileOperations.move(data, to: EntryPath(folder: archive, name: data.name), folderSync: pending)
                }
                CrashPoint.reach("archive-data")
                if controlPresence == .same {
                    // A file sent again (already settled) may come with another control file: the archived one of
                    // the settled file is kept, not overwritten.
                    let archived = EntryPath(folder: archive, name: control.name)
                    if try FileOperations.kind(archived) != .missing, !sameControl(control, archived) {
                        try keepEarlier(control.name, run: run, folder: archive)
                    }
                    try FileOperations.move(control, to: archived, folderSync: pending)
                }
                CrashPoint.reach("archive-control")
            case .quarantined:
                guard let verdict = file.quarantine, dataPresence == .same || controlPresence == .same else { continue }
                try quarantine(
                    verdict, data: dataPresence == .same ? data : nil,
                    control: controlPresence == .same ? control : nil,
                    stem: stem, run: run, folders: folders)
            }
        }
        pending.synchronize()
        CrashPoint.reach("delivered")
        let finished = Date()
        try ledger.markDelivered(
            run: run,
            durationMilliseconds: started.map { Int64((finished.timeIntervalSince($0) * 1000).rounded()) })
        CrashPoint.reach("marked")
        return Delivered(leftInInbox: left, finishedAt: finished)
    }

    /// Writes a settled file's result and result control file, unless they are already there byte for byte.
    private static func writeResult(
        _ result: (name: String, control: String), bytes: [UInt8], provider: String, folders: DropFolders,
        folderSync pending: FolderSync
    ) throws {
        let outbox = folders.outbox + "/" + provider
        try FileOperations.makeDirectory(outbox)
        let resultPath = EntryPath(folder: outbox, name: EntryName(result.name))
        if !FileOperations.hasContents(resultPath, bytes) {
            try FileOperations.writeAtomically(bytes, folder: outbox, name: resultPath.name, folderSync: pending)
        }
        CrashPoint.reach("result-file")
        let controlName = EntryName(String(result.name.dropLast(".csv.zst".count)) + ".ctl")
        let controlBytes = Array(result.control.utf8)
        if !FileOperations.hasContents(EntryPath(folder: outbox, name: controlName), controlBytes) {
            try FileOperations.writeAtomically(controlBytes, folder: outbox, name: controlName, folderSync: pending)
        }
        CrashPoint.reach("result-control")
    }

    /// Writes `{stem}.error.json` and moves what is still there of the pair into quarantine.
    private static func quarantine(
        _ verdict: FileRegistration.Quarantine, data: EntryPath?, control: EntryPath?,
        stem: [UInt8], run: Int64, folders: DropFolders
    ) throws {
        try FileOperations.makeDirectory(folders.quarantine)
        let inboxName = data?.name ?? control?.name ?? EntryName(bytes: stem)
        let lineJSON = verdict.line.map(String.init) ?? "null"
        let json = Array(
            "{\"code\": \(jsonString(verdict.code)), \"message\": \(jsonString(verdict.message)), \"line\": \(lineJSON)}\n"
                .utf8)
        let reasonName = EntryName.derived(stem: stem, suffix: ".error.json", inboxName: inboxName)
        if !FileOperations.hasContents(EntryPath(folder: folders.quarantine, name: reasonName), json) {
            try keepEarlier(reasonName, run: run, folder: folders.quarantine)
            try FileOperations.writeAtomically(json, folder: folders.quarantine, name: reasonName)
        }
        CrashPoint.reach("quarantine-reason")
        for source in [data, control].compactMap({ $0 }) {
            try keepEarlier(source.name, run: run, folder: folders.quarantine)
            try FileOperations.move(source, to: EntryPath(folder: folders.quarantine, name: source.name))
            CrashPoint.reach(source.name == data?.name ? "quarantine-data" : "quarantine-control")
        }
    }

    /// Whether the inbox still holds what the run decided on: the same bytes for a file it read (`digest`), or an
    /// entry that is not a regular file where it read none (empty `digest`).
    private static func presence(_ path: EntryPath, digest: [UInt8], identity: FileIdentity?) throws -> Presence {
        let kind = try FileOperations.kind(path)
        if kind == .missing { return .absent }
        if digest.isEmpty {
            guard kind == .regular else { return .same }
            // A regular file with other names (a hard link) was refused unread like a link: still what was decided.
            if case .failure(.notAFile(_, hardLink: true)) = FileOperations.openRegular(path) { return .same }
            return .replaced
        }
        switch FileOperations.openRegular(path) {
        case .success(let opened):
            if let identity, identity == opened.identity { return .same }
            return try opened.sha256() == digest ? .same : .replaced
        case .failure(.missing): return .absent
        case .failure(.notAFile): return .replaced
        case .failure(.failed(let error)): throw error
        }
    }

    /// True when the archived control file has the inbox control file's bytes.
    private static func sameControl(_ inbox: EntryPath, _ archived: EntryPath) -> Bool {
        guard case .success(let file) = FileOperations.openRegular(inbox),
            let bytes = try? file.readAll(limit: Admission.maxControlBytes)
        else { return false }
        return FileOperations.hasContents(archived, bytes)
    }

    /// A quarantined file of the same name from an earlier run is kept under a suffixed name, not overwritten.
    private static func keepEarlier(_ name: EntryName, run: Int64, folder: String) throws {
        let path = EntryPath(folder: folder, name: name)
        guard try FileOperations.kind(path) != .missing else { return }
        let kept = EntryName.derived(stem: name.bytes, suffix: ".before-run-\(run)", inboxName: name)
        try FileOperations.move(path, to: EntryPath(folder: folder, name: kept))
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
