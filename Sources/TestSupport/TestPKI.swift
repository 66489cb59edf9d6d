public import Crypto
public import Foundation
import Synchronization

/// A failure while building the test PKI: the openssl command and what it printed.
public struct TestPKIError: Error, CustomStringConvertible {
    /// What failed.
    public var message: String

    /// `TestPKIError: <message>`.
    public var description: String { "TestPKIError: \(message)" }
}

/// A test certification authority: its certificate and key, made with the openssl command-line tool.
public struct TestCA: Sendable {
    /// The CA certificate.
    public let certificate: Certificate
    /// The CA's private key.
    public let privateKey: PrivateKey
    /// The certificate's PEM file.
    public let certificateFile: URL
    /// The private key's PEM file.
    public let privateKeyFile: URL
}

/// A leaf (user-authentication) certificate and its RSA-2048 key.
public struct TestLeaf: Sendable {
    /// The leaf certificate, issued by the CA given to `issueLeaf`.
    public let certificate: Certificate
    /// The private key as openssl wrote it, PKCS#8 PEM.
    public let privateKeyPEM: String
    /// The same private key, parsed, for signing as the card does.
    public let privateKey: PrivateKey
}

/// Which cRLNumber a test CRL carries.
public enum TestCRLNumber: Sendable {
    /// The next of a process-wide increasing sequence: CRLs issued later are newer, whatever their CA.
    case next
    /// This number, to make a CRL older or newer than another on purpose.
    case fixed(Int)
    /// No cRLNumber extension: order by thisUpdate alone.
    case none
}

/// A CRL as DER and PEM.
public struct TestCRL: Sendable {
    /// The DER encoding.
    public let der: [UInt8]
    /// The PEM text.
    public let pem: String
}

/// A test PKI in a temporary directory: two generations of a JPKI-like CA sharing one name, and an unrelated CA.
///
/// It issues leaves and CRLs on demand with the openssl command-line tool; nothing here is committed. Generating keys is the slow part, so one PKI is shared per process (`shared()`); each issuance works in
/// its own directory, so tests may issue in parallel.
public final class TestPKI: Sendable {
    /// The subject of the test JPKI user-authentication CA (both generations).
    public static let jpkiSubject =
        "/C=JP/O=JPKI-TEST/OU=JPKI for user authentication/OU=Japan Agency for Local Authority Information Systems"
    /// The same name in `Certificate.issuer` form.
    public static let jpkiName =
        "C=JP, O=JPKI-TEST, OU=JPKI for user authentication, OU=Japan Agency for Local Authority Information Systems"
    /// Another issuer's name, for CAs that must differ from the JPKI CA by name (same serials, kept apart).
    public static let otherIssuerSubject = "/C=JP/O=JPKI-TEST/OU=Second Test Issuer"
    /// The same name in `Certificate.issuer` form.
    public static let otherIssuerName = "C=JP, O=JPKI-TEST, OU=Second Test Issuer"

    /// The cRLNumber `.next` hands out; starts high so that `.fixed` numbers below it are older.
    private static let crlSequence = Mutex(1_000)

    /// The directory holding every file of this PKI.
    public let directory: URL
    /// The current CA generation.
    public let ca: TestCA
    /// Another CA generation: the same subject name, a different key.
    public let caNextGeneration: TestCA
    /// A CA that no trust store of the tests holds.
    public let unknownCA: TestCA
    /// A leaf key for tests that do not care whose key a leaf carries: pass it as `issueLeaf(key:)` to skip
    /// generating one (the slow part of issuing).
    public let sharedLeafKey: PrivateKey

    /// Started on first use of `shared()`; a failure is kept, so every test reports it.
    private static let sharedCreation = Task<Result<TestPKI, TestPKIError>, Never> {
        do throws(TestPKIError) {
            let made = try await TestPKI()
            // A static instance is never deinitialised; remove its files when the process exits.
            sharedDirectory.withLock { $0 = made.directory }
            atexit {
                if let directory = TestPKI.sharedDirectory.withLock({ $0 }) {
                    try? FileManager.default.removeItem(at: directory)
                }
            }
            return .success(made)
        } catch {
            return .failure(error)
        }
    }
    private static let sharedDirectory = Mutex<URL?>(nil)

    /// The process-wide PKI, created on first use.
    public static func shared() async throws(TestPKIError) -> TestPKI {
        try await sharedCreation.value.get()
    }

