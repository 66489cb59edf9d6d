import Crypto
import DropFormat
import Foundation
import Rules
import Zstd

/// What to generate: a registry and a provider drop with the realistic mix of the program's outcomes.
public struct GeneratorOptions: Sendable {
    /// Seed: the same options give byte-identical files.
    public var seed: UInt64 = 1
    /// Holders in the registry.
    public var holders = 10_000
    /// Data lines over all files.
    public var records = 100_000
    /// Providers (P0001…).
    public var providers = 4
    /// Files per provider.
    public var filesPerProvider = 2
    /// The date in the file names (YYYYMMDD).
    public var fileDate = "20210105"
    /// Adds bad lines (malformed fields, misplaced individual numbers, unknown IDs, quoting, CRLF, BOM) and a few
    /// files that must be quarantined.
    public var faults = false

    /// Options with the defaults.
    public init() {}
}

/// Counts of what `DropGenerator.generate` wrote.
///
/// Its JSON keys are `holders`, `providers`, `files`, `records`, `faulty_files`, `compressed_bytes` and `csv_bytes`.
public struct GeneratedDrop: Sendable, Codable {
    /// Holders in the registry's `holders.csv`.
    public var holders: Int
    /// Providers in the registry's `providers.csv`.
    public var providers: Int
    /// Data files in the inbox, each with its control file, not counting the faulty ones.
    public var files: Int
    /// Data lines over those files.
    public var records: Int
    /// Names of the extra data files that settlement must quarantine; empty unless faults were asked for.
    public var faultyFiles: [String]
    /// Bytes of the compressed data files, as written to the inbox (faulty files excluded).
    public var compressedBytes: Int
    /// Bytes of CSV before compression, headers included (faulty files excluded).
    public var csvBytes: Int

    private enum CodingKeys: String, CodingKey {
        case holders, providers, files, records
        case faultyFiles = "faulty_files"
        case compressedBytes = "compressed_bytes"
        case csvBytes = "csv_bytes"
    }
}

/// Writes a registry (settlement spec §8) and a drop (§3) of generated data.
///
/// Holders: most active and applied, some suspended, revoked or not applied; certificates renewed with gaps,
/// some revoked; some MyKey IDs changed. Records: mostly with the holder's own provider inside the window,
/// with records before the application, outside the window, under old or unknown MyKey IDs, to other providers,
/// and heavy spenders that reach the cap.
public enum DropGenerator {
    static let windowStart: Int64 = 1_598_886_000  // 2020-09-01T00:00:00+09:00
    static let windowEnd: Int64 = 1_617_202_800  // 2021-04-01T00:00:00+09:00

    struct Holder {
        var myKey: UInt64
        var oldMyKey: UInt64  // 0 when unchanged
        var provider: Int  // -1 when not applied
        var status: HolderStatus
        var appliedAt: Int64
    }

