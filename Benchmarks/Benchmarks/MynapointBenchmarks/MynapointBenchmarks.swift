import Benchmark
import Foundation
import Rules
@_spi(Benchmarks) import Settlement
import Zstd

/// The intake of every file of the drop with duplicates marked: what settling starts from.
let prepared = Result { () throws -> SettlementBenchmarks.Intakes in
    let fixture = try Fixture.shared()
    let reader = try SettlementBenchmarks.Reader(snapshot: try Fixture.snapshot(), campaign: fixture.campaign)
    var intakes = SettlementBenchmarks.Intakes(fixture.files.map { reader.read(file: $0, inbox: fixture.inbox) })
    if let quarantine = intakes.quarantine { throw FixtureError(message: "generated file quarantined: \(quarantine)") }
    SettlementBenchmarks.markDuplicates(&intakes)
    report("drop: \(intakes.records) records after intake, \(intakes.eligible) eligible after duplicates")
    return intakes
}

/// Inputs of the holder lookup: MyKey IDs (nine in ten of a holder, the rest unknown), providers and times.
struct Lookups: Sendable {
    var myKeys: [MyKeyID] = []
    var providers: [Int32] = []
    var times: [Instant] = []

    init(count: Int, snapshot: RegistrySnapshot, campaign: Campaign) {
        var random = SplitMix(seed: 42)
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        let start = campaign.windowStart.nanosecondsSinceEpoch
        let span = campaign.windowEnd.nanosecondsSinceEpoch - start
        let providerCount = UInt64(snapshot.providers.count)
        while myKeys.count < count {
            var key: MyKeyID?
            if random.next() % 10 != 0 {
                key = snapshot.currentMyKeys[Int(random.next() % UInt64(snapshot.holderCount))]
            } else {
                var packed: UInt64 = 0
                for _ in 0..<8 { packed = packed << 8 | UInt64(alphabet[Int(random.next() % 36)]) }
                key = MyKeyID(rawValue: packed)
            }
            guard let key else { continue }
            myKeys.append(key)
            providers.append(Int32(random.next() % providerCount))
            // A tenth of the records fall a month either side of the window.
            let offset = Int64(random.next() % UInt64(span + span / 5)) - span / 10
            times.append(Instant(nanosecondsSinceEpoch: start + offset))
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    // Tolerances for `baseline check`. Time: on the shared 2-core machine two runs of unchanged code differed by
    // up to 40 % (other work inflates the upper percentiles most, so the check reads p25 and p50), so only a
    // slowdown of about 1.5x or more fails it. Malloc counts are nearly deterministic: the exact gate, which
    // any allocation per line or per record trips.
    let time = BenchmarkThresholds(relative: [.p25: 50, .p50: 60])
    let mallocs = BenchmarkThresholds(absolute: [.p50: 100, .p90: 200])
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 1,
        maxDuration: .seconds(3),
        maxIterations: 1000,
        thresholds: [.wallClock: time, .throughput: time, .mallocCountTotal: mallocs]
    )
    // Suites whose one iteration is a whole file or the whole drop: a few samples a second at most, too few for
    // the integer throughput, so wall clock and mallocs only.
    let heavy = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal], warmupIterations: 1, maxDuration: .seconds(8), maxIterations: 10,
        thresholds: [.wallClock: time, .mallocCountTotal: mallocs])

    // 1. The byte scanner: lines (memchr for LF) and RFC 4180 fields, no allocation per line.
    Benchmark("Scan lines and fields (1 MB)") { benchmark, csv in
        blackHole(SettlementBenchmarks.scanFields(csv))
    } setup: {
        let fixture = try Fixture.shared()
        return try csvPrefix(of: fixture.path(fixture.files[0]), limit: 1 << 20)
    }

    // 2. Streaming zstd: read 256 KiB pieces, decompress block by block into one reused buffer.
    Benchmark("Decompress one data file (ZstdFileReader)", configuration: heavy) {
        (benchmark, input: (path: String, decompressor: ZstdDecompressor)) in
        var bytes = 0
        do {
            try ZstdFileReader(path: input.path).forEachChunk(decompressor: input.decompressor) { bytes += $0.count }
        } catch {
            benchmark.error("decompression failed: \(error)")
        }
        blackHole(bytes)
    } setup: {
        let fixture = try Fixture.shared()
        return (path: fixture.path(fixture.files[0]), decompressor: try ZstdDecompressor())
    }

    // 3. Field validation over one column of 100,000 generated lines, one function per benchmark.
    let sample = { (field: Int) in
        let fixture = try Fixture.shared()
        let csv = try csvPrefix(of: fixture.path(fixture.files[0]), limit: 16 << 20)
        return FieldColumn(csv, field: field, limit: 100_000)
    }
    Benchmark("Validate occurred_at (RFC3339.parse)") { benchmark, column in
        var valid = 0
        column.forEach { if RFC3339.parse($0) != nil { valid += 1 } }
        blackHole(valid)
    } setup: {
        try sample(4)
    }
    Benchmark("Validate mykey_id (MyKeyID(bytes:))") { benchmark, column in
        var packed: UInt64 = 0
        column.forEach { packed ^= MyKeyID(bytes: $0)?.rawValue ?? 0 }
        blackHole(packed)
    } setup: {
        try sample(1)
    }
    Benchmark("Validate amount_yen (FieldForm.amount)") { benchmark, column in
        var total = 0
        column.forEach { total &+= FieldForm.amount($0) ?? 0 }
        blackHole(total)
    } setup: {
        try sample(3)
    }
    Benchmark("Validate record_id (FieldForm.isRecordID)") { benchmark, column in
        var valid = 0
        column.forEach { if FieldForm.isRecordID($0) { valid += 1 } }
        blackHole(valid)
    } setup: {
        try sample(0)
    }

    // 4. Holder resolution: a hash lookup by packed MyKey ID plus the §4 checks, against a million holders.
    // Scaled: one iteration is a million lookups, and the figures shown are per lookup.
    Benchmark(
        "Holder lookup (1M holders, per lookup)",
        configuration: .init(
            metrics: heavy.metrics, warmupIterations: 1, scalingFactor: .mega, maxDuration: .seconds(8),
            maxIterations: 10, thresholds: heavy.thresholds)
    ) { (benchmark, input: (snapshot: RegistrySnapshot, campaign: Campaign, lookups: Lookups)) in
        let (snapshot, campaign, lookups) = input
        var reasons = 0
        for i in benchmark.scaledIterations {
            let (holder, reason) = snapshot.eligibility(
                myKey: lookups.myKeys[i], provider: lookups.providers[i], occurredAt: lookups.times[i],
                campaign: campaign)
            reasons &+= Int(reason.rawValue) &+ Int(holder ?? 0)
        }
        blackHole(reasons)
    } setup: {
        let (fixture, snapshot) = (try Fixture.shared(), try Fixture.snapshot())
        return (snapshot, fixture.campaign, Lookups(count: 1_000_000, snapshot: snapshot, campaign: fixture.campaign))
    }

    // 5. Settling: duplicates within the run, then the per-holder §5 sort and Points.award.
    Benchmark("Mark duplicates (whole drop)", configuration: heavy) {
        (benchmark, intakes: SettlementBenchmarks.Intakes) in
        var copy = intakes.copy()
        benchmark.startMeasurement()
        SettlementBenchmarks.markDuplicates(&copy)
        benchmark.stopMeasurement()
        blackHole(copy)
    } setup: {
        try prepared.get()
    }
    Benchmark("Settlement order and points (whole drop)", configuration: heavy) {
        (benchmark, input: (intakes: SettlementBenchmarks.Intakes, snapshot: RegistrySnapshot, campaign: Campaign)) in
        let (intakes, snapshot, campaign) = input
        var copy = intakes.copy()
        benchmark.startMeasurement()
        let holders = SettlementBenchmarks.awardPoints(&copy, snapshot: snapshot, campaign: campaign)
        benchmark.stopMeasurement()
        blackHole(holders)
        blackHole(copy)
    } setup: {
        (try prepared.get(), try Fixture.snapshot(), try Fixture.shared().campaign)
    }

    // The commit's preparation: the grant rows cut into pieces and taken, each file put in record-ID order once.
    Benchmark("Order grant rows for the commit (whole drop)", configuration: heavy) {
        (benchmark, intakes: SettlementBenchmarks.Intakes) in
        blackHole(SettlementBenchmarks.orderGrantRows(intakes, streams: 2))
    } setup: {
        try prepared.get()
    }

    // The result file of one settled file (its records' points awarded): rows rendered into the compressor's
    // buffer, compressed as a run compresses them.
    Benchmark("Render one result file", configuration: heavy) {
        (benchmark, input: (renderer: SettlementBenchmarks.Renderer, intakes: SettlementBenchmarks.Intakes)) in
        blackHole(try input.renderer.render(input.intakes))
    } setup: {
        let fixture = try Fixture.shared()
        var settled = try prepared.get().copy()
        _ = SettlementBenchmarks.awardPoints(&settled, snapshot: try Fixture.snapshot(), campaign: fixture.campaign)
        return (try SettlementBenchmarks.Renderer(), settled)
    }

    // 6. One whole file through intake: decompress, SHA-256, scan, validate, resolve. Allocations are per file
    // (the record arrays grow by doubling), not per line: the malloc tolerance above catches one per line.
    Benchmark("Intake one data file", configuration: heavy) {
        (benchmark, input: (reader: SettlementBenchmarks.Reader, fixture: Fixture)) in
        let (reader, fixture) = input
        let intakes = reader.read(file: fixture.files[0], inbox: fixture.inbox)
        blackHole(intakes.records)
    } setup: {
        let fixture = try Fixture.shared()
        let reader = try SettlementBenchmarks.Reader(snapshot: try Fixture.snapshot(), campaign: fixture.campaign)
        if let quarantine = reader.read(file: fixture.files[0], inbox: fixture.inbox).quarantine {
            throw FixtureError(message: "generated file quarantined: \(quarantine)")
        }
        return (reader, fixture)
    }
}
