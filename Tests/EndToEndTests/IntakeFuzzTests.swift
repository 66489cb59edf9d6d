import Crypto
import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing
import Zstd

#if canImport(Glibc)
import Glibc
#endif

/// Seed and size of the intake fuzz test, from the environment so a failure can be replayed and CI kept short.
///
/// Iteration `i` uses seed `MYNAPOINT_FUZZ_SEED + i`, so `MYNAPOINT_FUZZ_SEED=<that seed> MYNAPOINT_FUZZ_ITERATIONS=1`
/// replays exactly the iteration a failure names.
enum FuzzSettings {
    static let seed: UInt64 = environment("MYNAPOINT_FUZZ_SEED").flatMap(UInt64.init) ?? 20_201_001
    /// About one minute of a debug build on the 2-core CI machine.
    static let iterations: Int = environment("MYNAPOINT_FUZZ_ITERATIONS").flatMap(Int.init) ?? 24

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name]?.trimmingCharacters(in: .whitespaces)
    }
}

/// What every iteration starts from: one migrated database with a generated registry (cloned per iteration), the
/// decompressed data files of a generated drop, and holders to write hand-made records for.
final class FuzzBase: Sendable {
    let deployment: Deployment
    /// Generated data files, decompressed, with the records and amount total their control files declare.
    let sources: [(csv: [UInt8], records: Int, amount: Int)]
    /// MyKey IDs of holders in the registry.
    let myKeys: [String]

    static let shared = Result { () throws -> FuzzBase in try FuzzBase() }
    /// `CREATE DATABASE … TEMPLATE` fails while another session reads the template, so clones are made one at a time.
    private static let cloning = Mutex(())

    private init() throws {
        deployment = try Deployment(generated: 600, faults: true)
        let inbox = deployment.workspace.inbox
        var sources: [(csv: [UInt8], records: Int, amount: Int)] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: inbox).sorted()
        where name.hasPrefix("P000") && (name.hasSuffix("_0001.csv.zst") || name.hasSuffix("_0002.csv.zst")) {
            let stem = String(name.dropLast(8))
            let compressed = try Data(contentsOf: URL(fileURLWithPath: inbox + "/" + name))
            let control = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: inbox + "/" + stem + ".ctl")))
            guard let fields = control as? [String: Any], let records = fields["records"] as? Int,
                let amount = fields["amount_total"] as? Int
            else { throw FuzzFailure("the generated control file of \(name) is not readable") }
            sources.append((try Zstd.decompress(Array(compressed)), records, amount))
        }
        guard !sources.isEmpty else { throw FuzzFailure("the generator made no data files") }
        self.sources = sources
        let holders = try String(contentsOfFile: deployment.workspace.registry + "/holders.csv", encoding: .utf8)
        myKeys = holders.split(separator: "\n").dropFirst().prefix(200).map { String($0.prefix(8)) }
    }

    /// A fresh copy of the loaded database.
    func cloneDatabase() throws -> TemporaryDatabase {
        try Self.cloning.withLock { _ in
            try TemporaryDatabase.create(prefix: "fuzz", template: deployment.database.name)
        }
    }
}

struct FuzzFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What an item of the drop must end as, when the mutation decides it (nil: any outcome the invariants allow).
enum FuzzExpectation: Equatable {
    case quarantined(String)
    case waiting
}

/// One pair (or half pair, or odd entry) placed in the inbox.
struct FuzzItem {
    /// The data entry's name as bytes (nil for a control file alone).
    var dataName: [UInt8]?
    /// The control entry's name (nil for a data file alone).
    var controlName: [UInt8]?
    var stem: [UInt8]
    var provider: String
    var what: String
    var expectation: FuzzExpectation?
}

@Suite struct IntakeFuzzTests {
    static let codes: Set<String> = [
        "BAD_NAME", "NOT_A_FILE", "UNKNOWN_PROVIDER", "BAD_CONTROL", "CHECKSUM_MISMATCH", "NAME_REUSED",
        "BAD_COMPRESSION", "TOO_LARGE", "BAD_HEADER", "CONTROL_MISMATCH",
    ]

    @Test(arguments: 0..<FuzzSettings.iterations)
    func settlementOfMutatedDropsKeepsItsInvariants(iteration: Int) throws {
        let seed = FuzzSettings.seed &+ UInt64(iteration)
        let replay = "replay: MYNAPOINT_FUZZ_SEED=\(seed) MYNAPOINT_FUZZ_ITERATIONS=1"
        let base = try FuzzBase.shared.get()
        let database = try base.cloneDatabase()
        defer { database.drop() }
        let workspace = try DropWorkspace(prefix: "fuzz")
        defer { workspace.remove() }
        var random = SplitMix64(seed: seed)
        var builder = FuzzDropBuilder(base: base, workspace: workspace, seed: seed)
        try builder.build(&random)
        let settings = FuzzRunSettings(&random)
        let context = "\(replay) — \(settings) — items: \(builder.items.map(\.what).joined(separator: "; "))"

        try settleUntilNothingIsNew(database: database, workspace: workspace, settings: settings, context: context)
        let checker = FuzzInvariants(workspace: workspace, context: context)
        for item in builder.items { checker.check(item) }
        checker.checkNoLeaks(
            markers: [workspace.root, "/tmp", "/etc", "No such file", "Permission denied"] + builder.secrets)
        builder.checkOutsideFilesUnchanged(context: context)
        builder.checkIgnoredEntriesLeftAlone(context: context)
        let verified = try Binary.run(["verify", "--outbox", workspace.outbox], database: database)
        #expect(verified.status == 0, "verify: \(verified.stdout) \(verified.stderr) — \(context)")
    }

