import Foundation
import Postgres
public import Rules

/// A registry load (settlement spec §8), validated line by line before anything is written.
public struct RegistryLoad: Sendable {
    /// A provider row.
    public struct Provider: Sendable {
        /// The provider's ID.
        public var id: ProviderID
        /// The provider's name.
        public var name: String

        /// A provider row.
        public init(id: ProviderID, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// A holder row, by current MyKey ID.
    public struct Holder: Sendable {
        /// The holder's current MyKey ID.
        public var myKey: MyKeyID
        /// The holder's status.
        public var status: HolderStatus
        /// The provider the holder applied with, and when; nil when the holder has not applied.
        public var application: (provider: ProviderID, at: Instant)?
        /// The line of `holders.csv`, for error messages.
        public var line: Int

        /// A holder row.
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
        /// The serial: uppercase hexadecimal without leading zeros.
        public var serial: String
        /// The issuer the row names; nil when the file has no issuer column or leaves it empty (then the import's
        /// configured issuer applies).
        public var issuer: String?
        /// The holder's current MyKey ID.
        public var myKey: MyKeyID
        /// Validity, and `revoked_at` when the row gives one.
        public var validity: CertificateValidity
        /// The line of `certificates.csv`, for error messages.
        public var line: Int

        /// A certificate row.
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
        /// The MyKey ID given up.
        public var old: MyKeyID
        /// The MyKey ID taken instead (it may itself change on another line).
        public var new: MyKeyID
        /// When the change was made.
        public var at: Instant
        /// The line of `mykey_changes.csv`, for error messages.
        public var line: Int

        /// A MyKey ID change.
        public init(old: MyKeyID, new: MyKeyID, at: Instant, line: Int) {
            self.old = old
            self.new = new
            self.at = at
            self.line = line
        }
    }

    /// The rows of `providers.csv`, in file order.
    public var providers: [Provider] = []
    /// The rows of `holders.csv`, in file order.
    public var holders: [Holder] = []
    /// The rows of `certificates.csv`, in file order.
    public var certificates: [Certificate] = []
    /// The rows of `mykey_changes.csv`, in file order.
    public var changes: [Change] = []

    /// An empty load.
    public init() {}
}

/// What a registry import changed; its audit entry's `counts`.
public struct RegistryImportCounts: Sendable, Codable, Equatable {
    /// Providers inserted or renamed (every row of `providers.csv`).
    public var providers = 0
    /// Holders the database did not know.
    public var newHolders = 0
    /// Known holders whose status changed.
    public var updatedHolders = 0
    /// Applications recorded.
    public var applications = 0
    /// Certificate rows loaded, new or known.
    public var certificates = 0
    /// Certificates whose revocation this import recorded or moved earlier.
    public var revocations = 0
    /// MyKey ID change rows, including those an earlier import recorded.
    public var myKeyChanges = 0

    /// The audit entry's keys, kept as they were first written.
    enum CodingKeys: String, CodingKey {
        case providers, applications, certificates, revocations
        case newHolders = "new_holders"
        case updatedHolders = "updated_holders"
        case myKeyChanges = "mykey_changes"
    }

    /// No changes.
    public init() {}
}

/// One change a registry import made, for its audit rows: what, and the old and new values (nil: none).
struct RegistryChange {
    /// The holder's MyKey ID (for a certificate: its holder's current ID).
    var myKey: String
    /// The certificate's issuer, for a certificate change.
    var issuer: String? = nil
    /// The certificate's serial, for a certificate change.
    var serial: String? = nil
    /// Which value changed: `holder`, `status`, `application`, `mykey_id`, `certificate`, `not_before`,
    /// `not_after`, `revoked_at`.
    var field: String
    var old: String?
    var new: String?
}

/// A registry row that cannot be loaded: the file, line and reason.
public struct RegistryImportError: Error, Sendable, CustomStringConvertible {
    /// The file the row is in (or the folder, when no file is found).
    public var file: String
    /// The row's line; nil when the failure is not one line's.
    public var line: Int?
    /// What is wrong.
    public var message: String

