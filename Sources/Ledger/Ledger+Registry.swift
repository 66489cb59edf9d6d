import Foundation
import Postgres
public import Rules

/// A registry load (settlement spec §8), validated line by line before anything is written.
public struct RegistryLoad: Sendable {
    /// A provider row.
    public struct Provider: Sendable {
        public var id: ProviderID
        public var name: String
        public init(id: ProviderID, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// A holder row, by current MyKey ID.
    public struct Holder: Sendable {
        public var myKey: MyKeyID
        public var status: HolderStatus
        public var application: (provider: ProviderID, at: Instant)?
        public var line: Int
        public init(myKey: MyKeyID, status: HolderStatus, application: (provider: ProviderID, at: Instant)?, line: Int)
        {
            self.myKey = myKey
            self.status = status
            self.application = application
            self.line = line
        }
    }

    /// A certificate row.
    public struct Certificate: Sendable {
        public var serial: String
        /// The issuer the row names; nil when the file has no issuer column or leaves it empty (then the import's
        /// configured issuer applies).
        public var issuer: String?
        public var myKey: MyKeyID
        /// Validity, and `revoked_at` when the row gives one.
        public var validity: CertificateValidity
        public var line: Int
        public init(serial: String, issuer: String? = nil, myKey: MyKeyID, validity: CertificateValidity, line: Int) {
            self.serial = serial
            self.issuer = issuer
            self.myKey = myKey
            self.validity = validity
            self.line = line
        }
    }

    /// A MyKey ID change.
    public struct Change: Sendable {
        public var old: MyKeyID
        public var new: MyKeyID
        public var at: Instant
        public var line: Int
        public init(old: MyKeyID, new: MyKeyID, at: Instant, line: Int) {
            self.old = old
            self.new = new
            self.at = at
            self.line = line
        }
    }

    public var providers: [Provider] = []
    public var holders: [Holder] = []
    public var certificates: [Certificate] = []
    public var changes: [Change] = []

    /// An empty load.
    public init() {}
}

/// What a registry import changed.
public struct RegistryImportCounts: Sendable, Codable, Equatable {
    public var providers = 0
    public var new_holders = 0
    public var updated_holders = 0
    public var applications = 0
    public var certificates = 0
    /// Certificates whose revocation this import recorded or moved earlier.
    public var revocations = 0
    public var mykey_changes = 0
}

/// One change a registry import made, for its audit entry: what, and the old and new values (nil: none).
struct RegistryChange: Encodable {
    /// The holder's MyKey ID (for a certificate: its holder's current ID).
    var mykey_id: String
    /// The certificate's issuer and serial, for a certificate change.
    var issuer: String? = nil
    var serial: String? = nil
    /// Which value changed: `holder`, `status`, `application`, `mykey_id`, `certificate`, `not_before`,
    /// `not_after`, `revoked_at`.
    var field: String
    var old: String?
    var new: String?
}

/// A registry row that cannot be loaded: the file, line and reason.
public struct RegistryImportError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String
    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(message); nothing was imported — correct the file and run the import again"
    }
}

extension Ledger {
    /// Loads a registry, all or nothing, in one transaction; resolves MyKey ID chains to the current holder.
    ///
    /// Never weakens what is known (settlement spec §8): a revoked holder stays revoked (a line saying otherwise
    /// is refused), and a certificate's revocation is never cleared or moved later. Certificates whose row names no
    /// issuer are `certificateIssuer`'s. The audit entry lists every change with its old and new value.
    public func importRegistry(
        _ load: RegistryLoad, certificateIssuer: String = CertificateIssuer.jpkiUserAuthentication
    ) throws -> RegistryImportCounts {
        try connection.transaction { connection in
            try self.importRegistry(load, certificateIssuer: certificateIssuer, connection: connection)
        }
    }

    private struct Bound {
        var holder: Int64
        var current: Bool
    }