    /// Settles (one to two invocations with the iteration's flags), then once more, which must find nothing new.
    private func settleUntilNothingIsNew(
        database: TemporaryDatabase, workspace: DropWorkspace, settings: FuzzRunSettings, context: String
    ) throws {
        let folders = [
            "--inbox", workspace.inbox, "--outbox", workspace.outbox, "--archive", workspace.archive,
            "--quarantine", workspace.quarantine,
        ]
        for arguments in settings.invocations {
            let outcome = try Binary.run(["settle"] + folders + arguments, database: database)
            #expect(outcome.killedBySignal == nil, "settle \(arguments) died by a signal — \(context)")
            #expect(
                outcome.status == 0 || outcome.status == 3,
                "settle \(arguments) exited \(outcome.status): \(outcome.stderr) — \(context)")
        }
        let summaryPath = workspace.root + "/final-summary.json"
        let last = try Binary.run(
            ["settle"] + folders + settings.limitArguments + ["--summary-json", summaryPath], database: database)
        #expect(last.status == 0, "the last settle exited \(last.status): \(last.stdout) \(last.stderr) — \(context)")
        let summary =
            (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summaryPath))))
            as? [String: Any]
        #expect((summary?["files"] as? [Any])?.isEmpty == true, "the last settle found something new — \(context)")
        #expect(summary?["run_id"] is NSNull || summary?["run_id"] == nil, "the last settle committed — \(context)")
    }
}

/// The flags of an iteration's settle invocations.
struct FuzzRunSettings: CustomStringConvertible {
    var limitArguments: [String] = []
    var invocations: [[String]] = []

    init(_ random: inout SplitMix64) {
        if random.chance(0.35) {
            limitArguments += ["--max-line-bytes", String(random.pick([64, 100, 300, 4095, 4097, 8192]))]
        }
        if random.chance(0.15) { limitArguments += ["--max-file-records", String(random.pick([20, 60, 150]))] }
        var first = limitArguments + ["--workers", String(1 + random.below(2))]
        if random.chance(0.5) { first += ["--max-run-records", String(1 + random.below(150))] }
        if random.chance(0.3) { first.append("--once") }
        invocations = [first]
        if random.chance(0.5) || first.contains("--once") { invocations.append(limitArguments) }
    }

    var description: String { "settle flags \(invocations)" }
}

/// Places mutated pairs and odd entries in an iteration's inbox, and remembers what each must become.
struct FuzzDropBuilder {
    let base: FuzzBase
    let workspace: DropWorkspace
    let seed: UInt64
    var items: [FuzzItem] = []
    /// Text of files outside the inbox that links point at: none of it may reach a provider.
    var secrets: [String] = []
    /// Files outside the inbox, with their bytes and mode when the drop was made.
    var outside: [(path: String, bytes: [UInt8], mode: mode_t)] = []
    /// Inbox entries named like no drop file, which a run must leave alone.
    var ignored: [String] = []

    init(base: FuzzBase, workspace: DropWorkspace, seed: UInt64) {
        self.base = base
        self.workspace = workspace
        self.seed = seed
    }

    mutating func build(_ random: inout SplitMix64) throws {
        try makeOutsideFiles()
        try makeIgnoredEntries()
        let count = 3 + random.below(5)
        for index in 0..<count {
            let provider = random.pick(["P0001", "P0002", "P0003"])
            let stem = "\(provider)_2021\(random.pick(["0105", "0228", "0331"]))_\(String(format: "%04d", index + 1))"
            switch random.below(100) {
            case 0..<12: try dropClean(stem: stem, provider: provider, &random)
            case 12..<27: try dropCompressedMutation(stem: stem, provider: provider, &random)
            case 27..<55: try dropCSVMutation(stem: stem, provider: provider, &random)
            case 55..<72: try dropControlMutation(stem: stem, provider: provider, &random)
            case 72..<86: try dropNameMutation(stem: stem, provider: provider, &random)
            default: try dropOddEntry(stem: stem, provider: provider, &random)
            }
        }
    }

    // MARK: Sources

    /// A valid CSV: a generated data file, or a few hand-made records.
    private func sourceCSV(_ random: inout SplitMix64, tag: String) -> [UInt8] {
        if random.chance(0.5) { return random.pick(base.sources).csv }
        var csv = "record_id,mykey_id,kind,amount_yen,occurred_at\n"
        for line in 0..<(1 + random.below(20)) {
            let key = base.myKeys.isEmpty ? "AAAA0001" : random.pick(base.myKeys)
            let day = String(format: "%02d", 1 + random.below(28))
            csv +=
                "H\(seed)-\(tag)-\(line),\(key),\(random.pick(["charge", "purchase"])),\(1 + random.below(30000)),2021-03-\(day)T12:34:56+09:00\n"
        }
        return Array(csv.utf8)
    }

    private func control(name: String, compressed: [UInt8], records: Int, amount: Int) -> [UInt8] {
        let file = name.replacingOccurrences(of: "\\", with: "\\\\")
        return Array(
            "{\"format\": \"mynapoint-records/1\", \"file\": \"\(file)\", \"sha256\": \"\(SHA256.hash(compressed).hexString)\", \"records\": \(records), \"amount_total\": \(amount)}"
                .utf8)
    }

