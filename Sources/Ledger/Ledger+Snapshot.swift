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
    ///
    /// `withProviders` is called on this thread with the snapshot as soon as it holds the providers and the files
    /// settled before, while the rest is still to be read: a caller can start there what needs only those (reading
    /// the drop's files) and meanwhile the holders are read. An error it throws ends the reading.
    /// - Complexity: O(holders + certificates + MyKey IDs).
    public func loadSnapshot(
        withProviders: (RegistrySnapshot) throws -> Void = { _ in }
    ) throws -> RegistrySnapshot {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            let snapshot = try readSnapshot(withProviders: withProviders)
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
            var row = CopyFields(raw)
            guard let myKey = MyKeyID(bytes: row.next()), let key = row.nextInt() else { return }
            tables.myKeys.append((myKey, key, row.nextIsNull()))
        }
        // Revocation is one fact (certificate_revocations, by issuer and serial), whatever its source: every
        // revocation is matched to its certificate, so a CRL imported before or after the certificate counts alike.
        // The certificates are read plain and the few revoked ones apart, each revocation looked up in the
        // certificates' index (OFFSET 0 keeps that join a loop over the revocations): joining every certificate to
        // the revocations would hash each one's issuer and serial, which costs the server more than reading them.
        try connection.copyOut("COPY certificates (holder_key, not_before_ns, not_after_ns) TO STDOUT") { raw in
            var row = CopyFields(raw)
            guard let key = row.nextInt(), let notBefore = row.nextInt(), let notAfter = row.nextInt() else { return }
            tables.certificates.append(
                (
                    key,
                    CertificateValidity(
                        notBefore: Instant(nanosecondsSinceEpoch: notBefore),
                        notAfter: Instant(nanosecondsSinceEpoch: notAfter))
                ))
        }
        try connection.copyOut(
            """
            COPY (SELECT c.holder_key, c.not_before_ns, c.not_after_ns, r.revoked_at_ns FROM certificate_revocations r
                  CROSS JOIN LATERAL (SELECT holder_key, not_before_ns, not_after_ns FROM certificates
                                      WHERE issuer = r.issuer AND serial = r.serial OFFSET 0) c) TO STDOUT
            """
        ) { raw in
            var row = CopyFields(raw)
            guard let key = row.nextInt(), let notBefore = row.nextInt(), let notAfter = row.nextInt(),
                let revokedAt = row.nextInt()
            else { return }
            tables.revoked[key, default: []].append(
                CertificateValidity(
                    notBefore: Instant(nanosecondsSinceEpoch: notBefore),
                    notAfter: Instant(nanosecondsSinceEpoch: notAfter),
                    revokedAt: Instant(nanosecondsSinceEpoch: revokedAt)))
        }
        return tables
    }

    /// Reads every table into a snapshot, in the transaction `loadSnapshot` opened.
    private func readSnapshot(withProviders: (RegistrySnapshot) throws -> Void) throws -> RegistrySnapshot {
        let side = try startSideReader()
        // Whatever happens here, the exported snapshot outlives the second reader.
        defer { _ = side.wait() }
        var snapshot = RegistrySnapshot()
        let providerIndexByKey = try readProviders(into: &snapshot)
        let files = try connection.query("SELECT name, sha256 FROM files WHERE outcome = 'settled'")
        for row in 0..<files.rowCount {
            snapshot.addSettledFile(try files[row, 0].string(), sha256: try files[row, 1].bytes())
        }
        try withProviders(snapshot)
        try readHolders(into: &snapshot)
        try readApplications(into: &snapshot, providerIndexByKey: providerIndexByKey)
        try readBalances(into: &snapshot)
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
    private func readProviders(into snapshot: inout RegistrySnapshot) throws -> ProviderIndexByKey {
        let rows = try connection.query("SELECT provider_key, provider_id FROM providers")
        var providers: [(id: ProviderID, key: Int64)] = []
        for row in 0..<rows.rowCount {
            guard let id = ProviderID(try rows[row, 1].string()) else { continue }
            providers.append((id, try rows[row, 0].int()))
        }
        var indexByKey = ProviderIndexByKey(keys: providers.map(\.key))
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
            var row = CopyFields(raw)
            let key = row.nextInt()
            let status: HolderStatus?
            switch row.next().first {
            case UInt8(ascii: "a"): status = .active
            case UInt8(ascii: "s"): status = .suspended
            case UInt8(ascii: "r"): status = .revoked
            default: status = nil
            }
            guard let key, let status else {
                failure = failure ?? LedgerError("the holders table has a row the snapshot cannot read")
                return
            }
            snapshot.addHolder(key: key, status: status)
        }
        if let failure { throw failure }
    }

    /// Sets each holder's application (the provider by its index).
    private func readApplications(
        into snapshot: inout RegistrySnapshot, providerIndexByKey: ProviderIndexByKey
    ) throws {
        try connection.copyOut("COPY applications (holder_key, provider_key, applied_at_ns) TO STDOUT") { raw in
            var row = CopyFields(raw)
            guard let key = row.nextInt(), let h = snapshot.holder(key: key), let providerKey = row.nextInt(),
                let provider = providerIndexByKey[providerKey], let at = row.nextInt()
            else { return }
            snapshot.setApplication(of: h, provider: provider, at: Instant(nanosecondsSinceEpoch: at))
        }
    }

    /// Sets each holder's balance and record count from earlier runs.
    private func readBalances(into snapshot: inout RegistrySnapshot) throws {
        try connection.copyOut("COPY ledger (holder_key, points, eligible_amount, records) TO STDOUT") { raw in
            var row = CopyFields(raw)
            guard let key = row.nextInt(), let h = snapshot.holder(key: key), let points = row.nextInt(),
                let amount = row.nextInt(), let records = row.nextInt()
            else { return }
            snapshot.setBalance(
                of: h, Balance(points: Int(points), eligibleAmount: Int(amount)), eligibleRecords: Int(records))
        }
    }
}