    private func importRegistry(
        _ load: RegistryLoad, certificateIssuer: String, connection: PostgresConnection
    ) throws -> RegistryImportCounts {
        var counts = RegistryImportCounts()
        var changes: [RegistryChange] = []
        // Providers first: holders refer to them.
        for provider in load.providers {
            try connection.query(
                "INSERT INTO providers (provider_id, name) VALUES ($1, $2) ON CONFLICT (provider_id) DO UPDATE SET name = EXCLUDED.name",
                [.text(provider.id.value), .text(provider.name)])
            counts.providers += 1
        }
        var providerKeys: [ProviderID: Int64] = [:]
        let providers = try connection.query("SELECT provider_id, provider_key FROM providers")
        for row in 0..<providers.rowCount {
            if let id = ProviderID(try providers[row, 0].string()) { providerKeys[id] = try providers[row, 1].int() }
        }

        // What is bound today.
        var bound: [MyKeyID: Bound] = [:]
        try connection.copyOut("COPY (SELECT mykey_id, holder_key, retired_at_ns IS NULL FROM mykey_ids) TO STDOUT") {
            raw in
            let row = TextCopyRow(raw)
            guard let id = MyKeyID(bytes: row.bytes(0)), let holder = row.int(1) else { return }
            bound[id] = Bound(holder: holder, current: row.bytes(2).first == UInt8(ascii: "t"))
        }
        var applications: [Int64: (provider: Int64, at: Int64)] = [:]
        try connection.copyOut("COPY (SELECT holder_key, provider_key, applied_at_ns FROM applications) TO STDOUT") {
            raw in
            let row = TextCopyRow(raw)
            if let holder = row.int(0), let provider = row.int(1), let at = row.int(2) {
                applications[holder] = (provider, at)
            }
        }
        var statuses: [Int64: String] = [:]
        try connection.copyOut("COPY (SELECT holder_key, status FROM holders) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            if let holder = row.int(0), let status = row.string(1) { statuses[holder] = status }
        }

        // MyKey ID changes: old -> new, and new -> old for walking back to an existing holder.
        var changeByOld: [MyKeyID: RegistryLoad.Change] = [:]
        var oldByNew: [MyKeyID: MyKeyID] = [:]
        for change in load.changes {
            guard change.old != change.new else {
                throw RegistryImportError(
                    file: "mykey_changes.csv", line: change.line, message: "old_mykey_id and new_mykey_id are the same")
            }
            guard changeByOld[change.old] == nil else {
                throw RegistryImportError(
                    file: "mykey_changes.csv", line: change.line,
                    message: "\(change.old) was already changed on an earlier line")
            }
            changeByOld[change.old] = change
            oldByNew[change.new] = change.old
        }

        // Holders: existing (by current ID, or by an earlier ID that changed to it) or new.
        let firstNewKey = try connection.query(
            "SELECT greatest(coalesce(max(holder_key), 0), (SELECT last_value FROM holders_holder_key_seq)) + 1 FROM holders"
        )[0, 0].int()
        var nextKey = firstNewKey
        var holderOfCurrent: [MyKeyID: Int64] = [:]
        var newHolders: [(key: Int64, status: HolderStatus, myKey: MyKeyID)] = []
        var statusUpdates: [(key: Int64, status: HolderStatus)] = []
        var newApplications: [(holder: Int64, provider: Int64, at: Int64)] = []
        var retire: [(myKey: MyKeyID, at: Int64)] = []
        var bind: [(myKey: MyKeyID, holder: Int64, retiredAt: Int64?)] = []
        for holder in load.holders {
            let file = "holders.csv"
            guard holderOfCurrent[holder.myKey] == nil else {
                throw RegistryImportError(
                    file: file, line: holder.line, message: "MyKey ID \(holder.myKey) appears twice")
            }
            // holders.csv names holders by their current ID; an ID this load changes is not current, and binding it
            // as a holder's ID as well as a former ID of the change's target would bind it twice.
            if let change = changeByOld[holder.myKey] {
                throw RegistryImportError(
                    file: file, line: holder.line,
                    message: "\(holder.myKey) is changed to \(change.new) on mykey_changes.csv line \(change.line); "
                        + "list the holder under its current MyKey ID")
            }
            var key: Int64
            if let existing = bound[holder.myKey] {
                guard existing.current else {
                    throw RegistryImportError(
                        file: file, line: holder.line,
                        message:
                            "\(holder.myKey) is a former MyKey ID (IDs are never reused); use the holder's current ID")
                }
                key = existing.holder
            } else {
                // Walk back through this file's changes to an ID that is current in the database.
                var earlier = oldByNew[holder.myKey]
                var steps = 0
                var found: Int64?
                while let id = earlier, steps < 64 {
                    if let existing = bound[id], existing.current {
                        found = existing.holder
                        break
                    }
                    earlier = oldByNew[id]
                    steps += 1
                }
                if let found {
                    key = found
                    bind.append((holder.myKey, found, nil))
                } else {
                    key = nextKey
                    nextKey += 1
                    newHolders.append((key, holder.status, holder.myKey))
                }
            }
            holderOfCurrent[holder.myKey] = key
            if let status = statuses[key], status != holder.status.name {
                // Revocation is final: refuse the line rather than load a file that contradicts it.
                guard status != HolderStatus.revoked.name else {
                    throw RegistryImportError(
                        file: file, line: holder.line,
                        message:
                            "MyKey ID \(holder.myKey) was revoked, which is final; the line says \(holder.status.name)")
                }
                statusUpdates.append((key, holder.status))
                changes.append(
                    RegistryChange(
                        mykey_id: holder.myKey.description, field: "status", old: status, new: holder.status.name))
            } else if statuses[key] == nil {
                changes.append(
                    RegistryChange(
                        mykey_id: holder.myKey.description, field: "holder", old: nil, new: holder.status.name))
            }
            if let application = holder.application {
                guard let providerKey = providerKeys[application.provider] else {
                    throw RegistryImportError(
                        file: file, line: holder.line,
                        message: "provider \(application.provider) is not registered (add it to providers.csv)")
                }
                let at = application.at.nanosecondsSinceEpoch
                if let existing = applications[key] {
                    guard existing.provider == providerKey, existing.at == at else {
                        throw RegistryImportError(
                            file: file, line: holder.line,
                            message:
                                "\(holder.myKey) already applied with another provider or at another time; an application cannot be changed"
                        )
                    }
                } else {
                    newApplications.append((key, providerKey, at))
                    applications[key] = (providerKey, at)
                    changes.append(
                        RegistryChange(
                            mykey_id: holder.myKey.description, field: "application", old: nil,
                            new: "\(application.provider) at \(application.at)"))
                }
            }
        }
        counts.new_holders = newHolders.count
        counts.updated_holders = statusUpdates.count
        counts.applications = newApplications.count

        // Resolves an ID to its holder: current in this load, or bound in the database.
        func holderKey(of id: MyKeyID) -> Int64? {
            if let key = holderOfCurrent[id] { return key }
            return bound[id]?.holder
        }

        for change in load.changes {
            let file = "mykey_changes.csv"
            var final = change.new
            var steps = 0
            while let next = changeByOld[final] {
                final = next.new
                steps += 1
                guard steps <= load.changes.count else {
                    throw RegistryImportError(
                        file: file, line: change.line, message: "the changes from \(change.old) form a cycle")
                }
            }
            guard let key = holderKey(of: final) else {
                throw RegistryImportError(
                    file: file, line: change.line,
                    message: "\(change.new) leads to \(final), which is no holder's current MyKey ID")
            }
            if let existing = bound[change.old] {
                guard existing.holder == key else {
                    throw RegistryImportError(
                        file: file, line: change.line,
                        message: "\(change.old) is bound to another holder (MyKey IDs are never reused)")
                }
                // A change recorded by an earlier import (the old ID already retired) is no change now.
                if existing.current {
                    retire.append((change.old, change.at.nanosecondsSinceEpoch))
                    changes.append(
                        RegistryChange(
                            mykey_id: final.description, field: "mykey_id", old: change.old.description,
                            new: change.new.description))
                }
            } else {
                bind.append((change.old, key, change.at.nanosecondsSinceEpoch))
                changes.append(
                    RegistryChange(
                        mykey_id: final.description, field: "mykey_id", old: change.old.description,
                        new: change.new.description))
            }
            counts.mykey_changes += 1
        }

        var certificateRows: [CertificateRow] = []
        var seenCertificates = Set<CertificateID>()
        for certificate in load.certificates {
            let file = "certificates.csv"
            let id = CertificateID(issuer: certificate.issuer ?? certificateIssuer, serial: certificate.serial)
            guard seenCertificates.insert(id).inserted else {
                throw RegistryImportError(
                    file: file, line: certificate.line, message: "certificate \(id) appears twice")
            }
            guard let key = holderKey(of: certificate.myKey) else {
                throw RegistryImportError(
                    file: file, line: certificate.line,
                    message: "no holder has MyKey ID \(certificate.myKey) (add the holder to holders.csv)")
            }
            certificateRows.append(CertificateRow(id: id, holder: key, validity: certificate.validity))
        }

        // Apply, set-based. A large load checks its references once, set-based, instead of row by row:
        // the foreign keys are dropped and added back (validated over the tables) in this same transaction.
        let bulk = newHolders.count + bind.count + newApplications.count + certificateRows.count > 50_000
        if bulk {
            try connection.execute(
                """
                ALTER TABLE mykey_ids DROP CONSTRAINT mykey_ids_holder;
                ALTER TABLE applications DROP CONSTRAINT applications_holder, DROP CONSTRAINT applications_provider;
                ALTER TABLE certificates DROP CONSTRAINT certificates_holder;
                """)
        }
        if !newHolders.isEmpty {
            _ = try connection.copyIn("COPY holders (holder_key, status) FROM STDIN (FORMAT binary)") { writer in
                for holder in newHolders {
                    writer.beginRow(fieldCount: 2)
                    writer.writeInt64(holder.key)
                    writer.writeText(holder.status.name)
                }
            }
            try connection.query("SELECT setval('holders_holder_key_seq', $1)", [.int(nextKey - 1)])
        }
        for update in statusUpdates {
            try connection.query(
                "UPDATE holders SET status = $2, status_changed_at = now() WHERE holder_key = $1",
                [.int(update.key), .text(update.status.name)])
        }
        for (myKey, at) in retire {
            try connection.query(
                "UPDATE mykey_ids SET retired_at_ns = $2 WHERE mykey_id = $1", [.text(myKey.description), .int(at)])
        }
        if !newHolders.isEmpty || !bind.isEmpty {
            _ = try connection.copyIn("COPY mykey_ids (mykey_id, holder_key, retired_at_ns) FROM STDIN (FORMAT binary)")
            { writer in
                for holder in newHolders {
                    writer.beginRow(fieldCount: 3)
                    writer.writeText(holder.myKey.description)
                    writer.writeInt64(holder.key)
                    writer.writeNull()
                }
                for binding in bind {
                    writer.beginRow(fieldCount: 3)
                    writer.writeText(binding.myKey.description)
                    writer.writeInt64(binding.holder)
                    if let retired = binding.retiredAt { writer.writeInt64(retired) } else { writer.writeNull() }
                }
            }
        }
        if !newApplications.isEmpty {
            _ = try connection.copyIn(
                "COPY applications (holder_key, provider_key, applied_at_ns) FROM STDIN (FORMAT binary)"
            ) {
                writer in
                for application in newApplications {
                    writer.beginRow(fieldCount: 3)
                    writer.writeInt64(application.holder)
                    writer.writeInt32(Int32(application.provider))
                    writer.writeInt64(application.at)
                }
            }
        }
        if !certificateRows.isEmpty {
            let certificateChanges = try Self.applyCertificates(certificateRows, connection: connection)
            counts.certificates = certificateRows.count
            counts.revocations = certificateChanges.filter { $0.field == "revoked_at" }.count
            changes += certificateChanges
        }
        if bulk {
            try connection.execute(
                """
                ALTER TABLE mykey_ids ADD CONSTRAINT mykey_ids_holder FOREIGN KEY (holder_key) REFERENCES holders;
                ALTER TABLE applications ADD CONSTRAINT applications_holder FOREIGN KEY (holder_key) REFERENCES holders,
                    ADD CONSTRAINT applications_provider FOREIGN KEY (provider_key) REFERENCES providers;
                ALTER TABLE certificates ADD CONSTRAINT certificates_holder FOREIGN KEY (holder_key) REFERENCES holders;
                """)
        }
        try recordImportAudit(counts: counts, certificateIssuer: certificateIssuer, changes: changes)
        return counts
    }