    private mutating func place(
        stem: String, provider: String, data: [UInt8]?, control: [UInt8]?, what: String,
        expectation: FuzzExpectation? = nil
    ) throws {
        let stemBytes = Array(stem.utf8)
        try place(
            stemBytes: stemBytes, provider: provider, data: data, control: control, what: what, expectation: expectation
        )
    }

    private mutating func place(
        stemBytes: [UInt8], provider: String, data: [UInt8]?, control: [UInt8]?, what: String,
        expectation: FuzzExpectation?
    ) throws {
        let dataName = stemBytes + Array(".csv.zst".utf8)
        let controlName = stemBytes + Array(".ctl".utf8)
        if let data { try RawFiles.write(data, folder: workspace.inbox, name: dataName) }
        if let control { try RawFiles.write(control, folder: workspace.inbox, name: controlName) }
        items.append(
            FuzzItem(
                dataName: data == nil ? nil : dataName, controlName: control == nil ? nil : controlName,
                stem: stemBytes, provider: provider, what: what, expectation: expectation))
    }

    // MARK: Mutations

    private mutating func dropClean(stem: String, provider: String, _ random: inout SplitMix64) throws {
        let csv = sourceCSV(&random, tag: stem)
        let compressed = try Zstd.compress(csv)
        let tally = CSVModel.tally(csv)
        try place(
            stem: stem, provider: provider, data: compressed,
            control: control(
                name: stem + ".csv.zst", compressed: compressed, records: tally.records, amount: tally.amount),
            what: "\(stem) clean")
    }

    private mutating func dropCompressedMutation(stem: String, provider: String, _ random: inout SplitMix64) throws {
        let csv = sourceCSV(&random, tag: stem)
        var bytes = try Zstd.compress(csv)
        let tally = CSVModel.tally(csv)
        let original = bytes
        let what: String
        switch random.below(6) {
        case 0:
            let at = random.below(bytes.count)
            bytes[at] ^= UInt8(1 + random.below(255))
            what = "flip byte \(at)"
        case 1:
            let at = random.below(bytes.count + 1)
            bytes.insert(contentsOf: (0..<(1 + random.below(8))).map { _ in UInt8(random.below(256)) }, at: at)
            what = "insert at \(at)"
        case 2:
            let at = random.below(bytes.count)
            let length = min(bytes.count - at, 1 + random.below(16))
            bytes.removeSubrange(at..<(at + length))
            what = "delete \(length) at \(at)"
        case 3:
            let length = random.below(bytes.count)
            bytes = Array(bytes.prefix(length))
            what = "truncate to \(length)"
        case 4:
            bytes += (0..<(1 + random.below(6))).map { _ in UInt8(random.below(256)) }
            what = "garbage after the frame"
        default:
            bytes += try Zstd.compress(Array("\nX\(seed),AAAA0001,charge,100,2021-03-01T00:00:00+09:00\n".utf8))
            what = "a second frame"
        }
        let staleDigest = random.chance(0.15)
        let controlText = control(
            name: stem + ".csv.zst", compressed: staleDigest ? original : bytes, records: tally.records,
            amount: tally.amount)
        try place(
            stem: stem, provider: provider, data: bytes, control: controlText,
            what: "\(stem) compressed: \(what)\(staleDigest ? ", stale sha256" : "")",
            expectation: staleDigest ? .quarantined("CHECKSUM_MISMATCH") : nil)
    }

    private mutating func dropCSVMutation(stem: String, provider: String, _ random: inout SplitMix64) throws {
        var csv = sourceCSV(&random, tag: stem)
        let what = CSVMutation.apply(to: &csv, &random, seed: seed)
        let compressed = try Zstd.compress(csv)
        var tally = CSVModel.tally(csv)
        var note = ""
        if random.chance(0.12) {
            tally.records += random.chance(0.5) ? 1 : -1
            note = ", records off by one"
        }
        try place(
            stem: stem, provider: provider, data: compressed,
            control: control(
                name: stem + ".csv.zst", compressed: compressed, records: max(0, tally.records), amount: tally.amount),
            what: "\(stem) csv: \(what)\(note)")
    }

