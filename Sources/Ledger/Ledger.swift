import Foundation
public import Postgres
public import Rules

/// The settlement database: schema, registry snapshot, campaign parameters, and a run's commit.
///
/// Blocking: every call waits on PostgreSQL. Use it from a dedicated thread, never from Swift's
/// cooperative pool.
public final class Ledger {
    /// The connection this ledger works through; internal, so that every query of the schema lives in this module.
    let connection: PostgresConnection

    /// How to open more connections to the same database (for parallel reads), when known.
    public let url: String?
    /// Whether the ledger may open more connections to read in parallel.
    public let canConnectAgain: Bool

    /// A ledger over an open connection; it reads on that connection alone.
    public init(connection: PostgresConnection) {
        self.connection = connection
        self.url = nil
        self.canConnectAgain = false
    }

    /// Connects from libpq's environment or a URL; parallel reads open more connections the same way.
    public init(url: String?) throws(PostgresError) {
        self.connection = try PostgresConnection.connect(url: url)
        self.url = url
        self.canConnectAgain = true
    }

    /// The advisory lock key of settlement runs ("mynapoint settle").
    public static let settlementLockKey: Int64 = 0x6D79_6E61_7365_7474
    static let migrationLockKey: Int64 = 0x6D79_6E61_6D69_6772

    /// Takes the settlement lock (one run at a time, settlement spec §7.4): waits for it when `wait`, else fails
    /// with ``SettlementLockBusy`` when another session holds it.
    public func lockSettlement(wait: Bool) throws {
        if wait {
            try connection.advisoryLock(Self.settlementLockKey)
        } else if !(try connection.tryAdvisoryLock(Self.settlementLockKey)) {
            throw SettlementLockBusy()
        }
    }

    /// Releases the settlement lock (also released when the connection ends).
    public func unlockSettlement() {
        try? connection.advisoryUnlock(Self.settlementLockKey)
    }

    // MARK: Schema

