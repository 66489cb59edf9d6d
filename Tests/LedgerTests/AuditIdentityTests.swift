import Foundation
import Postgres
import Testing

@testable import Ledger

/// The audit log's actor (settlement spec §11.6) is the effective user and the host, as the operating system says.
@Suite struct AuditIdentityTests {
    @Test func theActorIsTheEffectiveUserAtTheHost() throws {
        let identity = OperatingSystemIdentity.current()
        #expect(identity.userID == UInt32(geteuid()))
        #expect(identity.userName == (getpwuid(geteuid())?.pointee.pw_name).map { String(cString: $0) })
        // uname's node name is the kernel's host name, read another way.
        var names = utsname()
        #expect(uname(&names) == 0)
        let node = withUnsafeBytes(of: names.nodename) {
            String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        #expect(identity.host == node)
        #expect(Ledger.actor == identity.description)
        #expect(Ledger.actor == "\(identity.userName ?? "?")@\(identity.host)")
    }

    @Test func aUserWithoutAnEntryIsNamedByItsNumber() {
        #expect(OperatingSystemIdentity(userID: 1234, userName: nil, host: "h1").description == "uid 1234@h1")
        #expect(OperatingSystemIdentity(userID: 0, userName: "root", host: "h1").description == "root@h1")
    }

    @Test func theActorIsWrittenToTheAuditLog() throws {
        try withLedger { ledger, _ in
            try ledger.audit(action: "test", subject: nil)
            let actors = try ledger.connection.query("SELECT DISTINCT actor FROM audit_log")
            #expect(actors.rowCount == 1)
            #expect(try actors[0, 0].string() == Ledger.actor)
        }
    }
}
