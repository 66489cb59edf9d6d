import ArgumentParser
import Foundation
import Ledger
import Localization
import Registration
import Registry
import Rules
import Settlement

struct MyKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mykey",
        abstract: "Manages a MyKey ID: change, revoke, password; suspend and unsuspend (operator).",
        subcommands: [Change.self, Revoke.self, Suspend.self, Unsuspend.self, PasswordCommand.self])

    struct Change: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Changes your MyKey ID; the old one keeps resolving to you and is never given to anyone else.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var login: HolderLoginOptions
        @Argument(help: "The new MyKey ID (8 of A–Z 0–9).") var newID: String

        func validate() throws {
            guard MyKeyID(HolderInput.normalized(newID)) != nil else {
                throw ValidationError(HolderMessage.myKeyFormat.text(Output.languageBeforeConfiguration))
            }
        }

        func run() throws {
            let language = try login.card.language()
            try RegistrationSupport.run("mykey change", language: language) {
                let registrar = Registrar(
                    ledger: try RegistrationSupport.ledger(database, configuration: try login.card.configuration()))
                let holder = try login.login(registrar, language: language)
                let changed = try registrar.changeMyKey(holder, to: MyKeyID(HolderInput.normalized(newID))!)
                print(
                    HolderMessage.myKeyChanged(from: holder.account.myKey.description, to: changed.myKey.description)
                        .text(language))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revokes your MyKey ID for good: its points become unusable; asks you to type the ID.")

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var login: HolderLoginOptions
        @Option(help: "The MyKey ID being revoked, as confirmation (for unattended use).") var confirm: String?

        func run() throws {
            let language = try login.card.language()
            try RegistrationSupport.run("mykey revoke", language: language) {
                let registrar = Registrar(
                    ledger: try RegistrationSupport.ledger(database, configuration: try login.card.configuration()))
                let holder = try login.login(registrar, language: language)
                let typed: String
                if let confirm {
                    typed = confirm
                } else {
                    Terminal.say(HolderMessage.revokeWarning(myKey: holder.account.myKey.description).text(language))
                    typed = try Secrets.readVisible(prompt: HolderMessage.revokePrompt.text(language))
                }
                let revoked = try registrar.revoke(holder, confirmation: typed)
                print(HolderMessage.myKeyRevoked(myKey: revoked.myKey.description).text(language))
            }
        }
    }

    struct Suspend: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Operator: suspends a MyKey ID (no login, no points) after a leak or fraud report.")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "A current or former MyKey ID of the holder.") var mykey: String
        @Option(help: "Why (kept in the audit log).") var reason: String

        func validate() throws { try validateOperator(mykey, reason) }

        func run() throws {
            try RegistrationSupport.run("mykey suspend") {
                let registrar = Registrar(ledger: try RegistrationSupport.ledger(database, configuration: nil))
                let account = try registrar.suspend(myKey: MyKeyID(mykey)!, reason: reason)
                print("MyKey ID \(account.myKey) is suspended")
            }
        }
    }

    struct Unsuspend: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Operator: lifts a suspension.")

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "A current or former MyKey ID of the holder.") var mykey: String
        @Option(help: "Why (kept in the audit log).") var reason: String

        func validate() throws { try validateOperator(mykey, reason) }

        func run() throws {
            try RegistrationSupport.run("mykey unsuspend") {
                let registrar = Registrar(ledger: try RegistrationSupport.ledger(database, configuration: nil))
                let account = try registrar.unsuspend(myKey: MyKeyID(mykey)!, reason: reason)
                print("MyKey ID \(account.myKey) is active again")
            }
        }
    }

    struct PasswordCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "password",
            abstract: "Changes the MyKey ID password (--mykey and the current password), or resets it after card login."
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var login: HolderLoginOptions
        @Option(
            name: .customLong("new-password-fd"), help: "Read the new password from this file descriptor (one line).")
        var newPasswordFD: Int32?

        func run() throws {
            let language = try login.card.language()
            try RegistrationSupport.run("mykey password", language: language) {
                let registrar = Registrar(
                    ledger: try RegistrationSupport.ledger(database, configuration: try login.card.configuration()))
                let holder = try login.login(registrar, language: language)
                let password = try RegistrationSupport.newPassword(fd: newPasswordFD, language: language)
                try registrar.setPassword(holder, to: password)
                print(
                    HolderMessage.passwordSet(myKey: holder.account.myKey.description, reset: login.mykey == nil)
                        .text(language))
            }
        }
    }
}