    private mutating func dropControlMutation(stem: String, provider: String, _ random: inout SplitMix64) throws {
        let csv = sourceCSV(&random, tag: stem)
        let compressed = try Zstd.compress(csv)
        let tally = CSVModel.tally(csv)
        let name = stem + ".csv.zst"
        let digest = SHA256.hash(compressed).hexString
        let head = "\"format\": \"mynapoint-records/1\", \"file\": \"\(name)\", \"sha256\": \"\(digest)\""
        let variants: [(String, String, String?)] = [
            (
                "{\(head), \"records\": \(tally.records), \"records\": \(tally.records), \"amount_total\": \(tally.amount)}",
                "duplicated key", "BAD_CONTROL"
            ),
            (
                "{\(head), \"records\": \(tally.records).0, \"amount_total\": \(tally.amount)}", "records 1.0",
                "BAD_CONTROL"
            ),
            ("{\(head), \"records\": 1e3, \"amount_total\": \(tally.amount)}", "records 1e3", "BAD_CONTROL"),
            (
                "{\(head), \"records\": -\(tally.records), \"amount_total\": \(tally.amount)}", "negative records",
                "BAD_CONTROL"
            ),
            ("{\(head), \"records\": \(tally.records), \"amount_total\": -1}", "negative amount", "BAD_CONTROL"),
            (
                "{\(head), \"records\": 123456789012345678901234567890, \"amount_total\": \(tally.amount)}",
                "huge records", "TOO_LARGE"
            ),
            (
                "{\(head), \"records\": 20000001, \"amount_total\": \(tally.amount)}",
                "records beyond max_file_records", "TOO_LARGE"
            ),
            ("{\(head), \"records\": \(tally.records), \"amount_total\": 99999999999999999999999}", "huge amount", nil),
            ("{\(head), \"records\": \(tally.records)}", "missing key", "BAD_CONTROL"),
            (
                "{\(head), \"records\": \(tally.records), \"amount_total\": \(tally.amount), \"note\": 1}", "extra key",
                "BAD_CONTROL"
            ),
            (
                "{\"format\": \"mynapoint-records/1\", \"file\": \"\(provider)_20210105_9999.csv.zst\", \"sha256\": \"\(digest)\", \"records\": \(tally.records), \"amount_total\": \(tally.amount)}",
                "wrong file name", "BAD_CONTROL"
            ),
            (
                "{\"format\": \"mynapoint-records/1\", \"file\": \"\(name)\", \"sha256\": \"\(String(repeating: "ab", count: 32))\", \"records\": \(tally.records), \"amount_total\": \(tally.amount)}",
                "wrong sha256", "CHECKSUM_MISMATCH"
            ),
            (
                "{\"format\": \"mynapoint-records/1\", \"file\": \"\(name)\", \"sha256\": \"\(digest.dropLast())\", \"records\": \(tally.records), \"amount_total\": \(tally.amount)}",
                "short sha256", "BAD_CONTROL"
            ),
            ("records=\(tally.records)", "not JSON", "BAD_CONTROL"),
            ("", "empty", "BAD_CONTROL"),
            ("[]", "an array", "BAD_CONTROL"),
            (
                "{\(head), \"records\": \"\(tally.records)\", \"amount_total\": \(tally.amount)}",
                "records as a string", "BAD_CONTROL"
            ),
            (
                "{\(head), \"records\": \(tally.records), \"amount_total\": \(tally.amount)}"
                    + String(repeating: " ", count: 70_000), "over 64 KiB", "BAD_CONTROL"
            ),
            (
                "{\(head), \"records\": \(tally.records), \"amount_total\": \(tally.amount)} {}", "two objects",
                "BAD_CONTROL"
            ),
            (
                "{\"format\": \"mynapoint-records/2\", \"file\": \"\(name)\", \"sha256\": \"\(digest)\", \"records\": \(tally.records), \"amount_total\": \(tally.amount)}",
                "other format", "BAD_CONTROL"
            ),
            (
                "{\"format\": \"mynapoint-records/1\", \"file\": \"\(name)\", \"sha256\": \"\(digest.uppercased())\", \"records\": \(tally.records), \"amount_total\": \(tally.amount)}",
                "upper-case sha256", nil
            ),
            (
                "{\(head), \"records\": \(tally.records), \"amount_total\": \(tally.amount)", "unclosed object",
                "BAD_CONTROL"
            ),
            (
                "{\(head), \"records\": \(tally.records), \"amount_total\": \(tally.amount), \"file\": \"\(name)\"}",
                "file twice", "BAD_CONTROL"
            ),
        ]
        let (text, what, code) = random.pick(variants)
        try place(
            stem: stem, provider: provider, data: compressed, control: Array(text.utf8),
            what: "\(stem) control: \(what)",
            expectation: code.map { .quarantined($0) })
    }

    private mutating func dropNameMutation(stem: String, provider: String, _ random: inout SplitMix64) throws {
        let seq = String(stem.suffix(4))
        let csv = sourceCSV(&random, tag: stem)
        let compressed = try Zstd.compress(csv)
        let tally = CSVModel.tally(csv)
        func pair(_ stemBytes: [UInt8]) -> ([UInt8], [UInt8]) {
            let name = EntryNameText.display(stemBytes + Array(".csv.zst".utf8))
            return (
                compressed, control(name: name, compressed: compressed, records: tally.records, amount: tally.amount)
            )
        }
        let badNames = [
            "\(provider)_20210230_\(seq)", "\(provider)_20210229_\(seq)", "\(provider)_19991231_\(seq)",
            "\(provider)_21000101_\(seq)", "\(provider)_20211301_\(seq)", "\(provider)_00000000_\(seq)",
            "\(provider.lowercased())_20210105_\(seq)", "\(provider)_20210105_\(seq.dropFirst())",
            "\(provider)_2021-01-05_\(seq)", "\(provider)_20210105_\(seq)_x", "\(provider)__\(seq)",
        ]
        switch random.below(6) {
        case 0:
            let name = random.pick(badNames)
            let (data, ctl) = pair(Array(name.utf8))
            try place(
                stem: name, provider: provider, data: data, control: ctl, what: "name \(name)",
                expectation: .quarantined("BAD_NAME"))
        case 1:
            var bytes = Array("\(provider)_20210105_\(seq)".utf8)
            bytes.insert(random.pick([0xFF, 0xC3, 0x80, 0xE3]), at: random.below(bytes.count + 1))
            let (data, ctl) = pair(bytes)
            try place(
                stemBytes: bytes, provider: provider, data: data, control: ctl, what: "name not UTF-8",
                expectation: .quarantined("BAD_NAME"))
        case 2:
            let bytes =
                Array("\(provider)_20210105_\(seq)".utf8) + Array(repeating: UInt8(ascii: "x"), count: 255 - 8 - 19)
            let (data, ctl) = pair(bytes)
            try place(
                stemBytes: bytes, provider: provider, data: data, control: ctl, what: "255-byte name",
                expectation: .quarantined("BAD_NAME"))
        case 3:
            let (data, _) = pair(Array(stem.utf8))
            try place(
                stem: stem, provider: provider, data: data, control: nil, what: "\(stem) data only",
                expectation: .waiting)
        case 4:
            let (_, ctl) = pair(Array(stem.utf8))
            try place(
                stem: stem, provider: provider, data: nil, control: ctl, what: "\(stem) control only",
                expectation: .waiting)
        default:
            let name = "P9999_20210105_\(seq)"
            let (data, ctl) = pair(Array(name.utf8))
            try place(
                stem: name, provider: "P9999", data: data, control: ctl, what: "unknown provider",
                expectation: .quarantined("UNKNOWN_PROVIDER"))
        }
    }

