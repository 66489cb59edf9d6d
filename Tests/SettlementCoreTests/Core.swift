import DropFormat
import Rules

@testable import Settlement

/// The run of a `ModelRun` through settlement's pure middle: an in-memory snapshot, in-memory intakes (records judged
/// by the snapshot as intake judges them), then `Settle.markDuplicates` and `Settle.awardPoints`.
enum Core {
    /// Every line's outcome, file by file, and every holder's new balance, by holder.
    static func settle(_ run: ModelRun, workers: Int) -> (outcomes: [[Outcome]], changes: [BalanceChange]) {
        let snapshot = snapshot(of: run)
        var intakes = run.files.map { intake(of: $0, run: run, snapshot: snapshot) }
        let earlier = earlierPositions(intakes, keys: run.earlierKeys, snapshot: snapshot)
        Settle.markDuplicates(&intakes, earlier: earlier, workers: workers)
        let changes = Settle.awardPoints(&intakes, snapshot: snapshot, campaign: run.campaign, workers: workers)
        let outcomes = intakes.map { intake in
            intake.records.map { Outcome(reason: Reason(rawValue: $0.reason)!, points: Int($0.points)) }
        }
        return (
            outcomes,
            changes.map { BalanceChange(holder: Int($0.holder), balance: $0.balance, records: $0.records) }
        )
    }

    /// The run's registry, built as the ledger builds it: holder `i` is index `i`, under a sparse database key.
    static func snapshot(of run: ModelRun) -> RegistrySnapshot {
        var snapshot = RegistrySnapshot()
        for (key, id) in run.providers.map({ ProviderID($0)! }).sorted().enumerated() {
            snapshot.addProvider(id, key: Int32(key + 1))
        }
        var certificates: [(holder: RegistrySnapshot.HolderIndex, validity: CertificateValidity)] = []
        for (i, holder) in run.holders.enumerated() {
            let h = snapshot.addHolder(key: Int64(1000 + 7 * i), status: holder.status)
            snapshot.bind(run.myKey(i), to: h, isCurrent: true)
            if holder.hasFormerKey { snapshot.bind(run.myKey(run.holders.count + i), to: h, isCurrent: false) }
            if let application = holder.application {
                let id = ProviderID(run.providers[application.provider % run.providers.count])!
                snapshot.setApplication(
                    of: h, provider: snapshot.providerIndex(id)!,
                    at: Instant(nanosecondsSinceEpoch: application.at))
            }
            snapshot.setBalance(of: h, holder.earlier, eligibleRecords: holder.earlierRecords)
            for (notBefore, notAfter, revokedAt) in holder.certificates {
                certificates.append(
                    (
                        h,
                        CertificateValidity(
                            notBefore: Instant(nanosecondsSinceEpoch: notBefore),
                            notAfter: Instant(nanosecondsSinceEpoch: notAfter),
                            revokedAt: revokedAt.map { Instant(nanosecondsSinceEpoch: $0) })
                    ))
            }
        }
        // Last holder first: the snapshot regroups them, as it does for the ledger's certificates in table order.
        snapshot.addCertificates(certificates.reversed())
        return snapshot
    }

    /// A settleable file's intake: each line judged as intake judges it (field checks, then the snapshot's §4 checks).
    static func intake(
        of file: (name: String, provider: String, records: [ModelRecord]), run: ModelRun, snapshot: RegistrySnapshot
    ) -> FileIntake {
        var intake = FileIntake(file: ProviderFile(name: file.name), verdict: .settle)
        intake.providerIndex = snapshot.providerIndex(ProviderID(file.provider)!)!
        for record in file.records {
            let offset = UInt32(intake.recordIDs.count)
            let recordID = Array(recordIDText(record.recordID).utf8)
            intake.recordIDs.append(contentsOf: recordID)
            if record.malformed {
                intake.records.append(.malformed(recordIDOffset: offset, recordIDLength: UInt8(recordID.count)))
                continue
            }
            let myKey = run.myKey(record.myKey)
            let occurredAt = Instant(nanosecondsSinceEpoch: record.instant)
            let (holder, reason) = snapshot.eligibility(
                myKey: myKey, provider: intake.providerIndex, occurredAt: occurredAt, campaign: run.campaign)
            intake.records.append(
                IntakeRecord(
                    occurredAt: record.instant, myKey: myKey.rawValue, recordIDOffset: offset,
                    amount: Int32(record.amount), holder: holder ?? -1, recordIDLength: UInt8(recordID.count),
                    reason: reason, kind: RecordKind.purchase.rawValue))
        }
        return intake
    }

    /// The positions of the well-formed lines whose key an earlier run settled, as the ledger's query finds them.
    static func earlierPositions(
        _ intakes: [FileIntake], keys: [(String, String)], snapshot: RegistrySnapshot
    ) -> [UInt64] {
        let settled = Set(keys.map { "\($0.0)|\($0.1)" })
        var positions: [UInt64] = []
        for (f, intake) in intakes.enumerated() {
            let provider = snapshot.providers[Int(intake.providerIndex)].value
            for (r, record) in intake.records.enumerated() where !record.isMalformed {
                let recordID = intake.withRecordID(record) { String(decoding: $0, as: UTF8.self) }
                if settled.contains("\(provider)|\(recordID)") { positions.append(Settle.position(file: f, record: r)) }
            }
        }
        return positions
    }
}