private func validateOperator(_ mykey: String, _ reason: String) throws {
    guard MyKeyID(mykey) != nil else {
        throw ValidationError(HolderMessage.myKeyFormat.text(Output.languageBeforeConfiguration))
    }
    guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
        throw ValidationError("--reason must say why")
    }
}

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Applies for Mynapoint with one payment provider; it cannot be changed later.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var login: HolderLoginOptions
    @Argument(help: "The provider ID (1–16 of A–Z 0–9).") var provider: String

    func validate() throws {
        guard ProviderID(provider) != nil else {
            throw ValidationError(HolderMessage.providerIDFormat.text(Output.languageBeforeConfiguration))
        }
    }

    func run() throws {
        let language = try login.card.language()
        try RegistrationSupport.run("apply", language: language) {
            let registrar = Registrar(
                ledger: try RegistrationSupport.ledger(database, configuration: try login.card.configuration()))
            let holder = try login.login(registrar, language: language)
            try registrar.apply(holder, provider: ProviderID(provider)!)
            print(HolderMessage.appliedWith(myKey: holder.account.myKey.description, provider: provider).text(language))
        }
    }
}

struct CertificateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificate", abstract: "Operator: the reissue/renewal feed; revoking a certificate.",
        subcommands: [Link.self, Revoke.self])

    struct Link: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Binds a new card's certificate to the holder of an old one (one link, or a CSV feed).",
            discussion: """
                CSV: a header line `old_serial,new_serial,not_before,not_after`, then one link per line; the times
                (RFC 3339) are optional. With them the new certificate counts for settlement at once; without, it
                is bound with its real validity when the new card is first presented. Certificates are identified by
                issuer and serial: both serials are of --issuer (default: registry.certificate_issuer of the
                configuration, else the JPKI user-authentication CA).
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var issuerOptions: IssuerOptions
        @Option(help: "The serial already bound (hexadecimal).") var old: String?
        @Option(help: "The new certificate's serial (hexadecimal).") var new: String?
        @Option(name: .customLong("not-before"), help: "The new certificate's start of validity (RFC 3339).")
        var notBefore: String?
        @Option(name: .customLong("not-after"), help: "The new certificate's end of validity (RFC 3339).")
        var notAfter: String?
        @Option(help: "A CSV feed of links.") var csv: String?

        func validate() throws {
            switch (old, new, csv) {
            case (.some, .some, nil), (nil, nil, .some): break
            default: throw ValidationError("give --old and --new, or --csv FILE")
            }
            if (notBefore == nil) != (notAfter == nil) {
                throw ValidationError("give both --not-before and --not-after")
            }
        }

        func run() throws {
            try RegistrationSupport.run("certificate link") {
                let issuer = try issuerOptions.resolved()
                let links: [CertificateLink]
                if let csv {
                    links = try LinkFeed.read(path: csv, issuer: issuer)
                } else {
                    links = [
                        try LinkFeed.link(
                            old: old!, new: new!, notBefore: notBefore, notAfter: notAfter, issuer: issuer)
                    ]
                }
                let registrar = Registrar(ledger: try RegistrationSupport.ledger(database, configuration: nil))
                let count = try registrar.link(links)
                print("linked \(count) certificate\(count == 1 ? "" : "s")")
            }
        }
    }
}

struct CRLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crl", abstract: "Operator: certificate revocation lists.", subcommands: [Import.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Imports a DER or PEM CRL signed by a trust anchor; revokes the serials it lists.",
            discussion: """
                The CRL must verify against a configured trust anchor that was valid at the CRL's thisUpdate and may
                sign CRLs (cRLSign). A CRL older than the newest already imported for its issuer (by crlNumber, else
                thisUpdate) is refused as stale. Registration needs a current CRL (nextUpdate in the future) of the
                certificate's issuer.
                """)

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The CRL file.") var file: String
        @Option(
            name: .customLong("trust-anchor"),
            help: "A PEM file of trusted CA certificates (repeatable; default: trust_anchors of the configuration).")
        var trustAnchors: [String] = []
        @Option(help: Configuration.optionHelp) var config: String?

        func run() throws {
            try RegistrationSupport.run("crl import") {
                let configuration = try Configuration.load(path: config)?.0
                let trust = try RegistrationSupport.trustStore(files: trustAnchors, configuration: configuration)
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw RegistrationError(.invalidInput, "cannot read \(file)")
                }
                let registrar = Registrar(
                    ledger: try RegistrationSupport.ledger(database, configuration: configuration))
                let summary = try registrar.importCRL(Array(data), source: file, trustStore: trust)
                let counts = summary.counts
                print(
                    "CRL imported: issuer \(summary.issuer), thisUpdate \(Instant(summary.thisUpdate)), nextUpdate "
                        + (summary.nextUpdate.map { Instant($0).description } ?? "none")
                        + (summary.crlNumber.map { ", crlNumber \($0)" } ?? "")
                        + "; \(counts.listed) serials listed, \(counts.newlyRevoked) newly revoked, "
                        + "\(counts.movedEarlier) revoked earlier than known, \(counts.bound) of them registered")
            }
        }
    }
}

/// The issuer whose serials an operator command names.
struct IssuerOptions: ParsableArguments {
    @Option(help: "The issuer name of the certificates (default: registry.certificate_issuer of the configuration).")
    var issuer: String?
    @Option(help: Configuration.optionHelp) var config: String?

    /// The issuer given, or the configuration's, or the JPKI user-authentication CA's name.
    func resolved() throws -> String {
        if let issuer { return issuer }
        return (try Configuration.load(path: config)?.0 ?? Configuration()).registryCertificateIssuer
    }
}

extension CertificateCommand {
    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Operator: revokes a certificate at a time (or moves its revocation earlier; never later).",
            discussion: """
                Revocation is one fact per issuer and serial: the earliest time any source gives (CRL import, registry
                import, this command) stands, and settlement, registration and holder show all read it.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var issuerOptions: IssuerOptions
        @Option(help: "The certificate's serial (hexadecimal).") var serial: String
        @Option(help: "When it was revoked (RFC 3339; default: now).") var at: String?
        @Option(help: "Why (kept in the audit log).") var reason: String

        func validate() throws {
            guard CertificateID.serial(parsing: serial) != nil else {
                throw ValidationError("a serial is 1–40 hexadecimal digits")
            }
            if let at, RFC3339.parse(at) == nil { throw ValidationError("--at must be an RFC 3339 time") }
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ValidationError("--reason must say why")
            }
        }

        func run() throws {
            try RegistrationSupport.run("certificate revoke") {
                let id = CertificateID(
                    issuer: try issuerOptions.resolved(), serial: CertificateID.serial(parsing: serial)!)
                let instant = at.flatMap(RFC3339.parse) ?? Instant(Date())
                let registrar = Registrar(ledger: try RegistrationSupport.ledger(database, configuration: nil))
                let (old, new) = try registrar.revokeCertificate(id, at: instant, reason: reason)
                print(
                    "certificate \(id) is revoked at \(new)"
                        + (old.map { $0 == new ? " (unchanged)" : " (was \($0))" } ?? ""))
            }
        }
    }
}