    /// Writes the registry's CSV files into `registry` and the drop's data and control files into `inbox`, creating
    /// both folders; returns what it made.
    ///
    /// Files are written in parallel, one per provider and sequence number. Throws the first file-system or zstd
    /// error; files already written stay.
    public static func generate(registry: String, inbox: String, options: GeneratorOptions) throws -> GeneratedDrop {
        try FileManager.default.createDirectory(atPath: registry, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        let holders = makeHolders(options)
        try writeRegistry(holders, to: registry, options: options)

        // Holders by provider, for picking a record's holder.
        var pools = Array(repeating: [Int32](), count: options.providers)
        for (i, h) in holders.enumerated() where h.provider >= 0 { pools[h.provider].append(Int32(i)) }
        let byProvider = pools

        let fileCount = options.providers * options.filesPerProvider
        let perFile = options.records / max(1, fileCount)
        let extra = options.records - perFile * fileCount
        let results = LockedResults(count: fileCount)
        let failure = LockedResults.Failure()
        DispatchQueue.concurrentPerform(iterations: fileCount) { index in
            let provider = index / options.filesPerProvider
            let sequence = index % options.filesPerProvider + 1
            let lines = perFile + (index < extra ? 1 : 0)
            do {
                let made = try writeFile(
                    index: index, provider: provider, sequence: sequence, lines: lines, holders: holders,
                    pool: byProvider[provider], inbox: inbox, options: options)
                results.set(index, made)
            } catch {
                failure.record(error)
            }
        }
        if let error = failure.error { throw error }
        var drop = GeneratedDrop(
            holders: holders.count, providers: options.providers, files: fileCount, records: options.records,
            faultyFiles: [], compressedBytes: 0, csvBytes: 0)
        for made in results.values {
            drop.compressedBytes += made.compressed
            drop.csvBytes += made.csv
        }
        if options.faults { drop.faultyFiles = try writeFaultyFiles(inbox: inbox, options: options) }
        return drop
    }

    /// A MyKey ID from a number: 8 characters of A–Z 0–9, distinct for distinct numbers below 36^8.
    static func myKey(_ n: UInt64) -> UInt64 {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        // Spread consecutive numbers over the ID space (a multiplier prime to 6 is a bijection modulo 36^8).
        let space: UInt64 = 2_821_109_907_456
        var v = (n % space &* 1_000_000_007 &+ 12345) % space
        var packed: UInt64 = 0
        for _ in 0..<8 {
            packed = packed << 8 | UInt64(alphabet[Int(v % 36)])
            v /= 36
        }
        return packed
    }

    static func makeHolders(_ options: GeneratorOptions) -> [Holder] {
        var random = SeededRandom(seed: options.seed, stream: 1)
        var holders: [Holder] = []
        holders.reserveCapacity(options.holders)
        for i in 0..<options.holders {
            let status: HolderStatus = random.chance(3) ? .suspended : (random.chance(1.5) ? .revoked : .active)
            let applied = !random.chance(6)
            // Applications from mid-August 2020 to February 2021, earlier ones more likely.
            let span = Int64(190 * 86_400)
            let offset = Int64(random.below(Int(span))) * Int64(random.below(1000)) / 1000
            holders.append(
                Holder(
                    myKey: myKey(UInt64(i) * 2), oldMyKey: random.chance(2) ? myKey(UInt64(i) * 2 + 1) : 0,
                    provider: applied ? random.below(options.providers) : -1, status: status,
                    appliedAt: windowStart - 15 * 86_400 + offset))
        }
        return holders
    }

    static func writeRegistry(_ holders: [Holder], to registry: String, options: GeneratorOptions) throws {
        var providers = "provider_id,name\n"
        for p in 0..<options.providers { providers += "\(providerID(p)),Payment Service \(p + 1)\n" }
        try Data(providers.utf8).write(to: URL(fileURLWithPath: registry + "/providers.csv"))

        var random = SeededRandom(seed: options.seed, stream: 2)
        var holdersCSV: [UInt8] = Array("mykey_id,status,provider_id,applied_at\n".utf8)
        var certificates: [UInt8] = Array("serial,mykey_id,not_before,not_after,revoked_at\n".utf8)
        var changes: [UInt8] = Array("old_mykey_id,new_mykey_id,changed_at\n".utf8)
        holdersCSV.reserveCapacity(holders.count * 60)
        certificates.reserveCapacity(holders.count * 90)
        var serial: UInt64 = 0x1000
        for h in holders {
            appendKey(h.myKey, to: &holdersCSV)
            holdersCSV.append(contentsOf: ",\(h.status.name),".utf8)
            if h.provider >= 0 {
                holdersCSV.append(contentsOf: providerID(h.provider).utf8)
                holdersCSV.append(UInt8(ascii: ","))
                holdersCSV.append(contentsOf: jst(h.appliedAt).utf8)
            } else {
                holdersCSV.append(UInt8(ascii: ","))
            }
            holdersCSV.append(UInt8(ascii: "\n"))

            // A certificate issued years ago; some expire in the window and are renewed after a gap.
            let issued = windowStart - Int64(random.below(4 * 365)) * 86_400 - 86_400
            var notAfter = issued + 5 * 365 * 86_400
            let renewed = random.chance(4)
            if renewed { notAfter = windowStart + Int64(random.below(150)) * 86_400 }
            let revoked = random.chance(1) ? windowStart + Int64(random.below(200)) * 86_400 : nil
            serial += 1 + UInt64(random.below(7))
            appendCertificate(serial, h.myKey, issued, notAfter, revoked, to: &certificates)
            if renewed {
                serial += 1
                let gap = Int64(random.below(30)) * 86_400 + Int64(random.below(86_400))
                appendCertificate(
                    serial, h.myKey, notAfter + gap, notAfter + gap + 5 * 365 * 86_400, nil, to: &certificates)
            }
            if h.oldMyKey != 0 {
                appendKey(h.oldMyKey, to: &changes)
                changes.append(UInt8(ascii: ","))
                appendKey(h.myKey, to: &changes)
                changes.append(contentsOf: ",\(jst(windowStart + Int64(random.below(150)) * 86_400))\n".utf8)
            }
        }
        try Data(holdersCSV).write(to: URL(fileURLWithPath: registry + "/holders.csv"))
        try Data(certificates).write(to: URL(fileURLWithPath: registry + "/certificates.csv"))
        try Data(changes).write(to: URL(fileURLWithPath: registry + "/mykey_changes.csv"))
    }

    static func appendCertificate(
        _ serial: UInt64, _ key: UInt64, _ from: Int64, _ to: Int64, _ revoked: Int64?, to out: inout [UInt8]
    ) {
        out.append(contentsOf: String(serial, radix: 16, uppercase: true).utf8)
        out.append(UInt8(ascii: ","))
        appendKey(key, to: &out)
        out.append(contentsOf: ",\(jst(from)),\(jst(to)),\(revoked.map(jst) ?? "")\n".utf8)
    }

    struct Made {
        var compressed: Int
        var csv: Int
    }

    static func writeFile(
        index: Int, provider: Int, sequence: Int, lines: Int, holders: [Holder], pool: [Int32], inbox: String,
        options: GeneratorOptions
    ) throws -> Made {
        var random = SeededRandom(seed: options.seed, stream: 1000 + UInt64(index))
        let stem = "\(providerID(provider))_\(options.fileDate)_\(fourDigits(sequence))"
        let compressor = try ZstdCompressor(level: 3, checksum: true)
        let hasher = SHA256()
        var compressedBytes = 0
        var csvBytes = 0
        let handle = try FileOutput(path: inbox + "/" + stem + ".csv.zst")
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        let crlf = options.faults && index % 3 == 1
        if options.faults && index % 4 == 2 { buffer.append(contentsOf: [0xEF, 0xBB, 0xBF]) }
        buffer.append(contentsOf: "record_id,mykey_id,kind,amount_yen,occurred_at".utf8)
        buffer.append(contentsOf: crlf ? [0x0D, 0x0A] : [0x0A])
        var amountTotal = 0
        var lastRecordID = ""
        func flush() throws {
            csvBytes += buffer.count
            try buffer.withUnsafeBytes { raw in
                try compressor.compress(raw) { chunk in
                    hasher.update(chunk)
                    compressedBytes += chunk.count
                    try handle.write(chunk)
                }
            }
            buffer.removeAll(keepingCapacity: true)
        }
        for line in 0..<lines {
            let recordID = "\(providerID(provider))-\(options.fileDate)-\(sequence)-\(line + 1)"
            amountTotal += appendRecord(
                recordID, after: &lastRecordID, holders: holders, pool: pool, options: options, random: &random,
                to: &buffer)
            buffer.append(contentsOf: crlf ? [0x0D, 0x0A] : [0x0A])
            // empty line
            if options.faults && random.chance(0.1) { buffer.append(contentsOf: crlf ? [0x0D, 0x0A] : [0x0A]) }
            if buffer.count > (1 << 20) - 256 { try flush() }
        }
        try flush()
        try compressor.finish { chunk in
            hasher.update(chunk)
            compressedBytes += chunk.count
            try handle.write(chunk)
        }
        try handle.close()
        let control = ControlJSON.render(
            file: stem + ".csv.zst", sha256: hasher.finalize().hexString, records: lines, amountTotal: amountTotal)
        try Data(control.utf8).write(to: URL(fileURLWithPath: inbox + "/" + stem + ".ctl"))
        return Made(compressed: compressedBytes, csv: csvBytes)
    }

    /// Appends one data line (without its line end) for `recordID` (with faults, now and then the previous line's
    /// ID again, as a resent record): a holder of the pool (now and then another
    /// one, a former or an unknown MyKey ID), an amount, an instant mostly inside the window; with faults, now and
    /// then a field broken on purpose.
    ///
    /// Returns the amount the control file counts (0 for a line without five fields).
    static func appendRecord(
        _ recordID: String, after lastRecordID: inout String, holders: [Holder], pool: [Int32],
        options: GeneratorOptions, random: inout SeededRandom, to buffer: inout [UInt8]
    ) -> Int {
        var holder = pool.isEmpty ? random.below(max(1, holders.count)) : Int(pool[random.below(pool.count)])
        if random.chance(4) { holder = random.below(holders.count) }  // a holder of another provider, or none
        let h = holders[holder]
        var key = h.myKey
        if h.oldMyKey != 0 && random.chance(30) { key = h.oldMyKey }
        // A MyKey ID no holder has.
        if random.chance(0.5) { key = myKey(UInt64(holders.count) * 2 + UInt64(random.below(1_000_000))) }
        let charge = random.chance(60)
        // Charges in round thousands, purchases in yen; a few heavy spenders reach the cap.
        var amount = charge ? (1 + random.below(20)) * 1000 : 100 + random.below(15_000)
        if random.chance(2) { amount = 20_000 + random.below(50_000) }
        var at = max(windowStart, h.appliedAt) + Int64(random.below(Int(windowEnd - max(windowStart, h.appliedAt))))
        if random.chance(1) { at = windowStart - 1 - Int64(random.below(30 * 86_400)) }  // before the window
        if random.chance(1) { at = h.appliedAt - 1 - Int64(random.below(86_400)) }  // before the application
        // The random draws keep this order, so a seed makes the same drop as it always did.
        var recordField = recordID
        if options.faults && random.chance(0.2) && !lastRecordID.isEmpty { recordField = lastRecordID }  // resent
        lastRecordID = recordID
        var keyField = keyText(key)
        var kind = charge ? "charge" : "purchase"
        var timeField = jst(at)
        if options.faults && random.chance(0.3) {
            switch random.below(5) {
            // a misplaced individual number
            case 0: keyField = String(100_000_000_000 + random.below(899_999_999_999))
            case 1: kind = "refund"
            case 2: timeField = "2020-13-01T00:00:00+09:00"
            case 3: keyField = keyField.lowercased()
            default:
                buffer.append(contentsOf: "\(recordField),\(keyField),\(kind)".utf8)
                return 0
            }
        }
        if options.faults && random.chance(0.5) {
            buffer.append(contentsOf: "\"\(recordField)\",\"\(keyField)\",\(kind),\"\(amount)\",\(timeField)".utf8)
        } else {
            buffer.append(contentsOf: "\(recordField),\(keyField),\(kind),\(amount),\(timeField)".utf8)
        }
        return amount
    }

    /// A few files that must be quarantined, one per check that a provider can fail.
    static func writeFaultyFiles(inbox: String, options: GeneratorOptions) throws -> [String] {
        let good =
            "record_id,mykey_id,kind,amount_yen,occurred_at\nX1,\(keyText(myKey(0))),charge,1000,2020-10-01T10:00:00+09:00\n"
        let provider = providerID(0)
        var names: [String] = []
        func write(_ stem: String, data: [UInt8], control: String?) throws {
            try Data(data).write(to: URL(fileURLWithPath: inbox + "/" + stem + ".csv.zst"))
            let text =
                control
                ?? ControlJSON.render(
                    file: stem + ".csv.zst", sha256: SHA256.hash(data).hexString, records: 1, amountTotal: 1000)
            try Data(text.utf8).write(to: URL(fileURLWithPath: inbox + "/" + stem + ".ctl"))
            names.append(stem + ".csv.zst")
        }
        let compressed = try Zstd.compress(Array(good.utf8))
        try write(
            "\(provider)_\(options.fileDate)_9001", data: compressed,
            control: ControlJSON.render(
                file: "\(provider)_\(options.fileDate)_9001.csv.zst", sha256: String(repeating: "0", count: 64),
                records: 1, amountTotal: 1000))
        try write("\(provider)_\(options.fileDate)_9002", data: Array(compressed.dropLast(5)), control: nil)
        try write(
            "\(provider)_\(options.fileDate)_9003", data: try Zstd.compress(Array("id,key\nX1,A\n".utf8)), control: nil)
        try write(
            "\(provider)_\(options.fileDate)_9004", data: compressed, control: "{\"format\": \"mynapoint-records/1\"")
        try write("ZZUNKNOWN_\(options.fileDate)_0001", data: compressed, control: nil)
        try write(
            "\(provider)_\(options.fileDate)_9005", data: compressed,
            control: ControlJSON.render(
                file: "\(provider)_\(options.fileDate)_9005.csv.zst", sha256: SHA256.hash(compressed).hexString,
                records: 2,
                amountTotal: 1000))
        try write("\(provider.lowercased())_\(options.fileDate)_0001", data: compressed, control: nil)
        return names
    }

    static func providerID(_ p: Int) -> String { "P" + fourDigits(p + 1) }

    static func fourDigits(_ v: Int) -> String {
        let digits = String(v)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func keyText(_ key: UInt64) -> String {
        var out: [UInt8] = []
        appendKey(key, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendKey(_ key: UInt64, to out: inout [UInt8]) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: key >> UInt64(56 - 8 * i))) }
    }

