import Dispatch
import Foundation
import Postgres
public import Rules

extension Ledger {
    /// Reads the registry as it stands now (settlement spec §4: statuses as they stand when the run starts).
    ///
    /// All tables are read in one REPEATABLE READ snapshot of the database, so a registration committing
    /// meanwhile is seen entirely or not at all. One plain `COPY … TO STDOUT` per table (the revoked certificates
    /// apart, the only join on the server; of the holders, when their keys are dense, only those not active), joined
    /// here by holder key through the snapshot's building API (`RegistrySnapshot.addHolder` and the rest). When the
    /// ledger can connect again, MyKey IDs and certificates are read on a second connection sharing the same
    /// database snapshot (`pg_export_snapshot`), in parallel.
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
            // Each query here reads one table once; parallel workers would only add processes for the cores that are
            // meanwhile reading the drop's files.
            try connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            let snapshot = try readSnapshot(withProviders: withProviders)
            try connection.execute("COMMIT")
            return snapshot
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `copy` (a `COPY … TO STDOUT`) in binary format and calls `row` with each row's fields: no number is
    /// written out in decimal by the server, nor read back here.
    fileprivate static func copyRows(
        _ connection: PostgresConnection, _ copy: String, _ row: (inout BinaryCopyFields) throws -> Void
    ) throws {
        var reader = BinaryCopyReader()
        try connection.copyOut(copy + " (FORMAT binary)") { chunk in try reader.read(chunk, row) }
        try reader.finish()
    }