/// MyKey IDs and certificates as read, keyed by holder key.
private struct SideTables {
    var myKeys: [(MyKeyID, Int64, Bool)] = []
    /// Every certificate, in table order, without its revocation.
    var certificates: [(Int64, CertificateValidity)] = []
    /// The revoked certificates, with their revocation, by holder key.
    var revoked: [Int64: [CertificateValidity]] = [:]
    var failure: (any Error)?

    /// Binds the MyKey IDs and adds the certificates of the snapshot's holders, each revoked one with its revocation,
    /// or throws the reader's failure.
    ///
    /// A revocation goes to its holder's first certificate with the same validity window that has none yet: which of
    /// two such certificates carries it cannot change what they vouch for together.
    func add(to snapshot: inout RegistrySnapshot) throws {
        if let failure { throw failure }
        snapshot.reserveMyKeys(myKeys.count)
        for (myKey, key, current) in myKeys {
            guard let h = snapshot.holder(key: key) else { continue }
            snapshot.bind(myKey, to: h, isCurrent: current)
        }
        var revoked = self.revoked
        var owned: [(holder: RegistrySnapshot.HolderIndex, validity: CertificateValidity)] = []
        owned.reserveCapacity(certificates.count)
        for (key, certificate) in certificates {
            guard let h = snapshot.holder(key: key) else { continue }
            var validity = certificate
            if let pending = revoked[key],
                let match = pending.firstIndex(where: {
                    $0.notBefore == validity.notBefore && $0.notAfter == validity.notAfter
                })
            {
                validity.revokedAt = pending[match].revokedAt
                revoked[key]!.remove(at: match)
            }
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

/// The fields of one row of `COPY … TO STDOUT` in text format, read left to right in one pass: each number is
/// parsed while its end is found, as `TextCopyRow` reads it (`\N`, an empty field or any other text is no number).
private struct CopyFields {
    private let row: UnsafeRawBufferPointer
    private var position = 0

    /// The fields of `row`, its line end left out.
    init(_ row: UnsafeRawBufferPointer) {
        self.row = row.last == 0x0A ? UnsafeRawBufferPointer(rebasing: row.dropLast()) : row
    }

    /// The next field's bytes; empty after the last field.
    mutating func next() -> UnsafeRawBufferPointer {
        guard position <= row.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let start = position
        while position < row.count && row[position] != 0x09 { position += 1 }
        defer { position += 1 }
        return UnsafeRawBufferPointer(rebasing: row[start..<position])
    }

    /// The next field as a decimal integer with an optional `-`, or nil.
    mutating func nextInt() -> Int64? {
        guard position <= row.count else { return nil }
        let start = position
        var negative = false
        if position < row.count && row[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        var value: Int64 = 0
        var valid = true
        while position < row.count {
            let byte = row[position]
            if byte == 0x09 { break }
            let digit = byte &- 0x30
            if digit > 9 { valid = false }
            value = value &* 10 &+ Int64(digit)
            position += 1
        }
        let empty = position == start
        position += 1
        guard valid, !empty else { return nil }
        return negative ? -value : value
    }

    /// Whether the next field is `\N` (NULL).
    mutating func nextIsNull() -> Bool {
        let field = next()
        return field.count == 2 && field[0] == 0x5C && field[1] == 0x4E
    }
}

/// Providers' snapshot indexes by their database keys: an array when the keys are small (identity columns), a
/// dictionary otherwise; every application row looks one up.
private struct ProviderIndexByKey {
    private var dense: [Int32] = []
    private var sparse: [Int64: Int32] = [:]

    /// A map for the keys given.
    init(keys: [Int64]) {
        if let largest = keys.max(), keys.allSatisfy({ $0 >= 0 }), largest < 1 << 16 {
            dense = Array(repeating: -1, count: Int(largest) + 1)
        }
    }

    subscript(key: Int64) -> Int32? {
        get {
            if key >= 0 && key < dense.count {
                let index = dense[Int(key)]
                return index < 0 ? nil : index
            }
            return sparse[key]
        }
        set {
            if key >= 0 && key < dense.count {
                dense[Int(key)] = newValue ?? -1
            } else {
                sparse[key] = newValue
            }
        }
    }
}