    /// A new PKI in a new temporary directory.
    public init() async throws(TestPKIError) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mynapoint-testpki-\(UUID().uuidString)", isDirectory: true)
        self.directory = directory
        try Self.createDirectory(directory)
        let validFrom = Self.date(year: 2000)
        let validUntil = Self.date(year: 2049)
        // The three key generations are independent: run them side by side.
        async let first = Self.makeCA(
            in: directory.appendingPathComponent("ca-1"), subject: Self.jpkiSubject, from: validFrom, until: validUntil)
        async let second = Self.makeCA(
            in: directory.appendingPathComponent("ca-2"), subject: Self.jpkiSubject, from: validFrom, until: validUntil)
        async let unknown = Self.makeCA(
            in: directory.appendingPathComponent("ca-unknown"), subject: "/C=JP/O=Unknown Test CA/CN=Unknown Root",
            from: validFrom, until: validUntil)
        async let leafKey = Self.generateKey()
        do {
            (ca, caNextGeneration, unknownCA) = try await (first, second, unknown)
            sharedLeafKey = try await leafKey
        } catch let error as TestPKIError {
            throw error
        } catch {
            throw TestPKIError(message: "\(error)")
        }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Issues a leaf with serial `serialHex` (hexadecimal), the given validity period, and `key` or else a new
    /// RSA-2048 key.
    ///
    /// `authorityKeyIdentifier: false` leaves out the extension, so a verifier must pick the CA generation by
    /// signature alone.
    public func issueLeaf(
        by issuer: TestCA, serialHex: String, notBefore: Date, notAfter: Date,
        subject: String = "/C=JP/CN=TEST USER", authorityKeyIdentifier: Bool = true, key existingKey: PrivateKey? = nil
    ) async throws(TestPKIError) -> TestLeaf {
        let work = try newWorkDirectory()
        let key = work.appendingPathComponent("leaf.key")
        let request = work.appendingPathComponent("leaf.csr")
        let output = work.appendingPathComponent("leaf.pem")
        try Self.write(Self.evenHex(serialHex) + "\n", to: work.appendingPathComponent("serial"))
        let keyArguments: [String]
        if let existingKey {
            try Self.write(existingKey.pem, to: key)
            keyArguments = ["-key", key.path]
        } else {
            keyArguments = ["-newkey", "rsa:2048", "-nodes", "-keyout", key.path]
        }
        try await Self.openssl(
            ["req", "-new"] + keyArguments + ["-subj", subject, "-out", request.path], config: work)
        try await Self.openssl(
            [
                "ca", "-batch", "-notext", "-preserveDN", "-cert", issuer.certificateFile.path, "-keyfile",
                issuer.privateKeyFile.path, "-in", request.path, "-out", output.path,
                "-extensions", authorityKeyIdentifier ? "v3_leaf" : "v3_leaf_no_akid",
                "-startdate", Self.timeString(notBefore), "-enddate", Self.timeString(notAfter),
            ], config: work)
        let keyPEM = try Self.read(key)
        do {
            return TestLeaf(
                certificate: try Certificate(pem: try Self.read(output)), privateKeyPEM: keyPEM,
                privateKey: try PrivateKey(pem: keyPEM))
        } catch {
            throw TestPKIError(message: "issued leaf \(serialHex) does not parse: \(error)")
        }
    }

    /// A new CA in this PKI's directory, valid `from` … `until`; without `crlSign` its keyUsage allows signing
    /// certificates only, so a CRL it signs must be refused.
    public func newCA(
        subject: String, crlSign: Bool = true, from: Date = TestPKI.date(year: 2000),
        until: Date = TestPKI.date(year: 2049)
    ) async throws(TestPKIError) -> TestCA {
        try await Self.makeCA(
            in: directory.appendingPathComponent("ca-\(UUID().uuidString)"), subject: subject, from: from, until: until,
            extensions: crlSign ? "v3_ca" : "v3_ca_no_crl_sign")
    }

