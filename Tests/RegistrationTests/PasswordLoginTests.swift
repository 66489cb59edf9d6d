import Crypto
import Foundation
import Postgres
import Registration
import Rules
import TestSupport
import Testing

@testable import Ledger

/// MyKey ID + password login (registration spec §5): lockout in the database, its end after 15 minutes or a card
/// login, replies that do not tell whether an ID exists, and rehashing of hashes with weaker parameters.
@Suite struct PasswordLoginTests {
    /// A fixed clock: the tests move it instead of waiting.
    static let start = Date(timeIntervalSince1970: 1_780_000_000)

    /// Registers a card with `password` (cheap scrypt cost).
    func registered(
        _ fixture: Fixture, serial: String, password: String? = testPassword
    ) async throws -> (VerifiedCard, HolderAccount) {
        let leaf = try await fixture.leaf(serial: serial)
        let card = try loginInProcess(applet(leaf, pki: fixture.pki), fixture: fixture)
        let (_, account) = try fixture.registrar.register(
            card, password: try password.map { try Password($0) }, apply: nil)
        return (card, account)
    }

    /// A password login at `start` plus `seconds`; the error, or nil on success.
    func attempt(
        _ registrar: Registrar, _ myKey: MyKeyID, _ password: String, after seconds: TimeInterval = 0
    ) throws -> RegistrationError? {
        do {
            _ = try registrar.login(
                myKey: myKey, password: try Password(password), at: Self.start.addingTimeInterval(seconds))
            return nil
        } catch {
            return error
        }
    }

    func loginState(_ fixture: Fixture, _ myKey: MyKeyID) throws -> (failures: Int64, lockedUntil: Int64?)? {
        let row = try fixture.ledger.connection.query(
            "SELECT failures, locked_until_ns FROM password_logins WHERE mykey_id = $1", [.text(myKey.description)])
        guard row.rowCount == 1 else { return nil }
        return (try row[0, 0].int(), try row[0, 1].optionalInt())
    }

    func count(_ fixture: Fixture, _ action: String) throws -> Int64 {
        try fixture.ledger.connection.query("SELECT count(*) FROM audit_log WHERE action = $1", [.text(action)])[0, 0]
            .int()
    }

    @Test func fiveFailuresLockTheIDForEveryConnection() async throws {
        let fixture = try await Fixture()
        let (_, account) = try await registered(fixture, serial: "B10001")
        // A second process, as far as the database can tell: its own connection and registrar.
        let second = Ledger(connection: try fixture.database.connect())
        defer { second.connection.close() }
        let registrars = [fixture.registrar, Registrar(ledger: second, passwordCost: .cheap, actor: "tester@test")]

        for failure in 1...4 {
            let error = try attempt(registrars[failure % 2], account.myKey, otherPassword, after: Double(failure))
            #expect(error?.code == .authenticationFailed, "failure \(failure): \(String(describing: error))")
        }
        let fifth = try attempt(registrars[1], account.myKey, otherPassword, after: 5)
        #expect(fifth?.code == .passwordLoginLocked)
        let until = Instant(Self.start.addingTimeInterval(5 + 15 * 60))
        #expect(fifth?.message.contains("locked until \(until)") == true, "\(String(describing: fifth))")
        #expect(fifth?.message.contains("card") == true)

        // The right password no longer helps, through either connection.
        for registrar in registrars {
            let error = try attempt(registrar, account.myKey, testPassword, after: 60)
            #expect(error?.code == .passwordLoginLocked, "\(String(describing: error))")
            #expect(error?.message.contains("locked until \(until)") == true)
        }
        let state = try #require(try loginState(fixture, account.myKey))
        #expect(state.failures == 5)
        #expect(state.lockedUntil == until.nanosecondsSinceEpoch)

        #expect(try count(fixture, "password.login.failure") == 5)
        #expect(try count(fixture, "password.lockout") == 1)
        #expect(try count(fixture, "password.login.locked") == 2)
        let lockout = try fixture.ledger.connection.query(
            "SELECT subject, actor, detail->>'locked_until' FROM audit_log WHERE action = 'password.lockout'")
        #expect(try lockout[0, 0].string() == account.myKey.description)
        #expect(try lockout[0, 1].string() == "tester@test")
        #expect(try lockout[0, 2].string() == until.description)
        let text = try fixture.allText()
        #expect(!text.contains(testPassword) && !text.contains(otherPassword))
    }