    /// A certificate row of an import, resolved to its holder and issuer.
    struct CertificateRow {
        var id: CertificateID
        var holder: Int64
        var validity: CertificateValidity
    }

    /// The registry import's audit entry: the counts in the entry, every change as a row of `registry_changes`
    /// under its `audit_id` (binary COPY, so a first load of millions of holders costs one stream).
    private func recordImportAudit(
        counts: RegistryImportCounts, certificateIssuer: String, changes: [RegistryChange]
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let detail = RegistryAudit(
            counts: counts, certificate_issuer: certificateIssuer, changes: changes.count,
            changes_table: "registry_changes")
        let entry = try connection.query(
            """
            INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, 'registry.import', NULL, $2::jsonb)
            RETURNING audit_id
            """,
            [.text(Ledger.actor), .text(String(decoding: try encoder.encode(detail), as: UTF8.self))])
        let auditID = try entry[0, 0].int()
        guard !changes.isEmpty else { return }
        _ = try connection.copyIn(
            "COPY registry_changes (audit_id, mykey_id, issuer, serial, field, old, new) FROM STDIN (FORMAT binary)"
        ) { writer in
            for change in changes {
                writer.beginRow(fieldCount: 7)
                writer.writeInt64(auditID)
                writer.writeText(change.mykey_id)
                for value in [change.issuer, change.serial] {
                    if let value { writer.writeText(value) } else { writer.writeNull() }
                }
                writer.writeText(change.field)
                for value in [change.old, change.new] {
                    if let value { writer.writeText(value) } else { writer.writeNull() }
                }
            }
        }
    }