    /// A CRL signed by `issuer` listing `revoked` (serial in hexadecimal, revocation time), with `crlNumber`.
    public func revocationList(
        by issuer: TestCA, revoked: [(serialHex: String, revokedAt: Date)], thisUpdate: Date, nextUpdate: Date,
        crlNumber: TestCRLNumber = .next
    ) async throws(TestPKIError) -> TestCRL {
        let work = try newWorkDirectory()
        switch crlNumber {
        case .next:
            let number = Self.crlSequence.withLock { value in
                value += 1
                return value
            }
            try Self.write(Self.evenHex(String(number, radix: 16)) + "\n", to: work.appendingPathComponent("crlnumber"))
        case .fixed(let number):
            try Self.write(Self.evenHex(String(number, radix: 16)) + "\n", to: work.appendingPathComponent("crlnumber"))
        case .none:
            // Without a crlnumber file in its configuration, `openssl ca -gencrl` leaves the extension out.
            let configuration = Self.caConfiguration.replacingOccurrences(of: "crlnumber = $dir/crlnumber\n", with: "")
            try Self.write(configuration, to: work.appendingPathComponent("openssl.cnf"))
        }
        // `openssl ca -gencrl` lists the "R" rows of its database with their recorded revocation times,
        // so writing the database directly sets those times (`-revoke` would stamp the current time).
        var index = ""
        for entry in revoked {
            let expiry = Self.timeString(entry.revokedAt.addingTimeInterval(365 * 86_400), utc: true)
            index += "R\t\(expiry)\t\(Self.timeString(entry.revokedAt, utc: true))\t\(Self.evenHex(entry.serialHex))"
            index += "\tunknown\t/C=JP/CN=TEST USER\n"
        }
        try Self.write(index, to: work.appendingPathComponent("index.txt"))
        let output = work.appendingPathComponent("crl.pem")
        try await Self.openssl(
            [
                "ca", "-batch", "-gencrl", "-cert", issuer.certificateFile.path, "-keyfile", issuer.privateKeyFile.path,
                "-crlexts", "crl_ext", "-crl_lastupdate", Self.timeString(thisUpdate), "-crl_nextupdate",
                Self.timeString(nextUpdate), "-out", output.path,
            ], config: work)
        let pem = try Self.read(output)
        let base64 = pem.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: base64) else { throw TestPKIError(message: "CRL PEM is not base64") }
        return TestCRL(der: Array(der), pem: pem)
    }

    /// A new RSA-2048 key, generated in process.
    private static func generateKey() async throws(TestPKIError) -> PrivateKey {
        do {
            return try PrivateKey.generateRSA()
        } catch {
            throw TestPKIError(message: "RSA key generation failed: \(error)")
        }
    }

    // MARK: - openssl

    /// A fresh `openssl ca` working directory (configuration, empty database) for one issuance.
    private func newWorkDirectory() throws(TestPKIError) -> URL {
        let work = directory.appendingPathComponent("work-\(UUID().uuidString)", isDirectory: true)
        try Self.prepareCADirectory(work)
        return work
    }

    private static func makeCA(
        in directory: URL, subject: String, from notBefore: Date, until notAfter: Date, extensions: String = "v3_ca"
    )
        async throws(TestPKIError) -> TestCA
    {
        try prepareCADirectory(directory)
        let key = directory.appendingPathComponent("ca.key")
        let request = directory.appendingPathComponent("ca.csr")
        let certificate = directory.appendingPathComponent("ca.pem")
        try write("01\n", to: directory.appendingPathComponent("serial"))
        try await openssl(
            [
                "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key.path, "-subj", subject, "-out",
                request.path,
            ],
            config: directory)
        // `openssl ca -selfsign` rather than `req -x509`: only `ca` takes an explicit start date (in 3.0).
        try await openssl(
            [
                "ca", "-batch", "-notext", "-preserveDN", "-selfsign", "-keyfile", key.path, "-in", request.path,
                "-out", certificate.path, "-extensions", extensions, "-startdate", timeString(notBefore), "-enddate",
                timeString(notAfter),
            ], config: directory)
        do {
            let keyPEM = try read(key)
            return TestCA(
                certificate: try Certificate(pem: try read(certificate)),
                privateKey: try PrivateKey(pem: keyPEM), certificateFile: certificate, privateKeyFile: key)
        } catch let error as TestPKIError {
            throw error
        } catch {
            throw TestPKIError(message: "CA \(subject) does not parse: \(error)")
        }
    }

    /// Writes the `openssl ca` configuration and an empty database into `directory`.
    private static func prepareCADirectory(_ directory: URL) throws(TestPKIError) {
        try createDirectory(directory.appendingPathComponent("new"))
        try write(caConfiguration, to: directory.appendingPathComponent("openssl.cnf"))
        try write("", to: directory.appendingPathComponent("index.txt"))
        try write("unique_subject = no\n", to: directory.appendingPathComponent("index.txt.attr"))
        try write("01\n", to: directory.appendingPathComponent("crlnumber"))
    }

    /// Extensions follow the JPKI profile in outline: a CA that signs certificates and CRLs, and
    /// signature-only leaves that name their issuer's key.
    private static let caConfiguration = """
        [ ca ]
        default_ca = CA_default
        [ CA_default ]
        dir = .
        database = $dir/index.txt
        new_certs_dir = $dir/new
        serial = $dir/serial
        crlnumber = $dir/crlnumber
        default_md = sha256
        policy = policy_any
        unique_subject = no
        copy_extensions = none
        email_in_dn = no
        [ policy_any ]
        C = optional
        O = optional
        OU = optional
        CN = optional
        [ v3_ca ]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [ v3_ca_no_crl_sign ]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [ v3_leaf ]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [ v3_leaf_no_akid ]
        basicConstraints = critical,CA:FALSE
        keyUsage = critical,digitalSignature
        # openssl 3 adds both key identifiers unless told not to.
        subjectKeyIdentifier = none
        authorityKeyIdentifier = none
        [ crl_ext ]
        authorityKeyIdentifier = keyid:always
        [ req ]
        distinguished_name = req_dn
        [ req_dn ]

        """

    /// Runs `openssl` in `work` (the directory whose `openssl.cnf` it uses); throws with its output on failure.
    ///
    /// Waits through the termination handler, not `waitUntilExit`, so no thread of the shared pool blocks.
    private static func openssl(_ arguments: [String], config work: URL) async throws(TestPKIError) {
        let log = work.appendingPathComponent("openssl-\(UUID().uuidString).log")
        try write("", to: log)
        let output: FileHandle
        do {
            output = try FileHandle(forWritingTo: log)
        } catch {
            throw TestPKIError(message: "cannot open \(log.path): \(error)")
        }
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // `req` and `ca` both read the configuration named by -config; relative paths in it resolve from `work`.
        process.arguments =
            ["openssl", arguments[0], "-config", work.appendingPathComponent("openssl.cnf").path]
            + arguments.dropFirst()
        process.currentDirectoryURL = work
        process.standardOutput = output
        process.standardError = output
        let status: Result<Int32, TestPKIError> = await withCheckedContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: .success($0.terminationStatus)) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(returning: .failure(TestPKIError(message: "cannot run openssl: \(error)")))
            }
        }
        let code = try status.get()
        guard code == 0 else {
            let printed = (try? read(log)) ?? ""
            throw TestPKIError(
                message: "openssl \(arguments.joined(separator: " ")) exited with \(code): \(printed)")
        }
    }

    // MARK: - Files and formats

    private static func createDirectory(_ url: URL) throws(TestPKIError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw TestPKIError(message: "cannot create \(url.path): \(error)")
        }
    }

    private static func write(_ text: String, to url: URL) throws(TestPKIError) {
        do {
            try Data(text.utf8).write(to: url)
        } catch {
            throw TestPKIError(message: "cannot write \(url.path): \(error)")
        }
    }

    private static func read(_ url: URL) throws(TestPKIError) -> String {
        do {
            return String(decoding: try Data(contentsOf: url), as: UTF8.self)
        } catch {
            throw TestPKIError(message: "cannot read \(url.path): \(error)")
        }
    }

    /// Hexadecimal with an even number of digits, as openssl's serial files and database want.
    private static func evenHex(_ hex: String) -> String {
        hex.count % 2 == 0 ? hex.uppercased() : "0" + hex.uppercased()
    }

    /// January 1 of `year`, 00:00 UTC.
    public static func date(year: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: 1, day: 1))!
    }

    /// `YYYYMMDDHHMMSSZ` (or `YYMMDDHHMMSSZ` with `utc`, as openssl's database needs), in UTC.
    private static func timeString(_ date: Date, utc: Bool = false) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String {
            let value = value ?? 0
            return value < 10 ? "0\(value)" : "\(value)"
        }
        let year = parts.year ?? 1970
        let yearText = utc ? two(year % 100) : String(year)
        return yearText + two(parts.month) + two(parts.day) + two(parts.hour) + two(parts.minute) + two(parts.second)
            + "Z"
    }
}
