import Postgres
public import Rules

/// What the caller found comparing the typed password with the holder's stored hash.
public enum PasswordCheck: Sendable, Equatable {
    /// No holder, no password set, or a password that does not match.
    case mismatch
    /// The password matches; with a new hash when the stored one was made with weaker parameters.
    case match(rehash: PasswordRehash?)
}

/// A replacement for a stored password hash whose parameters are below the current ones.
public struct PasswordRehash: Sendable, Equatable {
    /// The new hash, of the same password.
    public var hash: String
    /// The old parameters, for the audit log (never the hash itself).
    public var from: String
    /// The new parameters.
    public var to: String

    /// Creates a rehash.
    public init(hash: String, from: String, to: String) {
        self.hash = hash
        self.from = from
        self.to = to
    }
}

/// How a password login ended.
public enum PasswordLoginOutcome: Sendable, Equatable {
    /// The password matched: the holder (of any status; the caller decides what a suspended holder may do).
    case succeeded(HolderAccount)
    /// The password did not match, or the MyKey ID has no holder or password; `lockedUntil` is set when this
    /// failure was the last one allowed.
    case failed(failures: Int, lockedUntil: Instant?)
    /// Password login for the ID is locked until `until`; the password was not checked.
    case locked(until: Instant)
}

extension Ledger {
    /// Consecutive failed password logins after which a MyKey ID is locked (registration spec §5).
    public static let passwordFailureLimit = 5
    /// How long a lockout lasts: 15 minutes, in nanoseconds.
    public static let passwordLockoutNanoseconds: Int64 = 15 * 60 * 1_000_000_000

    /// A password login for `myKey` at `now`: refused while the ID is locked, else `check` compares the password
    /// with the current holder's hash (nil account: no holder has `myKey` as its current ID).
    ///
    /// Failures are counted per MyKey ID whether or not a holder has it; the limit-th consecutive one locks the ID
    /// for `passwordLockoutNanoseconds`, after which counting starts again. A match clears the count and stores
    /// `check`'s rehash. Every failure, lockout and refusal is audited. The ID's row is locked for the whole
    /// attempt, so concurrent attempts from any process are counted one after another and never exceed the limit.
    public func passwordLogin(
        myKey: MyKeyID, at now: Instant, actor: String = Ledger.actor, check: (HolderAccount?) -> PasswordCheck
    ) throws -> PasswordLoginOutcome {
        try connection.transaction { connection in
            let id: PostgresBind = .text(myKey.description)
            try connection.query(
                "INSERT INTO password_logins (mykey_id) VALUES ($1) ON CONFLICT (mykey_id) DO NOTHING", [id])
            let state = try connection.query(
                "SELECT failures, locked_until_ns FROM password_logins WHERE mykey_id = $1 FOR UPDATE", [id])
            var failures = Int(try state[0, 0].int())
            if let until = try state[0, 1].optionalInt().map({ Instant(nanosecondsSinceEpoch: $0) }) {
                if now < until {
                    try audit(
                        action: "password.login.locked", subject: myKey.description,
                        detail: ["locked_until": until.description], actor: actor)
                    return .locked(until: until)
                }
                failures = 0
            }
            let account = try account(currentMyKey: myKey)
            switch (check(account), account) {
            case (.match(let rehash), let account?):
                try connection.query("DELETE FROM password_logins WHERE mykey_id = $1", [id])
                if let rehash { try storeRehash(rehash, of: account, actor: actor) }
                return .succeeded(account)
            case (.match, nil), (.mismatch, _):
                return try recordFailure(myKey, failures: failures + 1, at: now, actor: actor)
            }
        }
    }

    /// Counts a failure, locking the ID when it reaches the limit; audited.
    private func recordFailure(
        _ myKey: MyKeyID, failures: Int, at now: Instant, actor: String
    ) throws -> PasswordLoginOutcome {
        let until =
            failures >= Self.passwordFailureLimit
            ? Instant(nanosecondsSinceEpoch: now.nanosecondsSinceEpoch &+ Self.passwordLockoutNanoseconds) : nil
        try connection.query(
            """
            UPDATE password_logins SET failures = $2, last_failure_at_ns = $3, locked_until_ns = $4
            WHERE mykey_id = $1
            """,
            [
                .text(myKey.description), .int(Int64(failures)), .int(now.nanosecondsSinceEpoch),
                until.map { .int($0.nanosecondsSinceEpoch) } ?? .null,
            ])
        try audit(
            action: "password.login.failure", subject: myKey.description, detail: ["failures": "\(failures)"],
            actor: actor)
        if let until {
            try audit(
                action: "password.lockout", subject: myKey.description,
                detail: ["failures": "\(failures)", "locked_until": until.description], actor: actor)
        }
        return .failed(failures: failures, lockedUntil: until)
    }

    /// Replaces the hash that just verified, unless the password was changed in the meantime; audited.
    private func storeRehash(_ rehash: PasswordRehash, of account: HolderAccount, actor: String) throws {
        guard let old = account.passwordHash else { return }
        let updated = try connection.query(
            "UPDATE holders SET password_hash = $2 WHERE holder_key = $1 AND password_hash = $3 RETURNING holder_key",
            [.int(account.holderKey), .text(rehash.hash), .text(old)])
        guard updated.rowCount == 1 else { return }
        try audit(
            action: "password.rehash", subject: account.myKey.description,
            detail: ["from": rehash.from, "to": rehash.to, "via": "password"], actor: actor)
    }

    /// Clears failed password logins and any lockout of every MyKey ID the holder has or had: a card login (PIN)
    /// is the way back in.
    ///
    /// Audited when there was something to clear; returns whether there was.
    @discardableResult
    public func clearPasswordFailures(
        holderKey: Int64, via: String, actor: String = Ledger.actor
    ) throws -> Bool {
        try connection.transaction { connection in
            let cleared = try connection.query(
                """
                DELETE FROM password_logins
                WHERE mykey_id IN (SELECT mykey_id FROM mykey_ids WHERE holder_key = $1) AND failures > 0
                RETURNING mykey_id, failures, locked_until_ns IS NOT NULL
                """, [.int(holderKey)])
            guard cleared.rowCount > 0 else { return false }
            for row in 0..<cleared.rowCount {
                try audit(
                    action: "password.unlock", subject: try cleared[row, 0].string(),
                    detail: [
                        "failures": "\(try cleared[row, 1].int())", "was_locked": "\(try cleared[row, 2].bool())",
                        "via": via,
                    ], actor: actor)
            }
            return true
        }
    }
}