    /// The registry import's audit entry (its changes are rows of `registry_changes`).
    private struct RegistryAudit: Encodable {
        var counts: RegistryImportCounts
        var certificate_issuer: String
        var changes: Int
        var changes_table: String
    }

    /// Upserts the certificates and records their revocations (earliest wins; never cleared); returns every change
    /// with its old and new value. Refuses a certificate bound to another holder.
    private static func applyCertificates(
        _ rows: [CertificateRow], connection: PostgresConnection
    ) throws -> [RegistryChange] {
        try connection.execute(
            """
            CREATE TEMPORARY TABLE import_certificates (issuer text, serial text, holder_key bigint,
                not_before_ns bigint, not_after_ns bigint, revoked_at_ns bigint) ON COMMIT DROP
            """)
        _ = try connection.copyIn("COPY import_certificates FROM STDIN (FORMAT binary)") { writer in
            for row in rows {
                writer.beginRow(fieldCount: 6)
                writer.writeText(row.id.issuer)
                writer.writeText(row.id.serial)
                writer.writeInt64(row.holder)
                writer.writeInt64(row.validity.notBefore.nanosecondsSinceEpoch)
                writer.writeInt64(row.validity.notAfter.nanosecondsSinceEpoch)
                if let revoked = row.validity.revokedAt {
                    writer.writeInt64(revoked.nanosecondsSinceEpoch)
                } else {
                    writer.writeNull()
                }
            }
        }
        let moved = try connection.query(
            """
            SELECT i.serial || ' of ' || i.issuer FROM import_certificates i
            JOIN certificates c ON c.issuer = i.issuer AND c.serial = i.serial
            WHERE c.holder_key <> i.holder_key LIMIT 1
            """)
        if moved.rowCount > 0 {
            throw RegistryImportError(
                file: "certificates.csv", line: nil,
                message:
                    "certificate \(try moved[0, 0].string()) is bound to another holder; a certificate belongs to one holder"
            )
        }
        let changes = try certificateChanges(connection: connection)
        try connection.execute(
            """
            INSERT INTO certificates (issuer, serial, holder_key, not_before_ns, not_after_ns)
            SELECT issuer, serial, holder_key, not_before_ns, not_after_ns FROM import_certificates
            ON CONFLICT (issuer, serial) DO UPDATE SET not_before_ns = EXCLUDED.not_before_ns,
                not_after_ns = EXCLUDED.not_after_ns;
            INSERT INTO certificate_revocations (issuer, serial, revoked_at_ns, source)
            SELECT issuer, serial, revoked_at_ns, 'registry' FROM import_certificates WHERE revoked_at_ns IS NOT NULL
            ON CONFLICT (issuer, serial) DO UPDATE SET revoked_at_ns = EXCLUDED.revoked_at_ns, source = 'registry'
            WHERE EXCLUDED.revoked_at_ns < certificate_revocations.revoked_at_ns;
            """)
        return changes
    }

