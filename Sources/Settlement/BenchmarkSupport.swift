import DropFormat
public import Rules

/// The settlement's internal hot paths, reachable from the benchmark suites in `Benchmarks/` only, through
/// `@_spi(Benchmarks) import Settlement`: no part of the library's API.
///
/// Each entry calls the code a run uses and nothing else, so a benchmark measures what a run does. The suites build
/// their registry snapshot through `RegistrySnapshot`'s own building API, as tests do.
@_spi(Benchmarks)
public enum SettlementBenchmarks {
    /// Splits `bytes` into lines and every line into fields, as intake does; returns the fields counted.
    public static func scanFields(_ bytes: [UInt8]) -> Int {
        var lines = LineScanner()
        let splitter = FieldSplitter()
        var fields = 0
        let count = { (line: UnsafeRawBufferPointer, _: Int) in
            if case .fields(let n) = splitter.split(line) { fields += n }
        }
        bytes.withUnsafeBytes { lines.feed($0, count) }
        lines.finish(count)
        return fields
    }

    /// One intake worker: owns its decompressor and field splitter, and reads one file at a time.
    public final class Reader {
        private let intake: Intake

        /// A worker that resolves records against `snapshot` under `campaign`.
        public init(snapshot: RegistrySnapshot, campaign: Campaign) throws {
            intake = try Intake(snapshot: snapshot, campaign: campaign)
        }

        /// Reads the data file `name` of `inbox` (with its control file) as a run does.
        public func read(file name: String, inbox: String) -> Intakes {
            let file = ProviderFile(name: name)
            let admitted = AdmittedFile(
                file: file, control: (try? Admission.readControl(of: file, inbox: inbox)) ?? .missing)
            return Intakes(files: [
                (try? intake.read(admitted, inbox: inbox)) ?? FileIntake(file: file, verdict: .vanished)
            ])
        }
    }

    /// What intake made of some files, in the form settling works on.
    public struct Intakes: Sendable {
        var files: [FileIntake]

        /// The intakes of several reads, in the given order.
        public init(_ parts: [Intakes]) { files = parts.flatMap(\.files) }

        init(files: [FileIntake]) { self.files = files }

        /// Data lines kept by intake over all files; 0 for a quarantined file.
        public var records: Int { files.reduce(0) { $0 + $1.records.count } }

        /// The quarantine of the first file that is not settled, if any.
        public var quarantine: Quarantine? {
            for file in files { if case .quarantine(let verdict) = file.verdict { return verdict } }
            return nil
        }

        /// A copy that shares no storage with `self`, so settling it copies nothing while it is measured.
        public func copy() -> Intakes {
            var copy = self
            for index in copy.files.indices { copy.files[index].records.withUnsafeMutableBufferPointer { _ in } }
            return copy
        }

        /// Records still eligible (reason `.none`).
        public var eligible: Int {
            files.reduce(0) { $0 + $1.records.lazy.filter { $0.reason == Reason.none.rawValue }.count }
        }
    }

    /// Marks duplicates within the run (no earlier runs), as a run does before settling.
    public static func markDuplicates(_ intakes: inout Intakes) {
        Settle.markDuplicates(&intakes.files, earlier: [])
    }

    /// Sorts the eligible records holder by holder in the §5 order and awards their points; returns the holders.
    public static func awardPoints(_ intakes: inout Intakes, snapshot: RegistrySnapshot, campaign: Campaign) -> Int {
        Settle.awardPoints(&intakes.files, snapshot: snapshot, campaign: campaign).count
    }

    /// One rendering worker of a run: a result renderer with its own compressor.
    public final class Renderer {
        private let renderer: ResultRenderer

        /// A renderer with the compressor a run gives result files.
        public init() throws { renderer = ResultRenderer(compressor: try ResultFile.compressor()) }

        /// Renders the result file of the first of `intakes`, as a run does; returns its compressed size.
        public func render(_ intakes: Intakes) throws -> Int { try renderer.render(intakes.files[0]).bytes.count }
    }

    /// Cuts the drop's grant rows into pieces for `streams` streams and takes every piece, as a run's commit does
    /// before copying (each file's rows put in record-ID order once); returns the rows.
    public static func orderGrantRows(_ intakes: Intakes, streams: Int) -> Int {
        let queue = PieceQueue(GrantStreams(intakes.files, count: streams).pieces, intakes: intakes.files)
        var rows = 0
        while let (_, records) = queue.next() { rows += records.count }
        return rows
    }
}
