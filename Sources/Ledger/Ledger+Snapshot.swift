import Dispatch
import Foundation
import Postgres
import Rules

extension Ledger {
    /// Reads the registry as it stands now (settlement spec §4: statuses as they stand when the run starts).
    ///
    /// All tables are read in one REPEATABLE READ snapshot of the database, so a registration committing
    /// meanwhile is seen entirely or not at all. One plain `COPY … TO STDOUT` per table (certificates with
    /// their revocation, the only join on the server), joined here by holder key into the snapshot's parallel arrays; certificates are grouped by
    /// holder with a counting sort. When the ledger can connect again, MyKey IDs and certificates are read
    /// on a second connection sharing the same database snapshot (`pg_export_snapshot`), in parallel.
    /// - Complexity: O(holders + certificates + MyKey IDs).
    public func loadSnapshot() throws -> RegistrySnapshot {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            let snapshot = try readSnapshot()
            try connection.execute("COMMIT")
            return snapshot
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Reads MyKey IDs and certificates, on `connection`, as raw rows keyed by holder key.
    fileprivate static func readSideTables(_ connection: PostgresConnection) throws -> SideTables {
        var tables = SideTables()
        try connection.copyOut("COPY mykey_ids (mykey_id, holder_key, retired_at_ns) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            guard let myKey = MyKeyID(bytes: row.bytes(0)), let key = row.int(1) else { return }
            tables.myKeys.append((myKey, key, row.isNull(2)))
        }
        // Revocation is one fact (certificate_revocations, by issuer and serial), whatever its source: the join
        // reads it for every certificate, so a CRL imported before or after the certificate counts alike.
        try connection.copyOut(
            """
            COPY (SELECT c.holder_key, c.not_before_ns, c.not_after_ns, r.revoked_at_ns FROM certificates c
                  LEFT JOIN certificate_revocations r ON r.issuer = c.issuer AND r.serial = c.serial) TO STDOUT
            """
        ) { raw in
            let row = TextCopyRow(raw)
            guard let key = row.int(0), let notBefore = row.int(1), let notAfter = row.int(2) else { return }
            tables.certificates.append(
                (
                    key,
                    CertificateValidity(
                        notBefore: Instant(nanosecondsSinceEpoch: notBefore),
                        notAfter: Instant(nanosecondsSinceEpoch: notAfter),
                        revokedAt: row.int(3).map { Instant(nanosecondsSinceEpoch: $0) })
                ))
        }
        return tables
    }

    private func readSnapshot() throws -> RegistrySnapshot {
        // The side tables on a second connection in the same database snapshot, while this one reads holders.
        var side: SideTables?
        let group = DispatchGroup()
        // Whatever happens here, the exported snapshot outlives the second reader.
        defer { group.wait() }
        let box = SideBox()
        if canConnectAgain, let exported = try? connection.query("SELECT pg_export_snapshot()")[0, 0].string() {
            let url = self.url
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    let other = try PostgresConnection.connect(url: url)
                    defer { other.close() }
                    try other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    try other.execute("SET TRANSACTION SNAPSHOT '\(exported)'")
                    box.tables = try Self.readSideTables(other)
                    try other.execute("COMMIT")
                } catch {
                    box.tables = SideTables(failure: error)
                }
            }
            thread.start()
        } else {
            side = try Self.readSideTables(connection)
        }
        var snapshot = RegistrySnapshot()
        let providers = try connection.query(
            "SELECT provider_key, provider_id FROM providers ORDER BY provider_id COLLATE \"C\"")
        var providerIndexByKey: [Int64: Int32] = [:]
        for row in 0..<providers.rowCount {
            let key = try providers[row, 0].int()
            guard let id = ProviderID(try providers[row, 1].string()) else { continue }
            providerIndexByKey[key] = Int32(snapshot.providers.count)
            snapshot.addProvider(id, key: Int32(key))
        }