    /// What upserting `import_certificates` will change: new certificates, changed validity, and revocations
    /// recorded or moved earlier (a later or empty `revoked_at` changes nothing: the earliest known time wins).
    private static func certificateChanges(connection: PostgresConnection) throws -> [RegistryChange] {
        let rows = try connection.query(
            """
            SELECT m.mykey_id, i.issuer, i.serial, c.serial IS NULL, c.not_before_ns, i.not_before_ns, c.not_after_ns,
                   i.not_after_ns, r.revoked_at_ns, i.revoked_at_ns
            FROM import_certificates i
            LEFT JOIN certificates c ON c.issuer = i.issuer AND c.serial = i.serial
            LEFT JOIN certificate_revocations r ON r.issuer = i.issuer AND r.serial = i.serial
            LEFT JOIN mykey_ids m ON m.holder_key = i.holder_key AND m.retired_at_ns IS NULL
            WHERE c.serial IS NULL OR c.not_before_ns <> i.not_before_ns OR c.not_after_ns <> i.not_after_ns
               OR i.revoked_at_ns < coalesce(r.revoked_at_ns, 9223372036854775807)
            ORDER BY i.issuer, i.serial
            """)
        func time(_ value: Int64?) -> String? { value.map { Instant(nanosecondsSinceEpoch: $0).description } }
        var changes: [RegistryChange] = []
        for row in rows {
            let base = RegistryChange(
                mykey_id: row[0].optionalString() ?? "", issuer: try row[1].string(), serial: try row[2].string(),
                field: "certificate", old: nil, new: nil)
            let (oldFrom, newFrom) = (try row[4].optionalInt(), try row[5].optionalInt())
            let (oldUntil, newUntil) = (try row[6].optionalInt(), try row[7].optionalInt())
            let (oldRevoked, newRevoked) = (try row[8].optionalInt(), try row[9].optionalInt())
            var fields: [(String, Int64?, Int64?)] = []
            if try row[3].bool() {
                fields.append(("certificate", nil, nil))
            } else {
                if oldFrom != newFrom { fields.append(("not_before", oldFrom, newFrom)) }
                if oldUntil != newUntil { fields.append(("not_after", oldUntil, newUntil)) }
            }
            if let newRevoked, oldRevoked.map({ newRevoked < $0 }) ?? true {
                fields.append(("revoked_at", oldRevoked, newRevoked))
            }
            for (field, old, new) in fields {
                var change = base
                change.field = field
                change.old = time(old)
                change.new = field == "certificate" ? "\(time(newFrom) ?? "") to \(time(newUntil) ?? "")" : time(new)
                changes.append(change)
            }
        }
        return changes
    }
}
