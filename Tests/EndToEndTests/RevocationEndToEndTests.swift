import Foundation
import Postgres
import TestSupport
import Testing

/// Revocation as one fact, through the built binary: CRL import, registry import and settlement agree, whatever
/// the order; nothing weakens a revocation; stale or wrongly signed CRLs are refused; registration fails closed.
@Suite struct RevocationEndToEndTests {
    /// A migrated database, a workspace, and a configuration trusting the test JPKI CA and a second issuer.
    final class Setup: @unchecked Sendable {
        // @unchecked: immutable after init; each test has its own.
        let database: TemporaryDatabase
        let workspace: DropWorkspace
        let pki: TestPKI
        let secondIssuer: TestCA
        let config: String

        init() async throws {
            pki = try await TestPKI.shared()
            secondIssuer = try await pki.newCA(subject: TestPKI.otherIssuerSubject)
            database = try TemporaryDatabase.create(prefix: "e2e_revocation")
            workspace = try DropWorkspace()
            config = workspace.root + "/mynapoint.json"
            let json: [String: Any] = [
                "trust_anchors": [pki.ca.certificateFile.path, secondIssuer.certificateFile.path],
                "registry": ["certificate_issuer": TestPKI.jpkiName],
            ]
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
            let migrated = try Binary.run(["migrate"], database: database)
            guard migrated.status == 0 else { throw SetupFailure(what: "migrate", outcome: migrated) }
        }

        deinit {
            database.drop()
            workspace.remove()
        }

        /// Runs the binary against this database.
        func run(_ arguments: [String]) throws -> Binary.Outcome { try Binary.run(arguments, database: database) }

        /// Writes registry files into a new folder and imports it with this configuration.
        func importRegistry(_ files: [String: [String]]) throws -> Binary.Outcome {
            let folder = workspace.root + "/registry-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, lines) in files {
                try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
            }
            return try run(["registry", "import", folder, "--config", config])
        }

        /// Writes a CRL of `ca` and imports it with this configuration's trust anchors.
        func importCRL(
            by ca: TestCA, revoked: [(serialHex: String, revokedAt: Date)], thisUpdate: Date, nextUpdate: Date,
            number: TestCRLNumber = .next
        ) async throws -> Binary.Outcome {
            let crl = try await pki.revocationList(
                by: ca, revoked: revoked, thisUpdate: thisUpdate, nextUpdate: nextUpdate, crlNumber: number)
            let file = workspace.root + "/\(UUID().uuidString.prefix(8)).crl"
            try Data(crl.pem.utf8).write(to: URL(fileURLWithPath: file))
            return try run(["crl", "import", file, "--config", config])
        }