    @Test func theLockoutLiftsAfterFifteenMinutesAndCountingStartsAgain() async throws {
        let fixture = try await Fixture()
        let (_, account) = try await registered(fixture, serial: "B20001")
        for failure in 0..<5 {
            _ = try attempt(fixture.registrar, account.myKey, otherPassword, after: Double(failure))
        }
        // Locked from the fifth failure (at +4 s) for 15 minutes.
        let lockedAt: TimeInterval = 4
        let justBefore = try attempt(fixture.registrar, account.myKey, testPassword, after: lockedAt + 15 * 60 - 1)
        #expect(justBefore?.code == .passwordLoginLocked)

        // Once it ran out, one more failure is the first of a new count, not a new lockout.
        let after = lockedAt + 15 * 60
        #expect(
            try attempt(fixture.registrar, account.myKey, otherPassword, after: after)?.code == .authenticationFailed)
        #expect(try loginState(fixture, account.myKey).map { $0.failures == 1 && $0.lockedUntil == nil } == true)
        #expect(try attempt(fixture.registrar, account.myKey, testPassword, after: after + 1) == nil)
        #expect(try loginState(fixture, account.myKey) == nil)
    }

    @Test func aSuccessResetsTheCount() async throws {
        let fixture = try await Fixture()
        let (_, account) = try await registered(fixture, serial: "B30001")
        for failure in 0..<4 {
            _ = try attempt(fixture.registrar, account.myKey, otherPassword, after: Double(failure))
        }
        #expect(try attempt(fixture.registrar, account.myKey, testPassword, after: 10) == nil)
        for failure in 0..<4 {
            let error = try attempt(fixture.registrar, account.myKey, otherPassword, after: 20 + Double(failure))
            #expect(error?.code == .authenticationFailed)
        }
        #expect(try attempt(fixture.registrar, account.myKey, otherPassword, after: 30)?.code == .passwordLoginLocked)
    }

    @Test func aCardLoginLiftsTheLockout() async throws {
        let fixture = try await Fixture()
        let (card, account) = try await registered(fixture, serial: "B40001")
        for failure in 0..<5 {
            _ = try attempt(fixture.registrar, account.myKey, otherPassword, after: Double(failure))
        }
        #expect(try attempt(fixture.registrar, account.myKey, testPassword, after: 60)?.code == .passwordLoginLocked)

        let byCard = try fixture.registrar.login(card)
        #expect(byCard.method == .card(serial: "B40001", revocationChecked: true))
        #expect(try loginState(fixture, account.myKey) == nil)
        #expect(try attempt(fixture.registrar, account.myKey, testPassword, after: 61) == nil)
        let unlock = try fixture.ledger.connection.query(
            "SELECT subject, detail->>'via', detail->>'was_locked' FROM audit_log WHERE action = 'password.unlock'")
        #expect(unlock.rowCount == 1)
        #expect(try unlock[0, 0].string() == account.myKey.description)
        #expect(try unlock[0, 1].string() == "card B40001")
        #expect(try unlock[0, 2].string() == "true")
        // Nothing to clear: no audit entry.
        _ = try fixture.registrar.login(card)
        #expect(try count(fixture, "password.unlock") == 1)
    }

    @Test func anUnknownIDGetsTheRepliesOfAWrongPassword() async throws {
        let fixture = try await Fixture()
        let (_, known) = try await registered(fixture, serial: "B50001")
        let (_, withoutPassword) = try await registered(fixture, serial: "B50002", password: nil)
        let unknown = MyKeyID("NOBODY42")!
        // Seven attempts each: failures, the lockout, and refusals while locked, at the same times.
        for step in 0..<7 {
            let replies = try [known.myKey, withoutPassword.myKey, unknown].map { id in
                try attempt(fixture.registrar, id, otherPassword, after: Double(step))
            }
            #expect(replies[0] != nil)
            #expect(replies[1] == replies[0], "step \(step)")
            #expect(replies[2] == replies[0], "step \(step)")
            #expect(replies[0]?.code == (step < 4 ? .authenticationFailed : .passwordLoginLocked))
            #expect(replies[0]?.message.contains(known.myKey.description) == false)
        }
        #expect(try count(fixture, "password.login.failure") == 15)
        #expect(try count(fixture, "password.lockout") == 3)
    }

    @Test func anUnknownIDCostsTheWorkOfARealCheck() async throws {
        let fixture = try await Fixture()
        let (_, known) = try await registered(fixture, serial: "B60001")
        // A cost whose hash takes far longer than a database round trip; a fresh ID per attempt, so none locks.
        let registrar = Registrar(
            ledger: fixture.ledger, passwordCost: PasswordHash.ScryptCost(ln: 15, r: 8, p: 1), actor: "tester@test")
        let stored = try PasswordHash.hash(password: testPassword, cost: registrar.passwordCost)
        try fixture.ledger.connection.query(
            "UPDATE holders SET password_hash = $1 WHERE holder_key = $2", [.text(stored), .int(known.holderKey)])
        func seconds(_ id: MyKeyID) throws -> Double {
            let clock = ContinuousClock()
            let started = clock.now
            _ = try attempt(registrar, id, otherPassword)
            let elapsed = started.duration(to: clock.now).components
            return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        }
        var wrong: [Double] = []
        var unknown: [Double] = []
        for round in 0..<3 {
            wrong.append(try seconds(known.myKey))
            unknown.append(try seconds(MyKeyID("NOBODY0\(round)")!))
        }
        let medianWrong = wrong.sorted()[1]
        let medianUnknown = unknown.sorted()[1]
        #expect(medianUnknown > medianWrong / 4, "unknown \(unknown), wrong password \(wrong)")
    }

    @Test func concurrentAttemptsFromManyConnectionsNeverExceedTheLimit() async throws {
        let fixture = try await Fixture()
        let (_, account) = try await registered(fixture, serial: "B70001")
        let connections = try (0..<8).map { _ in try fixture.database.connect() }
        defer { connections.forEach { $0.close() } }
        let myKey = account.myKey
        let all = await withTaskGroup(of: RegistrationError.Code.self) { group in
            for connection in connections {
                let registrar = Registrar(ledger: Ledger(connection: connection), passwordCost: .cheap, actor: "t@t")
                let box = UncheckedRegistrar(registrar: registrar)
                group.addTask {
                    let result = await blocking {
                        try box.registrar.login(myKey: myKey, password: try Password(otherPassword), at: Self.start)
                    }
                    return result.registrationError?.code ?? .other
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(all.filter { $0 == .authenticationFailed }.count == 4, "\(all)")
        #expect(all.filter { $0 == .passwordLoginLocked }.count == 4, "\(all)")
        #expect(try count(fixture, "password.login.failure") == 5)
        #expect(try count(fixture, "password.login.locked") == 3)
    }

    @Test func aLoginWithAWeakerHashStoresOneOfTheCurrentParameters() async throws {
        let fixture = try await Fixture()
        // Registered with the cheap cost: the hash an older release would have stored.
        let (_, account) = try await registered(fixture, serial: "B80001")
        let old = try #require(account.passwordHash)
        #expect(PasswordHash.cost(of: old) == .cheap)

        // This release's registrar, with the cost that ships.
        let current = Registrar(ledger: fixture.ledger, actor: "tester@test")
        #expect(current.passwordCost == .current)
        _ = try current.login(myKey: account.myKey, password: try Password(testPassword))
        let new = try #require(try fixture.ledger.account(holderKey: account.holderKey)?.passwordHash)
        #expect(new != old)
        #expect(PasswordHash.cost(of: new) == .current)
        #expect(PasswordHash.verify(password: testPassword, encoded: new))
        let audit = try fixture.ledger.connection.query(
            "SELECT subject, detail->>'from', detail->>'to' FROM audit_log WHERE action = 'password.rehash'")
        #expect(audit.rowCount == 1)
        #expect(try audit[0, 0].string() == account.myKey.description)
        #expect(try audit[0, 1].string() == "ln=10,r=8,p=1")
        #expect(try audit[0, 2].string() == PasswordHash.ScryptCost.current.description)

        // Current already, or stronger than a cheaper registrar's: kept as it is.
        _ = try current.login(myKey: account.myKey, password: try Password(testPassword))
        _ = try fixture.registrar.login(myKey: account.myKey, password: try Password(testPassword))
        #expect(try fixture.ledger.account(holderKey: account.holderKey)?.passwordHash == new)
        #expect(try count(fixture, "password.rehash") == 1)
        // A wrong password never rehashes.
        #expect(try attempt(current, account.myKey, otherPassword)?.code == .authenticationFailed)
        #expect(try fixture.ledger.account(holderKey: account.holderKey)?.passwordHash == new)
    }
}

/// Carries a registrar to the thread that uses it alone.
struct UncheckedRegistrar: @unchecked Sendable {
    // @unchecked: each registrar's connection is used by exactly one thread (libpq: one thread per connection).
    let registrar: Registrar
}