    /// RFC 3339 in JST.
    static func jst(_ seconds: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(25)
        let local = seconds + 9 * 3600
        let days = Int(local >= 0 ? local / 86_400 : (local - 86_399) / 86_400)
        let secondOfDay = Int(local - Int64(days) * 86_400)
        let (y, m, d) = RFC3339.civilFromDays(days)
        func two(_ v: Int) {
            out.append(UInt8(0x30 + v / 10 % 10))
            out.append(UInt8(0x30 + v % 10))
        }
        two(y / 100)
        two(y % 100)
        out.append(UInt8(ascii: "-"))
        two(m)
        out.append(UInt8(ascii: "-"))
        two(d)
        out.append(UInt8(ascii: "T"))
        two(secondOfDay / 3600)
        out.append(UInt8(ascii: ":"))
        two(secondOfDay / 60 % 60)
        out.append(UInt8(ascii: ":"))
        two(secondOfDay % 60)
        out.append(contentsOf: "+09:00".utf8)
        return String(decoding: out, as: UTF8.self)
    }
}

/// The control file's JSON (settlement spec §3.2).
///
/// A control file's text as a provider writes it, through the drop format's one codec.
enum ControlJSON {
    static func render(file: String, sha256: String, records: Int, amountTotal: Int) -> String {
        ControlFile(file: file, sha256: sha256, records: records, amountTotal: amountTotal).json + "\n"
    }
}

/// A file written with POSIX calls.
final class FileOutput {
    private let fd: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            guard n > 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
            offset += n
        }
    }

    func close() throws {
        guard Foundation.close(fd) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}

/// Per-file results filled in from several threads.
final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [DropGenerator.Made?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ made: DropGenerator.Made) {
        lock.lock()
        slots[index] = made
        lock.unlock()
    }

    var values: [DropGenerator.Made] {
        lock.lock()
        defer { lock.unlock() }
        return slots.compactMap { $0 }
    }

    final class Failure: @unchecked Sendable {
        private let lock = NSLock()
        private var first: (any Error)?
        func record(_ error: any Error) {
            lock.lock()
            if first == nil { first = error }
            lock.unlock()
        }
        var error: (any Error)? {
            lock.lock()
            defer { lock.unlock() }
            return first
        }
    }
}