    /// A failure of `file`'s `line`.
    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// Where, what, and that nothing was imported.
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
    ///
    /// Three phases: the load is checked on its own, then resolved against the database into a plan of inserts and
    /// updates, then the plan is written. A bad line stops it before the writing, save a certificate bound to
    /// another holder, which the writing finds; either way the transaction leaves nothing behind.
    public func importRegistry(
        _ load: RegistryLoad, certificateIssuer: String = CertificateIssuer.jpkiUserAuthentication
    ) throws -> RegistryImportCounts {
        try connection.transaction { connection in
            let validated = try ValidatedRegistryLoad(load)
            let state = try RegistryState.read(connection)
            let plan = try RegistryImportPlanner.plan(validated, against: state, certificateIssuer: certificateIssuer)
            return try self.apply(plan, certificateIssuer: certificateIssuer, connection: connection)
        }
    }
}

// MARK: Validate

/// A registry load whose MyKey ID changes are checked among themselves (a change changes something; an ID is
/// given up once) and indexed both ways: the checks that need no database.
struct ValidatedRegistryLoad {
    /// The load.
    let load: RegistryLoad
    /// Each change by the ID it gives up.
    let changeByOld: [MyKeyID: RegistryLoad.Change]
    /// The ID each new ID replaced, for walking back to a holder the database knows.
    let oldByNew: [MyKeyID: MyKeyID]

    /// Checks and indexes the changes of `load`.
    init(_ load: RegistryLoad) throws(RegistryImportError) {
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
        self.load = load
        self.changeByOld = changeByOld
        self.oldByNew = oldByNew
    }
}

// MARK: Resolve

/// What the database holds that an import resolves against, read inside the import's transaction.
struct RegistryState {
    /// A MyKey ID as bound today: its holder, and whether it is the holder's current ID.
    struct Bound {
        var holder: Int64
        var current: Bool
    }

    /// Registered providers.
    var providers: Set<ProviderID> = []
    /// Every MyKey ID ever bound.
    var bound: [MyKeyID: Bound] = [:]
    /// Each holder's application: provider (nil: a provider key without a valid ID) and time.
    var applications: [Int64: (provider: ProviderID?, at: Int64)] = [:]
    /// Each holder's status, by name.
    var statuses: [Int64: String] = [:]
    /// The first holder key no holder has had, nor the key sequence handed out.
    var firstNewKey: Int64 = 1

    /// Reads the registry tables (`COPY … TO STDOUT` for the large ones).
    static func read(_ connection: PostgresConnection) throws -> RegistryState {
        var state = RegistryState()
        var providerOfKey: [Int64: ProviderID] = [:]
        let providers = try connection.query("SELECT provider_id, provider_key FROM providers")
        for row in 0..<providers.rowCount {
            if let id = ProviderID(try providers[row, 0].string()) { providerOfKey[try providers[row, 1].int()] = id }
        }
        state.providers = Set(providerOfKey.values)
        try connection.copyOut("COPY (SELECT mykey_id, holder_key, retired_at_ns IS NULL FROM mykey_ids) TO STDOUT") {
            raw in
            let row = TextCopyRow(raw)
            guard let id = MyKeyID(bytes: row.bytes(0)), let holder = row.int(1) else { return }
            state.bound[id] = Bound(holder: holder, current: row.bytes(2).first == UInt8(ascii: "t"))
        }
        try connection.copyOut("COPY (SELECT holder_key, provider_key, applied_at_ns FROM applications) TO STDOUT") {
            raw in
            let row = TextCopyRow(raw)
            if let holder = row.int(0), let provider = row.int(1), let at = row.int(2) {
                state.applications[holder] = (providerOfKey[provider], at)
            }
        }
        try connection.copyOut("COPY (SELECT holder_key, status FROM holders) TO STDOUT") { raw in
            let row = TextCopyRow(raw)
            if let holder = row.int(0), let status = row.string(1) { state.statuses[holder] = status }
        }
        state.firstNewKey = try connection.query(
            "SELECT greatest(coalesce(max(holder_key), 0), (SELECT last_value FROM holders_holder_key_seq)) + 1 FROM holders"
        )[0, 0].int()
        return state
    }
}

/// An import resolved against the database: every row to write, and every change for the audit.
struct RegistryImportPlan {
    /// A holder the database does not know, under a key taken after every existing one.
    struct NewHolder {
        var key: Int64
        var status: HolderStatus
        var myKey: MyKeyID
    }