        let bounds = try connection.query(
            "SELECT count(*), coalesce(min(holder_key), 0), coalesce(max(holder_key), 0) FROM holders")
        let count = Int(try bounds[0, 0].int())
        snapshot.holderIndexByKey = HolderKeyIndex(
            minimum: try bounds[0, 1].int(), maximum: try bounds[0, 2].int(), count: count)
        snapshot.holderKeys.reserveCapacity(count)
        snapshot.statuses.reserveCapacity(count)
        var failure: (any Error)?
        try connection.copyOut("COPY holders (holder_key, status) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            let status: HolderStatus?
            switch row.bytes(1).first {
            case UInt8(ascii: "a"): status = .active
            case UInt8(ascii: "s"): status = .suspended
            case UInt8(ascii: "r"): status = .revoked
            default: status = nil
            }
            guard let key = row.int(0), let status else {
                failure = failure ?? LedgerError("the holders table has a row the snapshot cannot read")
                return
            }
            snapshot.holderIndexByKey[key] = RegistrySnapshot.HolderIndex(snapshot.holderKeys.count)
            snapshot.holderKeys.append(key)
            snapshot.statuses.append(status)
        }
        if let failure { throw failure }
        let holders = snapshot.holderKeys.count
        snapshot.currentMyKeys = Array(repeating: nil, count: holders)
        snapshot.applicationProviders = Array(repeating: -1, count: holders)
        snapshot.appliedAt = Array(repeating: .distantFuture, count: holders)
        snapshot.balances = Array(repeating: Balance(), count: holders)
        snapshot.eligibleRecords = Array(repeating: 0, count: holders)
        let index = snapshot.holderIndexByKey

        try connection.copyOut("COPY applications (holder_key, provider_key, applied_at_ns) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            guard let key = row.int(0), let h = index[key], let providerKey = row.int(1),
                let provider = providerIndexByKey[providerKey], let at = row.int(2)
            else { return }
            snapshot.applicationProviders[Int(h)] = provider
            snapshot.appliedAt[Int(h)] = Instant(nanosecondsSinceEpoch: at)
        }
        try connection.copyOut("COPY ledger (holder_key, points, eligible_amount, records) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            guard let key = row.int(0), let h = index[key], let points = row.int(1), let amount = row.int(2),
                let records = row.int(3)
            else { return }
            snapshot.balances[Int(h)] = Balance(points: Int(points), eligibleAmount: Int(amount))
            snapshot.eligibleRecords[Int(h)] = Int(records)
        }
        let files = try connection.query("SELECT name, sha256 FROM files WHERE outcome = 'settled'")
        for row in 0..<files.rowCount {
            snapshot.settledFiles[try files[row, 0].string()] = try files[row, 1].bytes()
        }

        group.wait()
        let tables = side ?? box.tables ?? SideTables(failure: LedgerError("the snapshot's second reader ended early"))
        if let failure = tables.failure { throw failure }
        snapshot.holderIndexByMyKey = MyKeyTable(capacity: tables.myKeys.count)
        for (myKey, key, current) in tables.myKeys {
            guard let h = index[key] else { continue }
            snapshot.holderIndexByMyKey.set(myKey.rawValue, h)
            if current { snapshot.currentMyKeys[Int(h)] = myKey }
        }

        // Certificates grouped by holder (counting sort) into one array.
        var owners: [Int32] = []
        owners.reserveCapacity(tables.certificates.count)
        var validities: [CertificateValidity] = []
        validities.reserveCapacity(tables.certificates.count)
        for (key, validity) in tables.certificates {
            guard let h = index[key] else { continue }
            owners.append(h)
            validities.append(validity)
        }
        var start = Array(repeating: Int32(0), count: holders + 1)
        for owner in owners { start[Int(owner) + 1] += 1 }
        for h in 0..<holders { start[h + 1] += start[h] }
        var next = start
        var grouped = [CertificateValidity](
            repeating: CertificateValidity(notBefore: .distantPast, notAfter: .distantPast), count: validities.count)
        for (owner, validity) in zip(owners, validities) {
            grouped[Int(next[Int(owner)])] = validity
            next[Int(owner)] += 1
        }
        snapshot.certificateStart = start
        snapshot.certificates = grouped
        return snapshot
    }
}

/// MyKey IDs and certificates as read, keyed by holder key.
private struct SideTables {
    var myKeys: [(MyKeyID, Int64, Bool)] = []
    var certificates: [(Int64, CertificateValidity)] = []
    var failure: (any Error)?
}

/// The second reader's result, handed over once its thread ends (`DispatchGroup.wait` orders the accesses).
private final class SideBox: @unchecked Sendable {
    var tables: SideTables?
}
