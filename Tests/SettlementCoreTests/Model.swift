import Rules

/// Provider IDs the runs draw from; byte order (A, P0001, P10, P9, PB) is neither the order listed nor numeric order.
let providerPool = ["PB", "P9", "A", "P0001", "P10"]
/// Stems of the record IDs the runs draw from; byte order differs from numeric and from case-blind order.
let recordIDPool = ["1", "10", "2", "R-1", "R.1", "a", "A", "r_1"]
/// How many record IDs the runs draw from: few, so that keys repeat.
let recordIDCount = 4 * recordIDPool.count

/// Record ID `n` (below `recordIDCount`): a stem of `recordIDPool`, then for the later ones a digit.
func recordIDText(_ n: Int) -> String {
    recordIDPool[n % recordIDPool.count] + (n < recordIDPool.count ? "" : String(n / recordIDPool.count))
}
/// The campaign window of every run, in nanoseconds since the epoch: `[10, 90)`.
let window: Range<Int64> = 10..<90

/// A holder of the registry, as the model knows it.
struct ModelHolder: Sendable, CustomStringConvertible {
    var status: HolderStatus
    /// The provider (an index into the run's providers, modulo their count) and the time of the application.
    var application: (provider: Int, at: Int64)?
    /// `(not_before, not_after, revoked_at)`.
    var certificates: [(Int64, Int64, Int64?)]
    /// Whether the holder also had a former MyKey ID.
    var hasFormerKey: Bool
    /// Balance and eligible records from earlier runs.
    var earlier: Balance
    var earlierRecords: Int

    var description: String {
        "\(status) applied \(application.map { "\($0)" } ?? "never") certificates \(certificates) former "
            + "\(hasFormerKey) earlier \(earlier.points)/\(earlier.eligibleAmount)/\(earlierRecords)"
    }
}

/// A data line of a provider file, as the model knows it.
struct ModelRecord: Sendable, CustomStringConvertible {
    /// The record ID's number (see `recordIDText(_:)`).
    var recordID: Int
    /// Holder `i`'s current MyKey ID for `i < holders`, holder `i - holders`'s former one below `2 × holders`,
    /// nobody's otherwise.
    var myKey: Int
    var instant: Int64
    var amount: Int
    /// A line that failed the field checks (§4 check 1).
    var malformed: Bool

    var description: String {
        "\(malformed ? "malformed " : "")\(recordIDText(recordID)) key \(myKey) at \(instant) \(amount) yen"
    }
}

/// A provider file of the run.
struct ModelFile: Sendable, CustomStringConvertible {
    /// An index into the run's providers, modulo their count.
    var provider: Int
    var records: [ModelRecord]
    var description: String { "file of provider \(provider): \(records)" }
}

/// Everything one run starts from.
struct ModelRun: Sendable, CustomStringConvertible {
    /// The registered providers (IDs from `providerPool`), in no particular order.
    var providers: [String]
    var holders: [ModelHolder]
    /// The files, in the run's order (byte order of their names).
    var files: [(name: String, provider: String, records: [ModelRecord])]
    /// `(provider ID, record ID)` settled by earlier runs.
    var earlierKeys: [(String, String)]
    var campaign: Campaign

    var description: String {
        "providers \(providers)\nholders \(holders)\nfiles \(files)\nearlier \(earlierKeys)\n"
            + "rate \(campaign.ratePercent) cap \(campaign.capPoints) \(campaign.rounding)"
    }

    /// The MyKey ID a record names (see `ModelRecord.myKey`).
    func myKey(_ choice: Int) -> MyKeyID {
        let name: String
        if choice < holders.count {
            name = "HOLDER" + twoDigits(choice)
        } else if choice < 2 * holders.count {
            name = "FORMER" + twoDigits(choice - holders.count)
        } else {
            name = "NOBODY00"
        }
        return MyKeyID(name)!
    }