    /// Creates or upgrades the schema; returns the versions applied now (empty when up to date).
    ///
    /// Each migration not yet recorded is applied once, in increasing version order, whether or not its number
    /// follows the last one applied: branches append migrations independently, so a database may hold version 4
    /// before a merge brings version 3. `migrations` is `Migrations.all` except in tests of that case.
    ///
    /// Refuses, before applying anything, a database that has a version applied that `migrations` lacks or that
    /// was applied from other SQL (its recorded checksum differs): migrations are append-only.
    @discardableResult
    public func migrate(_ migrations: [Migrations.Migration] = Migrations.all) throws -> [Int] {
        try connection.advisoryLock(Self.migrationLockKey)
        defer { try? connection.advisoryUnlock(Self.migrationLockKey) }
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let history = try migrationHistory()
        try Migrations.checkHistory(history, against: migrations)
        let applied = Set(history.map(\.version))
        var now: [Int] = []
        for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
            try connection.transaction { connection in
                try connection.execute(migration.sql)
                try connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    [.int(Int64(migration.version)), .text(migration.name)])
                // With the migration, its checksum (and, when this one adds the column, those applied before it).
                try recordMigrationChecksums(migrations)
                try connection.query(
                    "INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, 'migrate', $2, '{}')",
                    [.text(Self.actor), .text("schema version \(migration.version)")])
            }
            now.append(migration.version)
        }
        return now
    }

    /// The versions recorded in `schema_migrations` (empty when the table does not exist).
    func appliedVersions() throws -> Set<Int> {
        Set(try migrationHistory().map(\.version))
    }

    /// The schema version in the database (0 when none).
    public func schemaVersion() throws -> Int {
        try appliedVersions().max() ?? 0
    }

    /// Fails with one clear sentence when the schema is missing, lacks a migration of this build, or departs from
    /// this build's migrations (a version this build does not know, or one applied from other SQL).
    ///
    /// Every version must be applied, not just the newest: a database migrated before a merge may hold a later
    /// version and lack an earlier one.
    public func requireCurrentSchema(_ migrations: [Migrations.Migration] = Migrations.all) throws {
        let history = try migrationHistory()
        try Migrations.checkHistory(history, against: migrations)
        let applied = Set(history.map(\.version))
        let missing = migrations.map(\.version).filter { !applied.contains($0) }.sorted()
        guard missing.isEmpty else {
            let version = applied.max() ?? 0
            let needed = migrations.map(\.version).max() ?? 0
            let lacking = version >= needed ? " but lacks \(missing.map(String.init).joined(separator: ", "))" : ""
            throw LedgerError(
                "the database schema is at version \(version)\(lacking), this build needs \(needed); run `mynapoint migrate` first"
            )
        }
    }

    /// Who is acting, for the audit log and `runs.started_by`: the effective user from the password database and
    /// the host name (`name@host`), never environment variables.
    ///
    /// Read once: neither changes while the process runs.
    public static let actor: String = OperatingSystemIdentity.current().description

    // MARK: Campaign

    /// The campaign recorded by the first run, if any.
    public func recordedCampaign() throws -> Campaign? {
        let result = try connection.query(
            "SELECT rate_percent, cap_points, window_start_ns, window_end_ns, rounding FROM campaign WHERE id = 1")
        guard result.rowCount == 1 else { return nil }
        guard let rounding = Rounding(rawValue: try result[0, 4].string()) else {
            throw LedgerError("the recorded campaign has an unknown rounding mode")
        }
        return Campaign(
            ratePercent: Int(try result[0, 0].int()), capPoints: Int(try result[0, 1].int()),
            windowStart: Instant(nanosecondsSinceEpoch: try result[0, 2].int()),
            windowEnd: Instant(nanosecondsSinceEpoch: try result[0, 3].int()), rounding: rounding)
    }

    /// Refuses `campaign` when the recorded campaign differs (settlement spec §2); nothing is recorded here.
    public func checkCampaign(_ campaign: Campaign) throws {
        guard let recorded = try recordedCampaign(), recorded != campaign else { return }
        throw LedgerError(
            "the campaign parameters differ from those recorded by the first run (\(Self.describe(recorded))); "
                + "changing the rules mid-campaign would make earlier grants inconsistent — run with the recorded parameters"
        )
    }

    /// Records the campaign unless one is (inside the caller's transaction, so it commits with the first run), and
    /// adds the cap as a CHECK on the ledger.
    ///
    /// Refuses a campaign that differs from the recorded one.
    func recordCampaignIfNone(_ campaign: Campaign, actor: String) throws {
        try connection.execute("LOCK TABLE campaign IN EXCLUSIVE MODE")
        if try recordedCampaign() != nil { return try checkCampaign(campaign) }
        try connection.query(
            """
            INSERT INTO campaign (id, rate_percent, cap_points, window_start_ns, window_end_ns, rounding)
            VALUES (1, $1, $2, $3, $4, $5)
            """,
            [
                .int(Int64(campaign.ratePercent)), .int(Int64(campaign.capPoints)),
                .int(campaign.windowStart.nanosecondsSinceEpoch), .int(campaign.windowEnd.nanosecondsSinceEpoch),
                .text(campaign.rounding.rawValue),
            ])
        // The cap as a constant in a CHECK: costs nothing per row, and no row can ever exceed it.
        try connection.execute(
            "ALTER TABLE ledger ADD CONSTRAINT ledger_within_campaign_cap CHECK (points <= \(campaign.capPoints))")
        try audit(
            action: "campaign.record", subject: "campaign", detail: ["parameters": Self.describe(campaign)],
            actor: actor)
    }

    /// Records the campaign now, in its own transaction, unless one is recorded (then checks it).
    public func recordOrCheckCampaign(_ campaign: Campaign) throws {
        try connection.transaction { _ in try recordCampaignIfNone(campaign, actor: Ledger.actor) }
    }

    /// The campaign's parameters in one line, for messages and the audit log.
    public static func describe(_ campaign: Campaign) -> String {
        "rate_percent \(campaign.ratePercent), cap_points \(campaign.capPoints), window_start \(campaign.windowStart), "
            + "window_end \(campaign.windowEnd), rounding \(campaign.rounding.rawValue)"
    }

    // MARK: Audit

    /// Appends an audit entry.
    public func audit(
        action: String, subject: String?, detail: [String: String] = [:], actor: String = Ledger.actor
    ) throws {
        let json = try JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])
        try connection.query(
            "INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4::jsonb)",
            [
                .text(actor), .text(action), subject.map { .text($0) } ?? .null,
                .text(String(decoding: json, as: UTF8.self)),
            ])
    }
}

/// Another session holds the settlement lock.
public struct SettlementLockBusy: Error, Sendable {}

extension Ledger {
    /// Appends an audit entry whose detail is `detail`, encoded as JSON (for details with lists and nesting).
    func audit(action: String, subject: String?, encoded detail: some Encodable, actor: String = Ledger.actor) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(detail)
        try connection.query(
            "INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4::jsonb)",
            [
                .text(actor), .text(action), subject.map { .text($0) } ?? .null,
                .text(String(decoding: json, as: UTF8.self)),
            ])
    }
}

/// A ledger failure that is not PostgreSQL's own: one sentence for the operator.
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to do.
    public var message: String
    /// A failure with its sentence.
    public init(_ message: String) { self.message = message }
    /// The sentence.
    public var description: String { message }
}