    /// A MyKey ID bound to a known holder: a current ID (`retiredAt` nil) or a former one.
    struct Binding {
        var myKey: MyKeyID
        var holder: Int64
        var retiredAt: Int64?
    }

    /// An application to record (the provider by ID: a provider new in this load has no key yet).
    struct Application {
        var holder: Int64
        var provider: ProviderID
        var at: Int64
    }

    /// The providers to insert or rename.
    var providers: [RegistryLoad.Provider] = []
    /// Holders to insert, with their current MyKey ID.
    var newHolders: [NewHolder] = []
    /// Known holders whose status changes.
    var statusUpdates: [(key: Int64, status: HolderStatus)] = []
    /// Current MyKey IDs that become former ones, and when.
    var retire: [(myKey: MyKeyID, at: Int64)] = []
    /// MyKey IDs to bind to known holders.
    var bind: [Binding] = []
    /// Applications to record.
    var applications: [Application] = []
    /// Certificates to insert or update.
    var certificates: [Ledger.CertificateRow] = []
    /// The changes so far, in the order the audit lists them (certificate changes are known only when written).
    var changes: [RegistryChange] = []
    /// Rows of `mykey_changes.csv`.
    var myKeyChanges = 0

    /// Inserted rows beyond which the foreign keys are checked once over the tables instead of row by row.
    static let bulkRows = 50_000

    /// Whether this plan inserts enough rows to check references once, set-based.
    var isBulk: Bool { newHolders.count + bind.count + applications.count + certificates.count > Self.bulkRows }

    /// The counts known before writing (certificates and revocations are counted as they are written).
    var counts: RegistryImportCounts {
        var counts = RegistryImportCounts()
        counts.providers = providers.count
        counts.newHolders = newHolders.count
        counts.updatedHolders = statusUpdates.count
        counts.applications = applications.count
        counts.myKeyChanges = myKeyChanges
        return counts
    }
}

/// Resolves a validated load against the database state, file by file and line by line in file order, so that
/// the first bad line is the one reported: holders, then MyKey ID changes, then certificates.
struct RegistryImportPlanner {
    private let validated: ValidatedRegistryLoad
    private var state: RegistryState
    /// Providers a holder may apply with: registered, or in this load.
    private let registeredProviders: Set<ProviderID>
    private var plan = RegistryImportPlan()
    private var nextKey: Int64
    /// The holder of each MyKey ID `holders.csv` lists.
    private var holderOfCurrent: [MyKeyID: Int64] = [:]

    private init(_ validated: ValidatedRegistryLoad, state: RegistryState) {
        self.validated = validated
        self.state = state
        self.registeredProviders = state.providers.union(validated.load.providers.map(\.id))
        self.nextKey = state.firstNewKey
        plan.providers = validated.load.providers
    }

    /// The plan for `validated` against `state`; certificates whose row names no issuer are `certificateIssuer`'s.
    static func plan(
        _ validated: ValidatedRegistryLoad, against state: RegistryState, certificateIssuer: String
    ) throws(RegistryImportError) -> RegistryImportPlan {
        var planner = RegistryImportPlanner(validated, state: state)
        for holder in validated.load.holders { try planner.resolve(holder) }
        for change in validated.load.changes { try planner.resolve(change) }
        var seen = Set<CertificateID>()
        for certificate in validated.load.certificates {
            try planner.resolve(certificate, issuer: certificateIssuer, seen: &seen)
        }
        return planner.plan
    }

    /// The holder of an ID: listed in this load by current ID, or bound in the database.
    private func holderKey(of id: MyKeyID) -> Int64? {
        if let key = holderOfCurrent[id] { return key }
        return state.bound[id]?.holder
    }

    // MARK: holders.csv

    private mutating func resolve(_ holder: RegistryLoad.Holder) throws(RegistryImportError) {
        guard holderOfCurrent[holder.myKey] == nil else {
            throw Self.holderError(holder, "MyKey ID \(holder.myKey) appears twice")
        }
        // holders.csv names holders by their current ID; an ID this load changes is not current, and binding it
        // as a holder's ID as well as a former ID of the change's target would bind it twice.
        if let change = validated.changeByOld[holder.myKey] {
            throw Self.holderError(
                holder,
                "\(holder.myKey) is changed to \(change.new) on mykey_changes.csv line \(change.line); "
                    + "list the holder under its current MyKey ID")
        }
        let key = try key(of: holder)
        holderOfCurrent[holder.myKey] = key
        try resolveStatus(of: holder, key: key)
        if let application = holder.application { try resolve(application, of: holder, key: key) }
    }