        /// Settles the inbox; returns the result rows of `stem` as `record_id → status,points,reason`.
        func settle(stem: String) throws -> [String: String] {
            let settled = try run([
                "settle", "--inbox", workspace.inbox, "--outbox", workspace.outbox, "--archive", workspace.archive,
                "--quarantine", workspace.quarantine,
            ])
            #expect(settled.status == 0, "\(settled.stderr)")
            let result = try #require(try workspace.result(provider: "P0001", stem: stem))
            var rows: [String: String] = [:]
            for line in result.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                rows[fields[0]] = fields[2...].joined(separator: ",")
            }
            return rows
        }

        /// `holder show` as JSON.
        func holder(_ myKey: String) throws -> [String: Any] {
            let shown = try run(["holder", "show", myKey, "--format", "json"])
            #expect(shown.status == 0, "\(shown.stderr)")
            return try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any] ?? [:]
        }
    }

    static let providers = ["provider_id,name", "P0001,Example Pay"]
    static let applied = "P0001,2020-09-01T00:00:00+09:00"
    static let certificateHeader = "serial,mykey_id,not_before,not_after,revoked_at"
    static let validity = "2019-04-01T00:00:00+09:00,2025-03-31T23:59:59+09:00"

    static func date(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    @Test func aCRLBeforeAndAfterARegistryImportRevokesAlikeAndSurvivesReimport() async throws {
        let setup = try await Setup()
        // Before the registry knows the certificate: the revocation is kept for it.
        let before = try await setup.importCRL(
            by: setup.pki.ca, revoked: [("1E01", Self.date("2020-12-01T00:00:00Z"))],
            thisUpdate: Self.date("2020-12-15T00:00:00Z"), nextUpdate: Self.date("2021-01-15T00:00:00Z"))
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.stdout.contains("issuer \(TestPKI.jpkiName)"), "\(before.stdout)")
        #expect(before.stdout.contains("thisUpdate 2020-12-15T00:00:00Z"), "\(before.stdout)")
        #expect(before.stdout.contains("nextUpdate 2021-01-15T00:00:00Z"), "\(before.stdout)")
        #expect(before.stdout.contains("1 newly revoked"), "\(before.stdout)")

        let registry: [String: [String]] = [
            "providers.csv": Self.providers,
            "holders.csv": [
                "mykey_id,status,provider_id,applied_at", "REVK0001,active,\(Self.applied)",
                "REVK0002,active,\(Self.applied)",
            ],
            "certificates.csv": [
                Self.certificateHeader, "1E01,REVK0001,\(Self.validity),",
                "1E02,REVK0002,\(Self.validity),",
            ],
        ]
        let imported = try setup.importRegistry(registry)
        #expect(imported.status == 0, "\(imported.stderr)")
        // After the registry import: a CRL revoking the second holder's certificate.
        let after = try await setup.importCRL(
            by: setup.pki.ca,
            revoked: [
                ("1E01", Self.date("2020-12-01T00:00:00Z")),
                ("1E02", Self.date("2021-01-10T00:00:00Z")),
            ],
            thisUpdate: Self.date("2021-01-15T00:00:00Z"), nextUpdate: Self.date("2021-02-15T00:00:00Z"))
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.contains("1 newly revoked"), "\(after.stdout)")
        // Importing the registry again, with empty revoked_at, clears nothing.
        #expect(try setup.importRegistry(registry).status == 0)

        let certificates = try setup.holder("REVK0001")["certificates"] as? [[String: Any]]
        #expect(certificates?.first?["revoked_at"] as? String == "2020-12-01T00:00:00Z")
        #expect(certificates?.first?["issuer"] as? String == TestPKI.jpkiName)

        try setup.workspace.drop(
            "P0001_20210201_0001.csv.zst",
            csv: """
                record_id,mykey_id,kind,amount_yen,occurred_at
                A1,REVK0001,charge,1000,2020-11-30T23:59:59Z
                A2,REVK0001,charge,1000,2020-12-01T00:00:00Z
                B1,REVK0002,charge,1000,2021-01-09T00:00:00Z
                B2,REVK0002,charge,1000,2021-01-10T00:00:01Z

                """)
        let rows = try setup.settle(stem: "P0001_20210201_0001")
        #expect(rows["A1"] == "GRANTED,250,")
        #expect(rows["A2"] == "REJECTED,0,CERT_REVOKED")
        #expect(rows["B1"] == "GRANTED,250,")
        #expect(rows["B2"] == "REJECTED,0,CERT_REVOKED")
    }

    @Test func aRegistryImportCannotUnrevokeAMyKey() async throws {
        let setup = try await Setup()
        let first = try setup.importRegistry([
            "providers.csv": Self.providers,
            "holders.csv": ["mykey_id,status,provider_id,applied_at", "GONE0001,revoked,\(Self.applied)"],
        ])
        #expect(first.status == 0, "\(first.stderr)")
        let undo = try setup.importRegistry([
            "holders.csv": [
                "mykey_id,status,provider_id,applied_at", "NEWH0001,active,,", "GONE0001,active,\(Self.applied)",
            ]
        ])
        #expect(undo.status == 1)
        #expect(undo.stderr.contains("holders.csv:3"), "\(undo.stderr)")
        #expect(undo.stderr.contains("revoked"), "\(undo.stderr)")
        #expect(undo.stderr.contains("nothing was imported"), "\(undo.stderr)")
        #expect(try setup.holder("GONE0001")["status"] as? String == "revoked")
        // Nothing of the refused file was loaded.
        #expect(try setup.run(["holder", "show", "NEWH0001", "--format", "json"]).status == 1)
    }

    @Test func aStaleCRLIsRefused() async throws {
        let setup = try await Setup()
        let thisUpdate = Self.date("2024-06-01T00:00:00Z")
        let newer = try await setup.importCRL(
            by: setup.pki.ca, revoked: [], thisUpdate: thisUpdate, nextUpdate: Self.date("2024-07-01T00:00:00Z"),
            number: .fixed(20))
        #expect(newer.status == 0, "\(newer.stderr)")
        // A lower crlNumber is older, even with a later thisUpdate.
        let stale = try await setup.importCRL(
            by: setup.pki.ca, revoked: [("5A01", thisUpdate)], thisUpdate: thisUpdate.addingTimeInterval(3600),
            nextUpdate: Self.date("2024-07-01T00:00:00Z"), number: .fixed(19))
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("stale"), "\(stale.stderr)")
        let connection = try setup.database.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT count(*) FROM certificate_revocations")[0, 0].int() == 0)
        #expect(try connection.query("SELECT count(*) FROM crl_imports")[0, 0].int() == 1)
    }

    @Test func crlsFromAnAnchorThatMayNotSignThemOrWasNotValidAreRefused() async throws {
        let setup = try await Setup()
        let noCRLSign = try await setup.pki.newCA(subject: "/C=JP/O=JPKI-TEST/OU=No CRL Signing", crlSign: false)
        let anchors = setup.workspace.root + "/anchors.pem"
        let pems = try [setup.pki.ca, noCRLSign].map { try String(contentsOf: $0.certificateFile, encoding: .utf8) }
        try Data(pems.joined().utf8).write(to: URL(fileURLWithPath: anchors))
        func importing(_ crl: TestCRL) throws -> Binary.Outcome {
            let file = setup.workspace.root + "/\(UUID().uuidString.prefix(8)).crl"
            try Data(crl.der).write(to: URL(fileURLWithPath: file))
            return try setup.run(["crl", "import", file, "--trust-anchor", anchors])
        }
        let unauthorised = try await setup.pki.revocationList(
            by: noCRLSign, revoked: [("6A01", Date())], thisUpdate: Date(),
            nextUpdate: Date().addingTimeInterval(86_400))
        let refused = try importing(unauthorised)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("cRLSign"), "\(refused.stderr)")
        // The test CA is valid from 2000: a CRL dated 1999 was not signed while it was valid.
        let misdated = try await setup.pki.revocationList(
            by: setup.pki.ca, revoked: [("6A02", Self.date("1999-01-01T00:00:00Z"))],
            thisUpdate: Self.date("1999-06-01T00:00:00Z"), nextUpdate: Date().addingTimeInterval(86_400))
        let outside = try importing(misdated)
        #expect(outside.status == 1)
        #expect(outside.stderr.contains("not valid at the CRL's thisUpdate"), "\(outside.stderr)")
        let connection = try setup.database.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT count(*) FROM certificate_revocations")[0, 0].int() == 0)
    }

    @Test func theSameSerialUnderTwoIssuersIsKeptApart() async throws {
        let setup = try await Setup()
        let imported = try setup.importRegistry([
            "providers.csv": Self.providers,
            "holders.csv": [
                "mykey_id,status,provider_id,applied_at", "JPKI0001,active,\(Self.applied)",
                "SECD0001,active,\(Self.applied)",
            ],
            // The first row names no issuer: the configuration's (the test JPKI CA) applies.
            "certificates.csv": [
                Self.certificateHeader + ",issuer", "7F01,JPKI0001,\(Self.validity),,",
                "7F01,SECD0001,\(Self.validity),,\"\(TestPKI.otherIssuerName)\"",
            ],
        ])
        #expect(imported.status == 0, "\(imported.stderr)")
        let crl = try await setup.importCRL(
            by: setup.secondIssuer, revoked: [("7F01", Self.date("2020-10-01T00:00:00Z"))],
            thisUpdate: Self.date("2020-10-02T00:00:00Z"), nextUpdate: Self.date("2020-11-02T00:00:00Z"))
        #expect(crl.status == 0, "\(crl.stderr)")
        let first = try setup.holder("JPKI0001")["certificates"] as? [[String: Any]]
        #expect(first?.first?["revoked_at"] == nil)
        let second = try setup.holder("SECD0001")["certificates"] as? [[String: Any]]
        #expect(second?.first?["revoked_at"] as? String == "2020-10-01T00:00:00Z")

        try setup.workspace.drop(
            "P0001_20201101_0001.csv.zst",
            csv: """
                record_id,mykey_id,kind,amount_yen,occurred_at
                J1,JPKI0001,charge,2000,2020-10-15T00:00:00Z
                S1,SECD0001,charge,2000,2020-10-15T00:00:00Z

                """)
        let rows = try setup.settle(stem: "P0001_20201101_0001")
        #expect(rows["J1"] == "GRANTED,500,")
        #expect(rows["S1"] == "REJECTED,0,CERT_REVOKED")
    }

    @Test func registrationIsRefusedWithoutACurrentCRL() async throws {
        let setup = try await Setup()
        let register = [
            "register", "--reader", "No Such Reader 00 00", "--timeout", "1", "--pin-fd", "0", "--config", setup.config,
        ]
        let refused = try setup.run(register)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("import a current CRL"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Insert your My Number card"), "\(refused.stderr)")
        // An expired CRL is not current either.
        let expired = try await setup.importCRL(
            by: setup.pki.ca, revoked: [], thisUpdate: Self.date("2024-01-01T00:00:00Z"),
            nextUpdate: Self.date("2024-02-01T00:00:00Z"))
        #expect(expired.status == 0, "\(expired.stderr)")
        #expect(try setup.run(register).stderr.contains("import a current CRL"))

        // With a current CRL the command goes on to wait for the card (and fails only for want of one).
        let current = try await setup.importCRL(
            by: setup.pki.ca, revoked: [], thisUpdate: Date().addingTimeInterval(-60),
            nextUpdate: Date().addingTimeInterval(86_400))
        #expect(current.status == 0, "\(current.stderr)")
        let proceeds = try setup.run(register)
        #expect(proceeds.status == 1)
        #expect(!proceeds.stderr.contains("import a current CRL"), "\(proceeds.stderr)")

        // A lab may turn the requirement off.
        let lab = setup.workspace.root + "/lab.json"
        let json: [String: Any] = [
            "trust_anchors": [setup.secondIssuer.certificateFile.path],
            "registration": ["require_current_crl": false],
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: lab))
        let labRun = try setup.run(Array(register.dropLast(2)) + ["--config", lab])
        #expect(labRun.status == 1)
        #expect(!labRun.stderr.contains("import a current CRL"), "\(labRun.stderr)")
    }
}
