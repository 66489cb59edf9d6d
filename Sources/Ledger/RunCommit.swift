import Foundation
import Postgres
public import Rules
import Synchronization

/// A run's commit, begun as soon as every record is decided: the grant rows stream to the database on their own
/// threads while the caller renders the result files, and ``finish(_:files:balances:campaign:)`` joins everything
/// into one outcome.
///
/// With several streams (``Ledger/grantStreams(requested:)``), each stream is a transaction on a connection of its
/// own, prepared (`PREPARE TRANSACTION`) once its rows are in. The run's own transaction — campaign, run row, files,
/// balances, audit — is the decision: once it commits, the prepared streams are committed (`COMMIT PREPARED`);
/// until it does, they are rolled back on any failure. A crash in between leaves prepared transactions that the next
/// run resolves by that same rule before it reads anything (``Ledger/resolveInterruptedCommits()``): the run's row
/// exists, so its streams commit; it does not, so they roll back. With one stream the grants are copied inside the
/// run's own transaction, and nothing is prepared.
///
/// Blocking; use it from one thread. Every path out of a begun commit is ``finish(_:files:balances:campaign:)`` or
/// ``abandon()``.
public final class RunCommit {
    /// The run's number, drawn when the commit began.
    public let runID: Int64
    private let ledger: Ledger
    /// `file_id` of each of the run's registrations, in their order (reserved when the commit began).
    private let fileIDs: [Int64]
    private let streams: [GrantStream]
    private let twoPhase: Bool
    private let copying = DispatchGroup()
    private let cancelled = CancelFlag()
    private var done = false

    /// Begins the commit; `lockTimeout` bounds how long a stream waits for a lock (see `start`).
    init(ledger: Ledger, files: Int, grants: [GrantRows], runID: Int64? = nil, lockTimeout: String = "60s") throws {
        self.ledger = ledger
        let connection = ledger.connection
        self.runID = try runID ?? ledger.nextRunID()
        let reserved = try connection.query(
            "SELECT nextval(pg_get_serial_sequence('files', 'file_id')) FROM generate_series(1, $1)",
            [.int(Int64(files))])
        fileIDs = try (0..<reserved.rowCount).map { try reserved[$0, 0].int() }
        twoPhase = grants.count > 1
        var streams: [GrantStream] = []
        if twoPhase {
            let database = try connection.query("SELECT current_database()")[0, 0].string()
            for (index, rows) in grants.enumerated() {
                let stream = GrantStream(
                    connection: try PostgresConnection.connect(url: ledger.url), rows: rows,
                    transactionID: PreparedGrants.transactionID(database: database, run: self.runID, part: index + 1))
                streams.append(stream)
            }
        } else if let rows = grants.first {
            streams.append(GrantStream(connection: connection, rows: rows, transactionID: nil))
        }
        self.streams = streams
        // The one stream opens the run's own transaction, which `finish` continues.
        for stream in streams { start(stream, lockTimeout: lockTimeout) }
    }

    /// Copies one stream's rows in its own transaction, on a thread of its own.
    ///
    /// Nothing else writes grants while a run holds the settlement lock, so a stream that waits for a lock is waiting
    /// for another stream of the same run — a key in two streams, which duplicate marking rules out — and would wait
    /// forever, since the other is not committed until this one is done: the lock timeout turns that into a failed
    /// run, committing nothing.
    private func start(_ stream: GrantStream, lockTimeout: String) {
        let run = runID
        let fileIDs = fileIDs
        let cancelled = cancelled
        DispatchQueue.global().async(group: copying) {
            do {
                try stream.connection.execute("BEGIN")
                if stream.transactionID != nil {
                    // A stream that is done waits, idle in its transaction, for the run's decision: a server's
                    // idle-in-transaction timeout must not end it meanwhile.
                    try stream.connection.execute(
                        """
                        SET LOCAL lock_timeout = \(PreparedGrants.literal(lockTimeout));
                        SET LOCAL idle_in_transaction_session_timeout = 0
                        """)
                }
                try Ledger.copyGrants(stream.rows, run: run, fileIDs: fileIDs, on: stream.connection) {
                    cancelled.isSet
                }
            } catch {
                stream.failure.withLock { $0 = error }
            }
        }
    }