    // MARK: Entries that are not regular files

    private mutating func makeOutsideFiles() throws {
        let folder = workspace.root + "/outside"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let marker = "SECRETOUTSIDE\(seed)"
        secrets.append(marker)
        let csv = Array(
            "record_id,mykey_id,kind,amount_yen,occurred_at\n\(marker),AAAA0001,charge,100,2021-03-01T00:00:00+09:00\n"
                .utf8)
        let compressed = try Zstd.compress(csv)
        for (name, bytes) in [
            ("secret.csv.zst", compressed), ("secret.ctl", Array("{\"secret\": \"\(marker)\"}".utf8)),
        ] {
            let path = folder + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o604)
            outside.append((path, bytes, 0o604))
        }
    }

    private mutating func makeIgnoredEntries() throws {
        try FileManager.default.createDirectory(atPath: workspace.inbox + "/sub", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: workspace.inbox + "/sub/P0001_20210105_0999.csv.zst"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: workspace.inbox + "/notes.txt"))
        try Data("partial".utf8).write(to: URL(fileURLWithPath: workspace.inbox + "/.P0001_20210105_0998.csv.zst"))
        ignored = ["sub/P0001_20210105_0999.csv.zst", "notes.txt", ".P0001_20210105_0998.csv.zst"]
    }

    private mutating func dropOddEntry(stem: String, provider: String, _ random: inout SplitMix64) throws {
        let inbox = workspace.inbox
        let outsideData = workspace.root + "/outside/secret.csv.zst"
        let outsideDigest = SHA256.hash(outside[0].bytes)
        // The control file describes the link's target, so following the link would settle it.
        let targetControl = Array(
            "{\"format\": \"mynapoint-records/1\", \"file\": \"\(stem).csv.zst\", \"sha256\": \"\(outsideDigest.hexString)\", \"records\": 1, \"amount_total\": 100}"
                .utf8)
        let dataPath = inbox + "/" + stem + ".csv.zst"
        let controlPath = inbox + "/" + stem + ".ctl"
        var what: String
        var hasData = true
        var hasControl = true
        let other = items.first { $0.dataName != nil && $0.controlName != nil && $0.provider != provider }
        var choice = random.below(9)
        if choice == 3 && other == nil { choice = 4 }
        switch choice {
        case 0:
            try FileManager.default.createSymbolicLink(atPath: dataPath, withDestinationPath: outsideData)
            try Data(targetControl).write(to: URL(fileURLWithPath: controlPath))
            what = "data a symlink outside"
        case 1:
            try FileManager.default.createSymbolicLink(
                atPath: dataPath, withDestinationPath: "../outside/secret.csv.zst")
            hasControl = false
            what = "data a relative symlink outside, no control file"
        case 2:
            try FileManager.default.createSymbolicLink(
                atPath: controlPath, withDestinationPath: workspace.root + "/outside/secret.ctl")
            try Data(outside[0].bytes).write(to: URL(fileURLWithPath: dataPath))
            what = "control a symlink outside"
        case 3:
            let name = EntryNameText.display(other?.dataName ?? [])
            try FileManager.default.createSymbolicLink(atPath: dataPath, withDestinationPath: name)
            try Data(targetControl).write(to: URL(fileURLWithPath: controlPath))
            what = "data a symlink to another provider's \(name)"
        case 4:
            try FileManager.default.createDirectory(atPath: dataPath, withIntermediateDirectories: false)
            try Data("inside".utf8).write(to: URL(fileURLWithPath: dataPath + "/inside.txt"))
            try Data(targetControl).write(to: URL(fileURLWithPath: controlPath))
            what = "data a directory"
        case 5:
            guard mkfifo(dataPath, 0o644) == 0 else { throw FuzzFailure("mkfifo failed") }
            try Data(targetControl).write(to: URL(fileURLWithPath: controlPath))
            what = "data a FIFO"
        case 6:
            guard mkfifo(controlPath, 0o644) == 0 else { throw FuzzFailure("mkfifo failed") }
            try Data(outside[0].bytes).write(to: URL(fileURLWithPath: dataPath))
            what = "control a FIFO"
        case 7:
            guard link(outsideData, dataPath) == 0 else { throw FuzzFailure("link failed: \(errno)") }
            try Data(targetControl).write(to: URL(fileURLWithPath: controlPath))
            what = "data a hard link to a file outside"
        default:
            try FileManager.default.createSymbolicLink(atPath: dataPath, withDestinationPath: inbox + "/missing-target")
            hasData = true
            hasControl = random.chance(0.5)
            if hasControl { try Data(targetControl).write(to: URL(fileURLWithPath: controlPath)) }
            what = "data a dangling symlink"
        }
        items.append(
            FuzzItem(
                dataName: hasData ? Array((stem + ".csv.zst").utf8) : nil,
                controlName: hasControl ? Array((stem + ".ctl").utf8) : nil, stem: Array(stem.utf8), provider: provider,
                what: "\(stem) \(what)", expectation: .quarantined("NOT_A_FILE")))
    }

    // MARK: Checks on what lies outside the drop

    func checkOutsideFilesUnchanged(context: String) {
        for file in outside {
            var s = stat()
            let found = lstat(file.path, &s) == 0
            #expect(found && s.st_mode & S_IFMT == S_IFREG, "\(file.path) was moved — \(context)")
            #expect(s.st_mode & 0o7777 == file.mode, "the mode of \(file.path) changed — \(context)")
            let bytes = FileManager.default.contents(atPath: file.path).map(Array.init)
            #expect(bytes == file.bytes, "\(file.path) was modified — \(context)")
        }
    }

    func checkIgnoredEntriesLeftAlone(context: String) {
        for name in ignored {
            #expect(
                FileManager.default.fileExists(atPath: workspace.inbox + "/" + name),
                "the ignored entry \(name) was moved — \(context)")
        }
    }
}