    /// The holder's key: known by this ID, known by an earlier ID this load changes to it, or new.
    private mutating func key(of holder: RegistryLoad.Holder) throws(RegistryImportError) -> Int64 {
        if let existing = state.bound[holder.myKey] {
            guard existing.current else {
                throw Self.holderError(
                    holder, "\(holder.myKey) is a former MyKey ID (IDs are never reused); use the holder's current ID")
            }
            return existing.holder
        }
        if let found = knownHolder(before: holder.myKey) {
            plan.bind.append(.init(myKey: holder.myKey, holder: found, retiredAt: nil))
            return found
        }
        let key = nextKey
        nextKey += 1
        plan.newHolders.append(.init(key: key, status: holder.status, myKey: holder.myKey))
        return key
    }

    /// Walks back through this load's changes to an ID that is current in the database; its holder.
    private func knownHolder(before id: MyKeyID) -> Int64? {
        var earlier = validated.oldByNew[id]
        var steps = 0
        while let id = earlier, steps < 64 {
            if let existing = state.bound[id], existing.current { return existing.holder }
            earlier = validated.oldByNew[id]
            steps += 1
        }
        return nil
    }

    private mutating func resolveStatus(of holder: RegistryLoad.Holder, key: Int64) throws(RegistryImportError) {
        let myKey = holder.myKey.description
        guard let status = state.statuses[key] else {
            plan.changes.append(RegistryChange(myKey: myKey, field: "holder", old: nil, new: holder.status.name))
            return
        }
        guard status != holder.status.name else { return }
        // Revocation is final: refuse the line rather than load a file that contradicts it.
        guard status != HolderStatus.revoked.name else {
            throw Self.holderError(
                holder, "MyKey ID \(holder.myKey) was revoked, which is final; the line says \(holder.status.name)")
        }
        plan.statusUpdates.append((key, holder.status))
        plan.changes.append(RegistryChange(myKey: myKey, field: "status", old: status, new: holder.status.name))
    }

    private mutating func resolve(
        _ application: (provider: ProviderID, at: Instant), of holder: RegistryLoad.Holder, key: Int64
    ) throws(RegistryImportError) {
        guard registeredProviders.contains(application.provider) else {
            throw Self.holderError(
                holder, "provider \(application.provider) is not registered (add it to providers.csv)")
        }
        let at = application.at.nanosecondsSinceEpoch
        if let existing = state.applications[key] {
            guard existing.provider == application.provider, existing.at == at else {
                throw Self.holderError(
                    holder,
                    "\(holder.myKey) already applied with another provider or at another time; an application cannot be changed"
                )
            }
            return
        }
        state.applications[key] = (application.provider, at)
        plan.applications.append(.init(holder: key, provider: application.provider, at: at))
        plan.changes.append(
            RegistryChange(
                myKey: holder.myKey.description, field: "application", old: nil,
                new: "\(application.provider) at \(application.at)"))
    }

    private static func holderError(_ holder: RegistryLoad.Holder, _ message: String) -> RegistryImportError {
        RegistryImportError(file: "holders.csv", line: holder.line, message: message)
    }

    // MARK: mykey_changes.csv

    private mutating func resolve(_ change: RegistryLoad.Change) throws(RegistryImportError) {
        let final = try currentID(after: change)
        guard let key = holderKey(of: final) else {
            throw Self.changeError(change, "\(change.new) leads to \(final), which is no holder's current MyKey ID")
        }
        let audit = RegistryChange(
            myKey: final.description, field: "mykey_id", old: change.old.description, new: change.new.description)
        if let existing = state.bound[change.old] {
            guard existing.holder == key else {
                throw Self.changeError(change, "\(change.old) is bound to another holder (MyKey IDs are never reused)")
            }
            // A change recorded by an earlier import (the old ID already retired) is no change now.
            if existing.current {
                plan.retire.append((change.old, change.at.nanosecondsSinceEpoch))
                plan.changes.append(audit)
            }
        } else {
            plan.bind.append(.init(myKey: change.old, holder: key, retiredAt: change.at.nanosecondsSinceEpoch))
            plan.changes.append(audit)
        }
        plan.myKeyChanges += 1
    }

