import Postgres
import Rules

extension Ledger {
    /// Reads the registry as it stands now (settlement spec §4: statuses as they stand when the run starts).
    ///
    /// Bulk reads through `COPY … TO STDOUT`, ordered by holder so certificates merge in without a lookup.
    /// - Complexity: O(holders + certificates + MyKey IDs).
    public func loadSnapshot() throws -> RegistrySnapshot {
        var snapshot = RegistrySnapshot()
        let providers = try connection.query(
            "SELECT provider_key, provider_id FROM providers ORDER BY provider_id COLLATE \"C\"")
        var providerIndexByKey: [Int64: Int32] = [:]
        for row in 0..<providers.rowCount {
            let key = try providers[row, 0].int()
            guard let id = ProviderID(try providers[row, 1].string()) else { continue }
            providerIndexByKey[key] = Int32(row)
            snapshot.addProvider(id, key: Int32(key))
        }

        // Certificates, grouped by holder.
        var certificateHolders: [Int64] = []
        var certificates: [CertificateValidity] = []
        try connection.copyOut(
            "COPY (SELECT holder_key, not_before_ns, not_after_ns, revoked_at_ns FROM certificates ORDER BY holder_key) TO STDOUT"
        ) { raw in
            let row = TextCopyRow(raw)
            guard let holder = row.int(0), let notBefore = row.int(1), let notAfter = row.int(2) else { return }
            certificateHolders.append(holder)
            certificates.append(
                CertificateValidity(
                    notBefore: Instant(nanosecondsSinceEpoch: notBefore),
                    notAfter: Instant(nanosecondsSinceEpoch: notAfter),
                    revokedAt: row.int(3).map { Instant(nanosecondsSinceEpoch: $0) }))
        }

        var nextCertificate = 0
        var failure: (any Error)?
        try connection.copyOut(
            """
            COPY (SELECT h.holder_key, h.status, a.provider_key, a.applied_at_ns, l.points, l.eligible_amount, l.records, m.mykey_id
                  FROM holders h
                  LEFT JOIN applications a ON a.holder_key = h.holder_key
                  LEFT JOIN ledger l ON l.holder_key = h.holder_key
                  LEFT JOIN mykey_ids m ON m.holder_key = h.holder_key AND m.retired_at_ns IS NULL
                  ORDER BY h.holder_key) TO STDOUT
            """
        ) { raw in
            let row = TextCopyRow(raw)
            guard failure == nil, let key = row.int(0), let statusName = row.string(1),
                let status = HolderStatus(name: statusName)
            else {
                failure = failure ?? LedgerError("the holders table has a row the snapshot cannot read")
                return
            }
            while nextCertificate < certificateHolders.count && certificateHolders[nextCertificate] < key {
                nextCertificate += 1
            }
            let first = nextCertificate
            while nextCertificate < certificateHolders.count && certificateHolders[nextCertificate] == key {
                nextCertificate += 1
            }
            var application: (provider: Int32, at: Instant)?
            if let providerKey = row.int(2), let at = row.int(3), let index = providerIndexByKey[providerKey] {
                application = (index, Instant(nanosecondsSinceEpoch: at))
            }
            let myKey = row.isNull(7) ? nil : MyKeyID(bytes: row.bytes(7))
            snapshot.addHolder(
                key: key, currentMyKey: myKey, status: status, application: application,
                certificates: Array(certificates[first..<nextCertificate]),
                balance: Balance(points: Int(row.int(4) ?? 0), eligibleAmount: Int(row.int(5) ?? 0)),
                eligibleRecords: Int(row.int(6) ?? 0))
        }
        if let failure { throw failure }

        try connection.copyOut(
            "COPY (SELECT mykey_id, holder_key FROM mykey_ids WHERE retired_at_ns IS NOT NULL) TO STDOUT"
        ) {
            raw in
            let row = TextCopyRow(raw)
            guard let myKey = MyKeyID(bytes: row.bytes(0)), let key = row.int(1), let holder = snapshot.holder(key: key)
            else { return }
            snapshot.bind(myKey, to: holder)
        }

        let files = try connection.query("SELECT name, sha256 FROM files WHERE outcome = 'settled'")
        for row in 0..<files.rowCount {
            snapshot.settledFiles[try files[row, 0].string()] = try files[row, 1].bytes()
        }
        return snapshot
    }
}