    /// Commits the run: its row and totals, its files and their outcomes, the holders' new balances and the audit
    /// entry, with the grants streamed since the commit began; all of it or, on any failure, nothing.
    ///
    /// Fails, committing nothing, if any balance in the database differs from the one the run started from. When no
    /// campaign is recorded yet, the same transaction records `campaign`: the first run that commits fixes the
    /// campaign, never an invocation that settles nothing (settlement spec §2). The cap on every ledger row is the
    /// recorded campaign's, enforced by the database's CHECK. Throws ``RunCommitIncomplete`` when the run is
    /// committed (or may be) but some of its prepared grants are not yet: the next run completes them first.
    public func finish(
        _ header: RunHeader, files: [FileRegistration], balances: [BalanceChange], campaign: Campaign
    ) throws {
        precondition(!done, "a run commit is finished once")
        precondition(header.runID == runID && files.count == fileIDs.count, "the commit's run and files")
        done = true
        let connection = ledger.connection
        if !twoPhase {
            // The one stream copies inside this transaction, on this connection: it must be done first.
            copying.wait()
            if let failure = streams.first?.failure.withLock({ $0 }) {
                ledger.rollbackQuietly()
                throw failure
            }
        }
        do {
            if twoPhase || streams.isEmpty { try connection.execute("BEGIN") }
            try writeRun(header, files: files, balances: balances, campaign: campaign)
            copying.wait()
            if let failure = streams.lazy.compactMap({ $0.failure.withLock { $0 } }).first { throw failure }
            CrashPoint.reach("grants")
            for stream in streams where twoPhase {
                try stream.prepare()
                CrashPoint.reach("prepared")
            }
            try ledger.recordAudit(header)
            CrashPoint.reach("before-commit")
        } catch {
            ledger.rollbackQuietly()
            rollBackStreams()
            throw error
        }
        try decide()
        CrashPoint.reach("decided")
        var unfinished: [String] = []
        for stream in streams where twoPhase {
            do {
                try stream.commitPrepared()
                CrashPoint.reach("commit-prepared")
            } catch {
                unfinished.append("\(error)")
            }
        }
        closeStreams()
        if !unfinished.isEmpty {
            throw RunCommitIncomplete(
                run: runID,
                message:
                    "run \(runID) is committed, but \(unfinished.count) of its \(streams.count) grant streams are still prepared (\(unfinished[0])) — run settle again: it completes them first"
            )
        }
    }

    /// The run's own rows, in its open transaction.
    private func writeRun(
        _ header: RunHeader, files: [FileRegistration], balances: [BalanceChange], campaign: Campaign
    ) throws {
        try ledger.recordCampaignIfNone(campaign, actor: header.startedBy)
        try ledger.insertRun(header, files: files)
        CrashPoint.reach("run-row")
        try ledger.insertFiles(files, run: runID, fileIDs: fileIDs)
        CrashPoint.reach("file-rows")
        try ledger.writeBalances(balances, run: runID, cap: campaign.capPoints)
        CrashPoint.reach("ledger")
    }

    /// Commits the run's own transaction: the decision.
    ///
    /// A refusal rolls the prepared streams back; a lost
    /// connection leaves them to the next run, which reads the decision from the database.
    private func decide() throws {
        do {
            try ledger.commitOpenTransaction()
        } catch {
            if ledger.connection.isConnected {
                rollBackStreams()
                throw error
            }
            closeStreams()
            throw RunCommitIncomplete(
                run: runID,
                message:
                    "the connection to the database was lost while committing run \(runID), so whether it committed is known only to the database — run settle again: it completes or rolls back run \(runID) first"
            )
        }
    }

    deinit {
        // A commit dropped unfinished (an error between begin and finish) must not leave threads or transactions.
        abandon()
    }

    /// Stops the streams and rolls everything back; for a run that fails before ``finish(_:files:balances:campaign:)``.
    public func abandon() {
        guard !done else { return }
        done = true
        cancelled.set()
        copying.wait()
        if !twoPhase { ledger.rollbackQuietly() }
        rollBackStreams()
    }

    /// Rolls back every stream, prepared or not, and closes their connections.
    private func rollBackStreams() {
        cancelled.set()
        copying.wait()
        for stream in streams where twoPhase { stream.rollBack() }
        closeStreams()
    }

    private func closeStreams() {
        for stream in streams where twoPhase { stream.connection.close() }
    }
}

/// A flag the copying threads read to stop early.
private final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// One stream of grant rows: its connection, its rows and, when it is one of several, its prepared transaction's ID.
private final class GrantStream: Sendable {
    let connection: PostgresConnection
    let rows: GrantRows
    let transactionID: String?
    let failure = Mutex<(any Error)?>(nil)
    private let prepared = Atomic<Bool>(false)

    init(connection: PostgresConnection, rows: @escaping GrantRows, transactionID: String?) {
        self.connection = connection
        self.rows = rows
        self.transactionID = transactionID
    }

    func prepare() throws {
        guard let transactionID else { return }
        try connection.execute("PREPARE TRANSACTION \(PreparedGrants.literal(transactionID))")
        prepared.store(true, ordering: .relaxed)
    }

    func commitPrepared() throws {
        guard let transactionID else { return }
        try connection.execute("COMMIT PREPARED \(PreparedGrants.literal(transactionID))")
        prepared.store(false, ordering: .relaxed)
    }

    /// Rolls back the stream's transaction, prepared or still open; a failure is left for the next run to resolve.
    func rollBack() {
        guard let transactionID else { return }
        if prepared.load(ordering: .relaxed) {
            try? connection.execute("ROLLBACK PREPARED \(PreparedGrants.literal(transactionID))")
        } else {
            try? connection.execute("ROLLBACK")
        }
    }
}

/// A run that is committed, or may be, but whose grants are not all committed yet; the next run completes them
/// before anything else (``Ledger/resolveInterruptedCommits()``).
public struct RunCommitIncomplete: Error, Sendable, CustomStringConvertible {
    /// The run.
    public var run: Int64
    /// What happened and what to do.
    public var message: String
    /// The sentence.
    public var description: String { message }
}

/// Ends a grant stream's COPY early, copying nothing: its run is being abandoned.
struct CopyStopped: Error, CustomStringConvertible {
    var description: String { "the run was abandoned while its grants were being copied" }
}
