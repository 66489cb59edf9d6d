import Foundation
import Postgres

/// The names of prepared grant streams, and what the ledger does with those a crash left behind.
///
/// A stream's prepared transaction is named `mynapoint:<database>:run:<run>:part:<n>`: transaction names are
/// unique in the whole server, and several databases on one server each number their runs from 1.
enum PreparedGrants {
    static func transactionID(database: String, run: Int64, part: Int) -> String {
        "mynapoint:\(database):run:\(run):part:\(part)"
    }

    /// `text` as an SQL string literal (`PREPARE TRANSACTION` and its kin take no parameters).
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

/// A run whose grant streams were prepared but not all committed or rolled back when its process ended.
public struct InterruptedCommit: Sendable, Equatable {
    /// The run.
    public var run: Int64
    /// Its streams still prepared.
    public var preparedStreams: Int
    /// Whether the run's own transaction committed (the decision): its streams are to be committed, else rolled back.
    public var decided: Bool
}

extension Ledger {
    /// How many grant streams a run can use: `requested`, unless this ledger cannot open more connections or the
    /// server cannot prepare that many transactions; then one, with the sentence that tells the operator why.
    public func grantStreams(requested: Int) throws -> (count: Int, notice: String?) {
        guard requested > 1, canConnectAgain else { return (1, nil) }
        let setting = try connection.query("SELECT current_setting('max_prepared_transactions')::integer")[0, 0].int()
        return Self.grantStreams(requested: requested, maxPreparedTransactions: Int(setting))
    }

    /// The streams a server with `max_prepared_transactions` = `setting` allows, and the notice when it allows
    /// only one.
    static func grantStreams(requested: Int, maxPreparedTransactions setting: Int) -> (count: Int, notice: String?) {
        guard requested > 1 else { return (1, nil) }
        guard setting >= 2 else {
            return (
                1,
                "the server has max_prepared_transactions = \(setting), so each run's grants are written over one connection instead of \(requested); set max_prepared_transactions to at least \(requested) in postgresql.conf (it takes a server restart) to write them in parallel"
            )
        }
        return (min(requested, setting), nil)
    }

    /// The runs a crash left with prepared grant streams, in run order; nothing is changed.
    public func interruptedCommits() throws -> [InterruptedCommit] {
        try preparedStreams().reduce(into: [InterruptedCommit]()) { runs, stream in
            if let last = runs.indices.last, runs[last].run == stream.run {
                runs[last].preparedStreams += 1
            } else {
                runs.append(InterruptedCommit(run: stream.run, preparedStreams: 1, decided: stream.decided))
            }
        }
    }

    /// Completes the commits a crash interrupted: the prepared grant streams of a run whose own transaction
    /// committed are committed, those of any other run rolled back.
    ///
    /// Call it holding the settlement lock, before
    /// reading grants: no run can then be between its prepares and its decision.
    public func resolveInterruptedCommits() throws -> [InterruptedCommit] {
        let interrupted = try interruptedCommits()
        for stream in try preparedStreams() {
            let verb = stream.decided ? "COMMIT PREPARED" : "ROLLBACK PREPARED"
            do {
                try connection.execute("\(verb) \(PreparedGrants.literal(stream.transactionID))")
            } catch {
                throw LedgerError(
                    "run \(stream.run) has grants prepared by database role \(stream.owner) that this session cannot \(stream.decided ? "commit" : "roll back") (\(error)) — run settle as \(stream.owner) or as a superuser to complete it"
                )
            }
        }
        return interrupted
    }

    private struct PreparedStream {
        var transactionID: String
        var owner: String
        var run: Int64
        var decided: Bool
    }

    /// This database's prepared grant streams, each with its run's decision.
    private func preparedStreams() throws -> [PreparedStream] {
        let result = try connection.query(
            """
            SELECT x.gid, x.owner, p.run, EXISTS (SELECT 1 FROM runs r WHERE r.run_id = p.run)
            FROM pg_prepared_xacts x,
                 LATERAL (SELECT substring(x.gid FROM ':run:([0-9]+):part:[0-9]+$')::bigint AS run) p
            WHERE x.database = current_database() AND x.gid LIKE 'mynapoint:%' AND p.run IS NOT NULL
            ORDER BY p.run, x.gid
            """)
        return try (0..<result.rowCount).map { row in
            PreparedStream(
                transactionID: try result[row, 0].string(), owner: try result[row, 1].string(),
                run: try result[row, 2].int(), decided: try result[row, 3].bool())
        }
    }
}