/// Mutations of a decompressed data file, each a hostile but plausible thing a provider's software might send.
enum CSVMutation {
    static func apply(to csv: inout [UInt8], _ random: inout SplitMix64, seed: UInt64) -> String {
        var lines = csv.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if lines.last?.isEmpty == true { lines.removeLast() }
        let dataRange = lines.count > 1 ? 1..<lines.count : 1..<2
        func someLine(_ random: inout SplitMix64) -> Int { dataRange.lowerBound + random.below(dataRange.count) }
        var what: String
        switch random.below(14) {
        case 0:
            let length = random.pick([63, 64, 65, 4094, 4095, 4096, 4097, 4098, 10_000, 140_000])
            lines.insert(Array(repeating: UInt8(ascii: "A"), count: length), at: min(someLine(&random), lines.count))
            what = "a line of \(length) bytes"
        case 1:
            let length = random.pick([4095, 4096, 4097])
            var line = Array("L\(seed),AAAA0001,charge,100,".utf8)
            line += Array(repeating: UInt8(ascii: "9"), count: max(0, length - line.count))
            lines.insert(line, at: min(someLine(&random), lines.count))
            what = "a five-field line of \(length) bytes"
        case 2:
            csv = lines.flatMap { $0 + [0x0D, 0x0A] }
            return "CRLF everywhere"
        case 3:
            let at = someLine(&random)
            if at < lines.count { lines[at].insert(0x0D, at: random.below(lines[at].count + 1)) }
            what = "a lone CR in line \(at + 1)"
        case 4:
            csv = Array(lines.joined(separator: [0x0A]))
            return "no final line end"
        case 5:
            let at = someLine(&random)
            if at < lines.count {
                lines[at] = random.chance(0.5) ? [0x22] + lines[at] : lines[at] + Array(",\"a\"\"b\"".utf8)
            }
            what = "quotes in line \(at + 1)"
        case 6:
            if random.chance(0.5) {
                lines[0] = [0xEF, 0xBB, 0xBF] + lines[0]
                what = "a BOM"
            } else {
                let at = someLine(&random)
                if at < lines.count { lines[at] = [0xEF, 0xBB, 0xBF] + lines[at] }
                what = "a BOM in line \(at + 1)"
            }
        case 7:
            for _ in 0..<(1 + random.below(40)) {
                lines.insert(random.chance(0.5) ? [] : [0x0D], at: 1 + random.below(lines.count))
            }
            what = "empty lines"
        case 8:
            let at = someLine(&random)
            if at < lines.count {
                lines[at] =
                    random.chance(0.5) ? lines[at] + Array(",extra".utf8) : Array(lines[at].prefix { $0 != 0x2C })
            }
            what = "extra or missing fields in line \(at + 1)"
        case 9:
            let at = someLine(&random)
            let amount = random.pick([
                "0", "-1", "01", "1e3", "1.0", "1000000000", "", " 5", "+5", "1,000", "999999999",
            ])
            if at < lines.count { lines[at] = replaceField(lines[at], index: 3, with: amount) }
            what = "amount \"\(amount)\" in line \(at + 1)"
        case 10:
            let at = someLine(&random)
            if at < lines.count { lines.append(lines[at]) }
            what = "line \(at + 1) repeated"
        case 11:
            let at = someLine(&random)
            if at < lines.count { lines[at] = replaceField(lines[at], index: 1, with: "123456789012") }
            what = "a 12-digit mykey_id in line \(at + 1)"
        case 12:
            lines += lines.dropFirst()
            what = "every data line twice"
        default:
            let at = someLine(&random)
            if at < lines.count {
                lines[at].insert(random.pick([0x00, 0xFF, 0xC3, 0x22, 0x2C]), at: random.below(lines[at].count + 1))
            }
            what = "an odd byte in line \(at + 1)"
        }
        csv = lines.map { $0 + [0x0A] }.flatMap { $0 }
        return what
    }

    private static func replaceField(_ line: [UInt8], index: Int, with value: String) -> [UInt8] {
        var fields = line.split(separator: 0x2C, omittingEmptySubsequences: false).map(Array.init)
        guard index < fields.count else { return line }
        fields[index] = Array(value.utf8)
        return Array(fields.joined(separator: [0x2C]))
    }
}

