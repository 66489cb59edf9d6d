import Foundation
import Generator
import Ledger
import Registry
import Rules
@_spi(Benchmarks) import Settlement
import Zstd

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The generated data every suite works on: one registry of a million holders and one drop of four files.
///
/// The benchmark tool starts one process per benchmark, so the files are generated once per run of the tool, in
/// a temporary folder named after the tool's process, and later processes of the same run reuse them; a run
/// removes the folders of earlier runs. The generator is seeded, so every run measures byte-identical files.
struct Fixture: Sendable {
    /// Holders in the registry.
    static let holders = 1_000_000
    /// Data lines over the drop's four files (one file per provider).
    static let records = 2_000_000

    let registry: String
    let inbox: String
    /// The drop's data files, in name order.
    let files: [String]
    let campaign = Campaign.mynapoint2020

    /// The shared fixture, or the error that kept it from being built.
    static func shared() throws -> Fixture { try built.get() }

    /// The registry snapshot a run would load (built on first use: only some suites need it).
    static func snapshot() throws -> RegistrySnapshot { try loaded.get() }

    private static let built = Result { try Fixture() }
    private static let loaded = Result { try snapshot(of: RegistryReader.read(directory: shared().registry)) }

    private init() throws {
        let temporary = FileManager.default.temporaryDirectory.path
        let prefix = "mynapoint-benchmarks-"
        let root = temporary + "/" + prefix + String(getppid())
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        where name.hasPrefix(prefix) && name != prefix + String(getppid()) {
            // A folder whose tool process is gone belongs to an earlier run.
            if let owner = Int32(name.dropFirst(prefix.count)), kill(owner, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: temporary + "/" + name)
            }
        }
        if !FileManager.default.fileExists(atPath: root) {
            let building = root + ".building-" + String(getpid())
            var options = GeneratorOptions()
            options.holders = Self.holders
            options.records = Self.records
            options.providers = 4
            options.filesPerProvider = 1
            let drop = try DropGenerator.generate(
                registry: building + "/registry", inbox: building + "/inbox", options: options)
            report(
                "fixture: \(drop.holders) holders, \(drop.records) records in \(drop.files) files, "
                    + "\(drop.csvBytes) CSV bytes, \(drop.compressedBytes) compressed bytes, in \(root)")
            if rename(building, root) != 0 { try? FileManager.default.removeItem(atPath: building) }
        }
        registry = root + "/registry"
        inbox = root + "/inbox"
        files = try FileManager.default.contentsOfDirectory(atPath: inbox).filter { $0.hasSuffix(".csv.zst") }.sorted()
    }

    /// The path of a data file of the drop.
    func path(_ file: String) -> String { inbox + "/" + file }

    /// The snapshot a run would load after importing `load` into an empty ledger, built through the snapshot's own
    /// building API as the ledger and the tests build theirs.
    private static func snapshot(of load: RegistryLoad) -> RegistrySnapshot {
        var snapshot = RegistrySnapshot()
        for (index, provider) in load.providers.sorted(by: { $0.id < $1.id }).enumerated() {
            snapshot.addProvider(provider.id, key: Int32(index + 1))
        }
        snapshot.reserveHolders(load.holders.count, keys: 1...Int64(max(1, load.holders.count)))
        snapshot.reserveMyKeys(load.holders.count + load.changes.count)
        for (index, holder) in load.holders.enumerated() {
            let h = snapshot.addHolder(key: Int64(index + 1), status: holder.status)
            snapshot.bind(holder.myKey, to: h, isCurrent: true)
            if let application = holder.application, let provider = snapshot.providerIndex(application.provider) {
                snapshot.setApplication(of: h, provider: provider, at: application.at)
            }
        }
        for change in load.changes {
            if let holder = snapshot.holder(myKey: change.new) {
                snapshot.bind(change.old, to: holder, isCurrent: false)
            }
        }
        snapshot.addCertificates(
            load.certificates.compactMap { certificate in
                snapshot.holder(myKey: certificate.myKey).map { (holder: $0, validity: certificate.validity) }
            })
        return snapshot
    }
}

/// The first `limit` bytes' worth of whole lines of a data file, header included.
func csvPrefix(of path: String, limit: Int) throws -> [UInt8] {
    guard let compressed = FileManager.default.contents(atPath: path) else {
        throw FixtureError(message: "cannot read \(path)")
    }
    let csv = try Zstd.decompress(Array(compressed))
    guard csv.count > limit, let lastNewline = csv[..<limit].lastIndex(of: 0x0A) else { return csv }
    return Array(csv[...lastNewline])
}

/// Values of one field of many lines, packed in one buffer so iterating them allocates nothing.
struct FieldColumn: Sendable {
    var bytes: [UInt8] = []
    var starts: [Int] = []
    var counts: [Int] = []

    /// Column `index` of the first `limit` data lines of `csv` (plain lines, no quoting, as the generator writes them).
    init(_ csv: [UInt8], field index: Int, limit: Int) {
        for line in csv.split(separator: 0x0A).dropFirst().prefix(limit) {
            let fields = line.split(separator: 0x2C, omittingEmptySubsequences: false)
            guard index < fields.count else { continue }
            starts.append(bytes.count)
            counts.append(fields[index].count)
            bytes.append(contentsOf: fields[index])
        }
    }

    var count: Int { starts.count }

    /// Calls `body` with every value, in order.
    @inline(__always)
    func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            for i in 0..<starts.count {
                body(UnsafeRawBufferPointer(rebasing: all[starts[i]..<(starts[i] + counts[i])]))
            }
        }
    }
}

/// Writes a line about the fixture to standard error, which the benchmark tool passes through.
func report(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// A fixture that cannot be built.
struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// SplitMix64: inputs drawn the same way on every run.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