    /// Where the chain of changes from `change` ends: the ID no line of this load changes.
    private func currentID(after change: RegistryLoad.Change) throws(RegistryImportError) -> MyKeyID {
        var final = change.new
        var steps = 0
        while let next = validated.changeByOld[final] {
            final = next.new
            steps += 1
            guard steps <= validated.load.changes.count else {
                throw Self.changeError(change, "the changes from \(change.old) form a cycle")
            }
        }
        return final
    }

    private static func changeError(_ change: RegistryLoad.Change, _ message: String) -> RegistryImportError {
        RegistryImportError(file: "mykey_changes.csv", line: change.line, message: message)
    }

    // MARK: certificates.csv

    private mutating func resolve(
        _ certificate: RegistryLoad.Certificate, issuer: String, seen: inout Set<CertificateID>
    ) throws(RegistryImportError) {
        let id = CertificateID(issuer: certificate.issuer ?? issuer, serial: certificate.serial)
        guard seen.insert(id).inserted else {
            throw RegistryImportError(
                file: "certificates.csv", line: certificate.line, message: "certificate \(id) appears twice")
        }
        guard let key = holderKey(of: certificate.myKey) else {
            throw RegistryImportError(
                file: "certificates.csv", line: certificate.line,
                message: "no holder has MyKey ID \(certificate.myKey) (add the holder to holders.csv)")
        }
        plan.certificates.append(Ledger.CertificateRow(id: id, holder: key, validity: certificate.validity))
    }
}

// MARK: Apply

extension Ledger {
    /// Writes the plan, set-based, then the audit entry; returns the counts.
    private func apply(
        _ plan: RegistryImportPlan, certificateIssuer: String, connection: PostgresConnection
    ) throws -> RegistryImportCounts {
        var counts = plan.counts
        var changes = plan.changes
        // Providers first: holders refer to them.
        let providerKeys = try Self.upsertProviders(plan.providers, connection: connection)
        try Self.checkingReferencesOnce(plan.isBulk, connection: connection) {
            try Self.writeHolders(plan, connection: connection)
            try Self.writeApplications(plan.applications, providerKeys: providerKeys, connection: connection)
            if !plan.certificates.isEmpty {
                let certificateChanges = try Self.applyCertificates(plan.certificates, connection: connection)
                counts.certificates = plan.certificates.count
                counts.revocations = certificateChanges.filter { $0.field == "revoked_at" }.count
                changes += certificateChanges
            }
        }
        try recordImportAudit(counts: counts, certificateIssuer: certificateIssuer, changes: changes)
        return counts
    }

    /// Inserts or renames the providers; returns every registered provider's key.
    private static func upsertProviders(
        _ providers: [RegistryLoad.Provider], connection: PostgresConnection
    ) throws -> [ProviderID: Int64] {
        for provider in providers {
            try connection.query(
                "INSERT INTO providers (provider_id, name) VALUES ($1, $2) ON CONFLICT (provider_id) DO UPDATE SET name = EXCLUDED.name",
                [.text(provider.id.value), .text(provider.name)])
        }
        var keys: [ProviderID: Int64] = [:]
        let rows = try connection.query("SELECT provider_id, provider_key FROM providers")
        for row in 0..<rows.rowCount {
            if let id = ProviderID(try rows[row, 0].string()) { keys[id] = try rows[row, 1].int() }
        }
        return keys
    }

