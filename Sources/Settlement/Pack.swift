import Crypto
public import DropFormat
import Foundation
import Rules
import SystemPackage
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// Makes a drop pair from a plain CSV (`mynapoint pack`): the data file compressed with zstd (frame checksums on),
/// the control file with the records and amount total counted as settlement counts them, both checked by
/// ``Preflight`` before either appears under its final name.
public enum Pack {
    /// What `pack` did.
    public enum Outcome: Sendable {
        /// Both files are in the output folder, data file first; `check` is the pre-flight's verdict on them.
        case packed(control: ControlFile, check: PreflightFile)
        /// Nothing was written: `check` says why settlement would quarantine the pair.
        case refused(PreflightFile)
    }

    /// The data file name for a provider, date (`YYYYMMDD`) and sequence number (written with 4 digits).
    public static func name(provider: String, date: String, sequence: Int) -> String {
        let digits = String(sequence)
        let padded = (0...9999).contains(sequence) ? String(repeating: "0", count: 4 - digits.count) + digits : digits
        return "\(provider)_\(date)_\(padded).csv.zst"
    }

    /// Packs the CSV at `csv` as `name` into `folder`: compresses and counts it in a private staging folder inside
    /// `folder`, checks the pair, then renames the data file and, last, the control file into place.
    ///
    /// Throws `SettlementError` for what is not the CSV's fault: an unreadable input, an existing file of either
    /// name, a folder that cannot be written.
    public static func make(csv: String, name: String, folder: String, options: Preflight.Options) throws -> Outcome {
        do {
            return try pack(csv: csv, name: name, folder: folder, options: options)
        } catch let error as FileOperationError {
            throw SettlementError(error)
        }
    }

    /// ``make(csv:name:folder:options:)``, with the file layer's errors as they come.
    private static func pack(csv: String, name: String, folder: String, options: Preflight.Options) throws -> Outcome {
        let file = ProviderFile(name: name)
        guard file.hasValidName, name.hasSuffix(ProviderFile.dataSuffix) else {
            // Refused before anything is written: such a name could even point outside the folder.
            var refused = PreflightFile(waiting: name, language: options.providerLanguage)
            refused.verdict = .quarantine
            refused.quarantine = Quarantine(code: .badName, reason: Intake.badNameReason(file))
            return .refused(refused)
        }
        for existing in [file.dataEntry, file.controlEntry] {
            guard try FileOperations.kind(EntryPath(folder: folder, name: existing)) == .missing else {
                throw SettlementError(
                    code: .io,
                    message:
                        "\(folder)/\(existing.display) already exists; a name is settled once — choose another --seq")
            }
        }
        let staging = try makeStagingFolder(in: folder)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let control = try compress(
            csv: csv, to: EntryPath(folder: staging, name: file.dataEntry), name: name, limits: options.limits)
        try FileOperations.writeAtomically(Array((control.json + "\n").utf8), folder: staging, name: file.controlEntry)
        let report = try Preflight.check([staging], options: options)
        guard report.files.count == 1, let verdict = report.files.first else {
            throw SettlementError(code: .io, message: "the staging folder \(staging) changed while pack used it")
        }
        guard verdict.verdict == .accept else { return .refused(verdict) }
        try FileOperations.move(
            EntryPath(folder: staging, name: file.dataEntry), to: EntryPath(folder: folder, name: file.dataEntry))
        try FileOperations.move(
            EntryPath(folder: staging, name: file.controlEntry), to: EntryPath(folder: folder, name: file.controlEntry))
        return .packed(control: control, check: verdict)
    }

    /// A new folder only this process writes, inside `folder` so that the final renames stay on one file system;
    /// its name starts with a dot, so collection and settlement leave it alone.
    private static func makeStagingFolder(in folder: String) throws(FileOperationError) -> String {
        let path = folder + "/.mynapoint-pack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileOperations.makePrivateDirectory(path, in: folder)
        return path
    }

    /// Compresses the CSV into `target`, and counts its records and amount total as settlement does (§3.2).
    private static func compress(
        csv: String, to target: EntryPath, name: String, limits: Limits
    ) throws -> ControlFile {
        let input = try FileOperations.attempt(.open, csv) {
            try csv.withCString { try FileDescriptor.open($0, .readOnly, options: .closeOnExec) }
        }
        defer { try? input.close() }
        let output = try FileOperations.create(target)
        defer { try? output.close() }
        let compressor = try ZstdCompressor(level: 3, checksum: true)
        let hasher = SHA256()
        let sink = { (chunk: UnsafeRawBufferPointer) throws in
            hasher.update(chunk)
            try FileOperations.writeAll(chunk, to: output, path: target.display)
        }
        let tally = Tally(limits: limits)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try FileOperations.read(input, into: buffer, path: csv)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            tally.feed(chunk)
            try compressor.compress(chunk, sink: sink)
        }
        tally.finish()
        try compressor.finish(sink: sink)
        try FileOperations.synchronize(output, path: target.display)
        return ControlFile(
            file: name, sha256: hasher.finalize().hexString, records: tally.state.dataLines,
            amountTotal: tally.state.amountTotal)
    }

    /// Counts lines with intake's own tally; a limit reached stops counting (the check then names it).
    private final class Tally {
        var state = Intake.LineState(declared: .max)
        var lines: LineScanner
        let splitter: FieldSplitter
        let maxFileRecords: Int
        var stopped = false

        init(limits: Limits) {
            lines = LineScanner(maxLineBytes: limits.maxLineBytes)
            splitter = FieldSplitter(maxLineLength: limits.maxLineBytes)
            maxFileRecords = limits.maxFileRecords
        }

        func feed(_ chunk: UnsafeRawBufferPointer) {
            guard !stopped else { return }
            lines.feed(chunk) { line, number in self.count(line, number) }
        }

        func finish() {
            guard !stopped else { return }
            lines.finish { line, number in self.count(line, number) }
        }

        private func count(_ line: UnsafeRawBufferPointer, _ number: Int) {
            guard !stopped else { return }
            do {
                _ = try state.tally(line, number: number, splitter: splitter, maxFileRecords: maxFileRecords)
            } catch {
                stopped = true
            }
        }
    }
}