    /// Reads MyKey IDs and certificates, on `connection`, as raw rows keyed by holder key.
    fileprivate static func readSideTables(_ connection: PostgresConnection) throws -> SideTables {
        var tables = SideTables()
        try copyRows(connection, "COPY mykey_ids (mykey_id, holder_key, retired_at_ns) TO STDOUT") { row in
            guard let myKey = MyKeyID(bytes: row.next()), let key = row.nextInt() else { return }
            tables.myKeys.append((myKey, key, row.nextIsNull()))
        }
        // Revocation is one fact (certificate_revocations, by issuer and serial), whatever its source: every
        // revocation is matched to its certificate, so a CRL imported before or after the certificate counts alike.
        // The certificates are read plain and the few revoked ones apart, each revocation looked up in the
        // certificates' index (OFFSET 0 keeps that join a loop over the revocations): joining every certificate to
        // the revocations would hash each one's issuer and serial, which costs the server more than reading them.
        try copyRows(connection, "COPY certificates (holder_key, not_before_ns, not_after_ns) TO STDOUT") { row in
            guard let key = row.nextInt(), let notBefore = row.nextInt(), let notAfter = row.nextInt() else { return }
            tables.certificates.append(
                (
                    key,
                    CertificateValidity(
                        notBefore: Instant(nanosecondsSinceEpoch: notBefore),
                        notAfter: Instant(nanosecondsSinceEpoch: notAfter))
                ))
        }
        try copyRows(
            connection,
            """
            COPY (SELECT c.holder_key, c.not_before_ns, c.not_after_ns, r.revoked_at_ns FROM certificate_revocations r
                  CROSS JOIN LATERAL (SELECT holder_key, not_before_ns, not_after_ns FROM certificates
                                      WHERE issuer = r.issuer AND serial = r.serial OFFSET 0) c) TO STDOUT
            """
        ) { row in
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
    ///
    /// When the keys are dense (an identity column without gaps: as many holders as keys between the smallest and
    /// the largest), every key is added as active and only the other holders are read: most holders are active, and
    /// sending a million rows is most of what reading this table costs the server.
    private func readHolders(into snapshot: inout RegistrySnapshot) throws {
        let bounds = try connection.query(
            "SELECT count(*), coalesce(min(holder_key), 0), coalesce(max(holder_key), 0) FROM holders")
        let (count, low, high) = (try bounds[0, 0].int(), try bounds[0, 1].int(), try bounds[0, 2].int())
        snapshot.reserveHolders(Int(count), keys: low...high)
        let dense = count > 0 && high - low == count - 1
        if dense {
            for key in low...high { snapshot.addHolder(key: key, status: .active) }
        }
        var failure: (any Error)?
        let copy =
            dense
            ? "COPY (SELECT holder_key, status FROM holders WHERE status <> 'active') TO STDOUT"
            : "COPY holders (holder_key, status) TO STDOUT"
        try Self.copyRows(connection, copy) { row in
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
            if !dense {
                snapshot.addHolder(key: key, status: status)
            } else if let holder = snapshot.holder(key: key) {
                snapshot.setStatus(of: holder, status)
            } else {
                failure = failure ?? LedgerError("the holders table changed while the snapshot read it")
            }
        }
        if let failure { throw failure }
    }

    /// Sets each holder's application (the provider by its index).
    private func readApplications(
        into snapshot: inout RegistrySnapshot, providerIndexByKey: ProviderIndexByKey
    ) throws {
        try Self.copyRows(connection, "COPY applications (holder_key, provider_key, applied_at_ns) TO STDOUT") { row in
            guard let key = row.nextInt(), let h = snapshot.holder(key: key), let providerKey = row.nextInt(),
                let provider = providerIndexByKey[providerKey], let at = row.nextInt()
            else { return }
            snapshot.setApplication(of: h, provider: provider, at: Instant(nanosecondsSinceEpoch: at))
        }
    }

    /// Sets each holder's balance and record count from earlier runs.
    private func readBalances(into snapshot: inout RegistrySnapshot) throws {
        try Self.copyRows(connection, "COPY ledger (holder_key, points, eligible_amount, records) TO STDOUT") { row in
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

/// The rows of a `COPY … TO STDOUT (FORMAT binary)` as libpq hands them over, one message at a time: the format's
/// header before the first row, each row its field count and its fields (a length, -1 for NULL, then the bytes, big
/// endian), and a count of -1 after the last.
private struct BinaryCopyReader {
    private static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
    private var headerRead = false
    private var ended = false

    /// Calls `row` with each row of `chunk`.
    mutating func read(_ chunk: UnsafeRawBufferPointer, _ row: (inout BinaryCopyFields) throws -> Void) throws {
        var position = 0
        if !headerRead {
            guard chunk.count >= 19, chunk.prefix(11).elementsEqual(Self.signature) else { throw Self.malformed }
            let extensionLength = Int(chunk.loadUnaligned(fromByteOffset: 15, as: UInt32.self).bigEndian)
            position = 19 + extensionLength
            headerRead = true
        }
        while position < chunk.count {
            guard !ended, chunk.count - position >= 2 else { throw Self.malformed }
            let fieldCount = Int(
                Int16(bitPattern: chunk.loadUnaligned(fromByteOffset: position, as: UInt16.self).bigEndian))
            position += 2
            if fieldCount < 0 {
                ended = true
                continue
            }
            var fields = BinaryCopyFields(chunk, at: position, count: fieldCount)
            guard fields.isWhole else { throw Self.malformed }
            position = fields.end
            try row(&fields)
        }
    }

    /// Throws unless the rows ended as the format ends them.
    func finish() throws {
        guard ended else { throw Self.malformed }
    }

    private static var malformed: LedgerError {
        LedgerError("a snapshot table arrived in a form the reader does not know")
    }
}

/// The fields of one row of a binary COPY, read left to right.
struct BinaryCopyFields {
    private let chunk: UnsafeRawBufferPointer
    /// Where the next field's length is.
    private var cursor = 0
    private var remaining: Int
    /// Where the row ends in its chunk.
    private(set) var end: Int
    /// Whether every field of the row lies inside the chunk.
    private(set) var isWhole = true

    init(_ chunk: UnsafeRawBufferPointer, at start: Int, count: Int) {
        self.chunk = chunk
        cursor = start
        remaining = count
        var position = start
        for _ in 0..<count {
            guard chunk.count - position >= 4 else {
                isWhole = false
                break
            }
            let length = Int(
                Int32(bitPattern: chunk.loadUnaligned(fromByteOffset: position, as: UInt32.self).bigEndian))
            position += 4 + max(0, length)
            if position > chunk.count {
                isWhole = false
                break
            }
        }
        end = position
    }

    /// The next field's bytes, or nil for NULL or past the last field.
    private mutating func field() -> UnsafeRawBufferPointer? {
        guard remaining > 0 else { return nil }
        remaining -= 1
        let length = Int(Int32(bitPattern: chunk.loadUnaligned(fromByteOffset: cursor, as: UInt32.self).bigEndian))
        cursor += 4
        guard length >= 0 else { return nil }
        defer { cursor += length }
        return UnsafeRawBufferPointer(rebasing: chunk[cursor..<(cursor + length)])
    }

    /// The next field's bytes; empty for NULL or past the last field.
    mutating func next() -> UnsafeRawBufferPointer { field() ?? UnsafeRawBufferPointer(start: nil, count: 0) }

    /// The next field as an integer (`smallint`, `integer` or `bigint`), or nil for NULL.
    mutating func nextInt() -> Int64? {
        guard let bytes = field() else { return nil }
        switch bytes.count {
        case 8: return Int64(bigEndian: bytes.loadUnaligned(as: Int64.self))
        case 4: return Int64(Int32(bigEndian: bytes.loadUnaligned(as: Int32.self)))
        case 2: return Int64(Int16(bigEndian: bytes.loadUnaligned(as: Int16.self)))
        default: return nil
        }
    }

    /// Whether the next field is NULL.
    mutating func nextIsNull() -> Bool {
        guard remaining > 0 else { return false }
        return field() == nil
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