/// The settlement spec's reading of a data file, written plainly (§3.2, §3.3): data lines and the amount total.
enum CSVModel {
    static func tally(_ csv: [UInt8]) -> (records: Int, amount: Int) {
        var records = 0
        var amount = 0
        for line in dataLines(csv) {
            records += 1
            if let fields = fields(line), fields.count == 5, let yen = validAmount(fields[3]) { amount += yen }
        }
        return (records, amount)
    }

    /// The non-empty lines after the first, without their line ends.
    static func dataLines(_ csv: [UInt8]) -> [[UInt8]] {
        var lines = csv.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> [UInt8] in
            line.last == 0x0D ? Array(line.dropLast()) : Array(line)
        }
        if !lines.isEmpty { lines.removeFirst() }
        return lines.filter { !$0.isEmpty }
    }

    /// RFC 4180 fields of a line, or nil when its quoting is broken.
    static func fields(_ line: [UInt8]) -> [[UInt8]]? {
        var fields: [[UInt8]] = []
        var index = 0
        while true {
            var field: [UInt8] = []
            if index < line.count && line[index] == 0x22 {
                index += 1
                var closed = false
                while index < line.count {
                    if line[index] == 0x22 {
                        if index + 1 < line.count && line[index + 1] == 0x22 {
                            field.append(0x22)
                            index += 2
                            continue
                        }
                        closed = true
                        index += 1
                        break
                    }
                    field.append(line[index])
                    index += 1
                }
                guard closed, index == line.count || line[index] == 0x2C else { return nil }
            } else {
                while index < line.count && line[index] != 0x2C {
                    field.append(line[index])
                    index += 1
                }
            }
            fields.append(field)
            if index >= line.count { return fields }
            index += 1
            if index == line.count {
                fields.append([])
                return fields
            }
        }
    }

    static func validAmount(_ field: [UInt8]) -> Int? {
        guard (1...9).contains(field.count), field.first != 0x30, field.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return field.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }
}

/// File-system calls on names that need not be UTF-8.
enum RawFiles {
    static func cPath(_ folder: String, _ name: [UInt8]) -> [CChar] {
        (Array(folder.utf8) + [0x2F] + name + [0]).map { CChar(bitPattern: $0) }
    }

    static func write(_ bytes: [UInt8], folder: String, name: [UInt8]) throws {
        let fd = open(cPath(folder, name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FuzzFailure("cannot create \(EntryNameText.display(name)): errno \(errno)") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            guard n > 0 else { throw FuzzFailure("cannot write \(EntryNameText.display(name))") }
            written += n
        }
    }

    /// The entry's type bits from `lstat`, or nil when there is none.
    static func kind(folder: String, name: [UInt8]) -> mode_t? {
        var s = stat()
        return lstat(cPath(folder, name), &s) == 0 ? s.st_mode & S_IFMT : nil
    }

    /// A regular file's bytes, never through a link.
    static func read(folder: String, name: [UInt8]) -> [UInt8]? {
        let fd = open(cPath(folder, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return n == 0 ? bytes : nil }
            bytes += buffer[..<n]
        }
    }

    /// Every name in a folder, as bytes.
    static func names(in folder: String) -> [[UInt8]] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        return names
    }
}

/// A name for messages: UTF-8 as it is, other bytes as `\xHH`.
enum EntryNameText {
    static func display(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
    }
}

/// The checks of settlement spec §7.2 and §11 on a workspace after its runs.
struct FuzzInvariants {
    let workspace: DropWorkspace
    let context: String

