import Dispatch
import Foundation
import Postgres
public import Rules

extension Ledger {
    /// Reads the registry as it stands now (settlement spec §4: statuses as they stand when the run starts).
    ///
    /// All tables are read in one REPEATABLE READ snapshot of the database, so a registration committing
    /// meanwhile is seen entirely or not at all. One plain `COPY … TO STDOUT` per table (certificates with
    /// their revocation, the only join on the server), joined here by holder key through the snapshot's building
    /// API (`RegistrySnapshot.addHolder` and the rest). When the ledger can connect again, MyKey IDs and
    /// certificates are read on a second connection sharing the same database snapshot (`pg_export_snapshot`), in
    /// parallel.
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

    /// Reads every table into a snapshot, in the transaction `loadSnapshot` opened.
    private func readSnapshot() throws -> RegistrySnapshot {
        let side = try startSideReader()
        // Whatever happens here, the exported snapshot outlives the second reader.
        defer { _ = side.wait() }
        var snapshot = RegistrySnapshot()
        let providerIndexByKey = try readProviders(into: &snapshot)
        try readHolders(into: &snapshot)
        try readApplications(into: &snapshot, providerIndexByKey: providerIndexByKey)
        try readBalances(into: &snapshot)
        let files = try connection.query("SELECT name, sha256 FROM files WHERE outcome = 'settled'")
        for row in 0..<files.rowCount {
            snapshot.addSettledFile(try files[row, 0].string(), sha256: try files[row, 1].bytes())
        }
        try side.wait().add(to: &snapshot)
        return snapshot
    }

    /// Starts reading the side tables: on a second connection sharing this transaction's database snapshot
    /// (`pg_export_snapshot`), in parallel, when the ledger can connect again; otherwise here and now.
    private func startSideReader() throws -> SideReader {
        let reader = SideReader()
        guard canConnectAgain, let exported = try? connection.query("SELECT pg_export_snapshot()")[0, 0].string()
        else {
            reader.tables = try Self.readSideTables(connection)
            return reader
        }
        let url = self.url
        reader.group.enter()
        let thread = Thread {
            defer { reader.group.leave() }
            do {
                let other = try PostgresConnection.connect(url: url)
                defer { other.close() }
                try other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try other.execute("SET TRANSACTION SNAPSHOT '\(exported)'")
                reader.tables = try Self.readSideTables(other)
                try other.execute("COMMIT")
            } catch {
                reader.tables = SideTables(failure: error)
            }
        }
        thread.start()
        return reader
    }

    /// Adds the providers in byte order of their IDs, as the snapshot requires; returns their indexes by database key.
    private func readProviders(into snapshot: inout RegistrySnapshot) throws -> [Int64: Int32] {
        let rows = try connection.query("SELECT provider_key, provider_id FROM providers")
        var providers: [(id: ProviderID, key: Int64)] = []
        for row in 0..<rows.rowCount {
            guard let id = ProviderID(try rows[row, 1].string()) else { continue }
            providers.append((id, try rows[row, 0].int()))
        }
        var indexByKey: [Int64: Int32] = [:]
        for provider in providers.sorted(by: { $0.id < $1.id }) {
            indexByKey[provider.key] = snapshot.addProvider(provider.id, key: Int32(provider.key))
        }
        return indexByKey
    }

    /// Adds every holder with its status, sized from the table's bounds so that holder keys index an array.
    private func readHolders(into snapshot: inout RegistrySnapshot) throws {
        let bounds = try connection.query(
            "SELECT count(*), coalesce(min(holder_key), 0), coalesce(max(holder_key), 0) FROM holders")
        snapshot.reserveHolders(Int(try bounds[0, 0].int()), keys: try bounds[0, 1].int()...(try bounds[0, 2].int()))
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
            snapshot.addHolder(key: key, status: status)
        }
        if let failure { throw failure }
    }

    /// Sets each holder's application (the provider by its index).
    private func readApplications(
        into snapshot: inout RegistrySnapshot, providerIndexByKey: [Int64: Int32]
    ) throws {
        try connection.copyOut("COPY applications (holder_key, provider_key, applied_at_ns) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            guard let key = row.int(0), let h = snapshot.holder(key: key), let providerKey = row.int(1),
                let provider = providerIndexByKey[providerKey], let at = row.int(2)
            else { return }
            snapshot.setApplication(of: h, provider: provider, at: Instant(nanosecondsSinceEpoch: at))
        }
    }

    /// Sets each holder's balance and record count from earlier runs.
    private func readBalances(into snapshot: inout RegistrySnapshot) throws {
        try connection.copyOut("COPY ledger (holder_key, points, eligible_amount, records) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            guard let key = row.int(0), let h = snapshot.holder(key: key), let points = row.int(1),
                let amount = row.int(2), let records = row.int(3)
            else { return }
            snapshot.setBalance(
                of: h, Balance(points: Int(points), eligibleAmount: Int(amount)), eligibleRecords: Int(records))
        }
    }
}

/// MyKey IDs and certificates as read, keyed by holder key.
private struct SideTables {
    var myKeys: [(MyKeyID, Int64, Bool)] = []
    var certificates: [(Int64, CertificateValidity)] = []
    var failure: (any Error)?

    /// Binds the MyKey IDs and adds the certificates of the snapshot's holders, or throws the reader's failure.
    func add(to snapshot: inout RegistrySnapshot) throws {
        if let failure { throw failure }
        snapshot.reserveMyKeys(myKeys.count)
        for (myKey, key, current) in myKeys {
            guard let h = snapshot.holder(key: key) else { continue }
            snapshot.bind(myKey, to: h, isCurrent: current)
        }
        var owned: [(holder: RegistrySnapshot.HolderIndex, validity: CertificateValidity)] = []
        owned.reserveCapacity(certificates.count)
        for (key, validity) in certificates {
            guard let h = snapshot.holder(key: key) else { continue }
            owned.append((h, validity))
        }
        snapshot.addCertificates(owned)
    }
}

/// The side tables, handed over once the second reader's thread ends (`DispatchGroup.wait` orders the accesses).
private final class SideReader: @unchecked Sendable {
    let group = DispatchGroup()
    var tables: SideTables?

    /// Waits for the second reader, if any, and returns what it read.
    func wait() -> SideTables {
        group.wait()
        return tables ?? SideTables(failure: LedgerError("the snapshot's second reader ended early"))
    }
}