    private func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// The outcome of one data line: its reason and points.
struct Outcome: Equatable, CustomStringConvertible {
    var reason: Reason
    var points: Int
    var description: String { "\(reason.code.isEmpty ? "GRANTED" : reason.code) \(points)" }
}

/// A holder's new balance after the run.
struct BalanceChange: Equatable, CustomStringConvertible {
    var holder: Int
    var balance: Balance
    var records: Int
    var description: String { "holder \(holder): \(balance.points) points, \(balance.eligibleAmount) yen, \(records)" }
}

/// A second reading of settlement spec §4 (checks 2–10) and §5, written as the spec reads, on strings and plain
/// integers, one record at a time, with nothing shared with the code it checks but the value types.
enum NaiveSettlement {
    /// Every line's outcome, file by file, and every holder's new balance, by holder.
    static func settle(_ run: ModelRun) -> (outcomes: [[Outcome]], changes: [BalanceChange]) {
        var settled = Set(run.earlierKeys.map { "\($0.0)|\($0.1)" })
        var outcomes: [[Outcome]] = []
        var eligible: [(holder: Int, instant: Int64, provider: String, recordID: String, amount: Int, at: (Int, Int))] =
            []
        for (f, file) in run.files.enumerated() {
            outcomes.append([])
            for (l, record) in file.records.enumerated() {
                let recordID = recordIDText(record.recordID)
                if record.malformed {
                    outcomes[f].append(Outcome(reason: .malformed, points: 0))
                    continue
                }
                // `|` is in neither alphabet, so the joined key is unambiguous.
                if !settled.insert("\(file.provider)|\(recordID)").inserted {
                    outcomes[f].append(Outcome(reason: .duplicate, points: 0))
                    continue
                }
                let (holder, reason) = eligibility(record, provider: file.provider, run: run)
                outcomes[f].append(Outcome(reason: reason, points: 0))
                if reason == .none, let holder {
                    eligible.append((holder, record.instant, file.provider, recordID, record.amount, (f, l)))
                }
            }
        }
        var changes: [BalanceChange] = []
        for (h, holder) in run.holders.enumerated() {
            let mine = eligible.filter { $0.holder == h }.sorted { a, b in
                if a.instant != b.instant { return a.instant < b.instant }
                if a.provider != b.provider { return Array(a.provider.utf8).lexicographicallyPrecedes(b.provider.utf8) }
                return Array(a.recordID.utf8).lexicographicallyPrecedes(b.recordID.utf8)
            }
            if mine.isEmpty { continue }
            var granted = holder.earlier.points
            var amount = holder.earlier.eligibleAmount
            let rate = run.campaign.ratePercent
            for record in mine {
                let premium =
                    switch run.campaign.rounding {
                    case .perRecord: record.amount * rate / 100
                    case .cumulative: (amount + record.amount) * rate / 100 - amount * rate / 100
                    }
                let points = max(0, min(premium, run.campaign.capPoints - granted))
                let reason: Reason = points == premium ? .none : points > 0 ? .capPartial : .capReached
                outcomes[record.at.0][record.at.1] = Outcome(reason: reason, points: points)
                granted += points
                amount += record.amount
            }
            changes.append(
                BalanceChange(
                    holder: h, balance: Balance(points: granted, eligibleAmount: amount),
                    records: holder.earlierRecords + mine.count))
        }
        return (outcomes, changes)
    }

    /// §4 checks 3–10 for a well-formed, first-seen record, with the holder it names (nil for none).
    static func eligibility(_ record: ModelRecord, provider: String, run: ModelRun) -> (Int?, Reason) {
        let t = record.instant
        let count = run.holders.count
        var holder: Int?
        if record.myKey < count {
            holder = record.myKey
        } else if record.myKey < 2 * count && run.holders[record.myKey - count].hasFormerKey {
            holder = record.myKey - count
        }
        if !window.contains(t) { return (holder, .outOfWindow) }
        guard let h = holder else { return (nil, .unknownMyKey) }
        let model = run.holders[h]
        if model.status == .revoked { return (h, .myKeyRevoked) }
        if model.status == .suspended { return (h, .myKeySuspended) }
        guard let application = model.application else { return (h, .notApplied) }
        if run.providers[application.provider % run.providers.count] != provider { return (h, .otherProvider) }
        if t < application.at { return (h, .beforeApplication) }
        let covering = model.certificates.filter { $0.0 <= t && t < $0.1 }
        if covering.contains(where: { $0.2 == nil || $0.2! > t }) { return (h, .none) }
        return (h, covering.isEmpty ? .certExpired : .certRevoked)
    }
}