    /// Runs `body` with the registry's foreign keys checked once afterwards, over the tables, when `bulk`: a large
    /// load then checks its references set-based instead of row by row.
    ///
    /// The keys are dropped and added back
    /// (validated) in the caller's transaction.
    private static func checkingReferencesOnce(
        _ bulk: Bool, connection: PostgresConnection, _ body: () throws -> Void
    ) throws {
        if bulk {
            try connection.execute(
                """
                ALTER TABLE mykey_ids DROP CONSTRAINT mykey_ids_holder;
                ALTER TABLE applications DROP CONSTRAINT applications_holder, DROP CONSTRAINT applications_provider;
                ALTER TABLE certificates DROP CONSTRAINT certificates_holder;
                """)
        }
        try body()
        if bulk {
            try connection.execute(
                """
                ALTER TABLE mykey_ids ADD CONSTRAINT mykey_ids_holder FOREIGN KEY (holder_key) REFERENCES holders;
                ALTER TABLE applications ADD CONSTRAINT applications_holder FOREIGN KEY (holder_key) REFERENCES holders,
                    ADD CONSTRAINT applications_provider FOREIGN KEY (provider_key) REFERENCES providers;
                ALTER TABLE certificates ADD CONSTRAINT certificates_holder FOREIGN KEY (holder_key) REFERENCES holders;
                """)
        }
    }

    /// New holders (binary COPY, then the key sequence past them), status changes, retired and new MyKey IDs.
    private static func writeHolders(_ plan: RegistryImportPlan, connection: PostgresConnection) throws {
        if let last = plan.newHolders.last {
            _ = try connection.copyIn("COPY holders (holder_key, status) FROM STDIN (FORMAT binary)") { writer in
                for holder in plan.newHolders {
                    writer.beginRow(fieldCount: 2)
                    writer.writeInt64(holder.key)
                    writer.writeText(holder.status.name)
                }
            }
            try connection.query("SELECT setval('holders_holder_key_seq', $1)", [.int(last.key)])
        }
        for update in plan.statusUpdates {
            try connection.query(
                "UPDATE holders SET status = $2, status_changed_at = now() WHERE holder_key = $1",
                [.int(update.key), .text(update.status.name)])
        }
        for (myKey, at) in plan.retire {
            try connection.query(
                "UPDATE mykey_ids SET retired_at_ns = $2 WHERE mykey_id = $1", [.text(myKey.description), .int(at)])
        }
        guard !plan.newHolders.isEmpty || !plan.bind.isEmpty else { return }
        _ = try connection.copyIn("COPY mykey_ids (mykey_id, holder_key, retired_at_ns) FROM STDIN (FORMAT binary)") {
            writer in
            for holder in plan.newHolders {
                writer.beginRow(fieldCount: 3)
                writer.writeText(holder.myKey.description)
                writer.writeInt64(holder.key)
                writer.writeNull()
            }
            for binding in plan.bind {
                writer.beginRow(fieldCount: 3)
                writer.writeText(binding.myKey.description)
                writer.writeInt64(binding.holder)
                if let retired = binding.retiredAt { writer.writeInt64(retired) } else { writer.writeNull() }
            }
        }
    }

    /// New applications, binary COPY.
    private static func writeApplications(
        _ applications: [RegistryImportPlan.Application], providerKeys: [ProviderID: Int64],
        connection: PostgresConnection
    ) throws {
        guard !applications.isEmpty else { return }
        // Every provider was checked against the registered ones and this load's, which are now inserted.
        let keys = try applications.map { application in
            guard let key = providerKeys[application.provider] else {
                throw LedgerError("provider \(application.provider) disappeared during the registry import")
            }
            return Int32(key)
        }
        _ = try connection.copyIn(
            "COPY applications (holder_key, provider_key, applied_at_ns) FROM STDIN (FORMAT binary)"
        ) { writer in
            for (application, provider) in zip(applications, keys) {
                writer.beginRow(fieldCount: 3)
                writer.writeInt64(application.holder)
                writer.writeInt32(provider)
                writer.writeInt64(application.at)
            }
        }
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
            counts: counts, certificateIssuer: certificateIssuer, changes: changes.count,
            changesTable: "registry_changes")
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
                writer.writeText(change.myKey)
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
        var certificateIssuer: String
        var changes: Int
        var changesTable: String

        enum CodingKeys: String, CodingKey {
            case counts, changes
            case certificateIssuer = "certificate_issuer"
            case changesTable = "changes_table"
        }
    }

    /// Upserts the certificates and records their revocations (earliest wins; never cleared); returns every change
    /// with its old and new value.
    ///
    /// Refuses a certificate bound to another holder.
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
                myKey: row[0].optionalString() ?? "", issuer: try row[1].string(), serial: try row[2].string(),
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