    /// Each item is archived with a full result, quarantined with its reason, or still waiting — exactly one.
    func check(_ item: FuzzItem) {
        guard let dataName = item.dataName else {
            // A control file alone waits (or, when it is no file at all, is quarantined as NOT_A_FILE).
            if let controlName = item.controlName, item.expectation == .waiting {
                #expect(
                    RawFiles.kind(folder: workspace.inbox, name: controlName) != nil,
                    "\(item.what): the lone control file left the inbox — \(context)")
            }
            return
        }
        let archive = workspace.archive + "/" + item.provider
        let places = [
            ("archive", RawFiles.kind(folder: archive, name: dataName) != nil),
            ("quarantine", RawFiles.kind(folder: workspace.quarantine, name: dataName) != nil),
            ("inbox", RawFiles.kind(folder: workspace.inbox, name: dataName) != nil),
        ].filter(\.1).map(\.0)
        #expect(places.count == 1, "\(item.what): the data file is in \(places) — \(context)")
        switch places.first {
        case "archive": checkArchived(item, dataName: dataName)
        case "quarantine": checkQuarantined(item, dataName: dataName)
        case "inbox":
            #expect(
                item.controlName.map { RawFiles.kind(folder: workspace.inbox, name: $0) == nil } ?? true,
                "\(item.what): a complete pair was left in the inbox — \(context)")
            if let expectation = item.expectation {
                #expect(expectation == .waiting, "\(item.what): waiting, expected \(expectation) — \(context)")
            }
        default: break
        }
    }

    private func checkArchived(_ item: FuzzItem, dataName: [UInt8]) {
        if let expectation = item.expectation {
            Issue.record("\(item.what): archived, expected \(expectation) — \(context)")
        }
        let archive = workspace.archive + "/" + item.provider
        let stem = EntryNameText.display(item.stem)
        #expect(
            item.controlName.map { RawFiles.kind(folder: archive, name: $0) == S_IFREG } ?? false,
            "\(item.what): the control file was not archived with its data file — \(context)")
        guard let data = RawFiles.read(folder: archive, name: dataName), let csv = try? Zstd.decompress(data) else {
            Issue.record("\(item.what): the archived data file does not decompress — \(context)")
            return
        }
        let outbox = workspace.outbox + "/" + item.provider
        guard let result = RawFiles.read(folder: outbox, name: Array("\(stem).result.csv.zst".utf8)),
            let resultCSV = try? Zstd.decompress(result),
            let controlBytes = RawFiles.read(folder: outbox, name: Array("\(stem).result.ctl".utf8)),
            let control = (try? JSONSerialization.jsonObject(with: Data(controlBytes))) as? [String: Any]
        else {
            Issue.record("\(item.what): archived without a readable result file and control file — \(context)")
            return
        }
        let lines = String(decoding: resultCSV, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "record_id,mykey_id,status,points,reason", "\(item.what): result header — \(context)")
        #expect(lines.last == "", "\(item.what): the result file does not end with a line end — \(context)")
        let rows = lines.dropFirst().dropLast()
        let expected = CSVModel.dataLines(csv).count
        #expect(
            rows.count == expected, "\(item.what): \(rows.count) result rows for \(expected) data lines — \(context)")
        var granted = 0
        var points = 0
        for row in rows {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 5, let rowPoints = Int(fields[3]), rowPoints >= 0,
                fields[2] == "GRANTED" || (fields[2] == "REJECTED" && rowPoints == 0),
                fields[1].isEmpty || (fields[1].count == 8 && fields[1].allSatisfy { $0.isUppercase || $0.isNumber })
            else {
                Issue.record("\(item.what): result row \"\(row)\" is not well-formed — \(context)")
                continue
            }
            if fields[2] == "GRANTED" { granted += 1 }
            points += rowPoints
        }
        #expect(control["format"] as? String == "mynapoint-results/1", "\(item.what): result format — \(context)")
        #expect(control["file"] as? String == "\(stem).result.csv.zst", "\(item.what): result name — \(context)")
        #expect(
            control["sha256"] as? String == SHA256.hash(result).hexString, "\(item.what): result sha256 — \(context)")
        #expect(control["records"] as? Int == rows.count, "\(item.what): result records — \(context)")
        #expect(control["granted_records"] as? Int == granted, "\(item.what): granted_records — \(context)")
        #expect(control["points_total"] as? Int == points, "\(item.what): points_total — \(context)")
    }

    private func checkQuarantined(_ item: FuzzItem, dataName: [UInt8]) {
        let quarantine = workspace.quarantine
        if let controlName = item.controlName {
            #expect(
                RawFiles.kind(folder: quarantine, name: controlName) != nil,
                "\(item.what): the control file was not quarantined with its data file — \(context)")
        }
        let suffix = Array(".error.json".utf8)
        let reasonName =
            item.stem.count + suffix.count <= 255
            ? item.stem + suffix
            : Array(item.stem.prefix(200)) + Array("~\(SHA256.hash(dataName).hexString.prefix(16))".utf8) + suffix
        guard let bytes = RawFiles.read(folder: quarantine, name: reasonName),
            let reason = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
        else {
            Issue.record("\(item.what): quarantined without a valid error.json — \(context)")
            return
        }
        let code = reason["code"] as? String ?? ""
        #expect(IntakeFuzzTests.codes.contains(code), "\(item.what): code \(code) — \(context)")
        #expect((reason["message"] as? String)?.isEmpty == false, "\(item.what): no message — \(context)")
        let line = reason["line"]
        #expect(
            line is NSNull || ((line as? Int).map { $0 >= 1 } ?? false),
            "\(item.what): line \(String(describing: line)) — \(context)")
        if let expectation = item.expectation {
            #expect(
                expectation == .quarantined(code),
                "\(item.what): quarantined \(code), expected \(expectation) — \(context)")
        }
        if code == "NOT_A_FILE", let kind = RawFiles.kind(folder: quarantine, name: dataName), kind != S_IFREG {
            // The entry itself moved; a link still points where it did, nothing was copied in its place.
            #expect(item.what.contains("symlink") == (kind == S_IFLNK), "\(item.what): moved as \(kind) — \(context)")
        }
    }

    /// No provider-facing file holds a server path, an errno text or a link target's content.
    func checkNoLeaks(markers: [String]) {
        var texts: [(String, String)] = []
        for name in RawFiles.names(in: workspace.quarantine) where EntryNameText.display(name).hasSuffix(".error.json")
        {
            texts.append(
                (
                    EntryNameText.display(name),
                    String(decoding: RawFiles.read(folder: workspace.quarantine, name: name) ?? [], as: UTF8.self)
                ))
        }
        for provider in RawFiles.names(in: workspace.outbox) {
            let folder = workspace.outbox + "/" + EntryNameText.display(provider)
            for name in RawFiles.names(in: folder) {
                let bytes = RawFiles.read(folder: folder, name: name) ?? []
                let text = EntryNameText.display(name).hasSuffix(".zst") ? ((try? Zstd.decompress(bytes)) ?? []) : bytes
                texts.append((EntryNameText.display(name), String(decoding: text, as: UTF8.self)))
            }
        }
        for (name, text) in texts {
            for marker in markers where text.contains(marker) {
                Issue.record("\(name) contains \"\(marker)\": \(text.prefix(300)) — \(context)")
            }
        }
    }
}
