import ArgumentParser
import Crypto
import Foundation
import Ledger
import Localization
import Registration
import Rules

struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Registers a MyKey ID with a My Number card in a PC/SC reader.",
        discussion: """
            Waits for a card, checks its user-authentication certificate against the trust anchors (chain, validity,
            revocation), shows the PIN tries left, asks for the PIN (echo off, or --pin-fd) once, and has the card
            sign a fresh challenge. A card already registered shows its MyKey ID (status existing); otherwise a new
            random MyKey ID is created and a password for MyKey ID login is asked twice (or read from --password-fd).
            The PIN and password are never shown, logged or stored (the password only as a scrypt hash).
            With --json, the last line is {"certificate_serial": …, "mykey_id": …, "status": "created|existing"}.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var card: CardOptions
    @Option(name: .customLong("password-fd"), help: "Read the new password from this file descriptor (one line).")
    var passwordFD: Int32?
    @Option(help: "Apply for Mynapoint with this payment provider (once; cannot be changed).") var apply: String?
    @Flag(help: "Print the result as one JSON object on the last line of standard output.") var json = false

    func validate() throws {
        if let apply, ProviderID(apply) == nil {
            throw ValidationError(HolderMessage.providerIDFormat.text(Output.languageBeforeConfiguration))
        }
        if let passwordFD, passwordFD < 0 { throw ValidationError("--password-fd must be a file descriptor number") }
    }

    func run() throws {
        let language = try card.language()
        try RegistrationSupport.run("registration", language: language) {
            let ledger = try RegistrationSupport.ledger(database, configuration: try card.configuration())
            let provider = apply.flatMap(ProviderID.init)
            let verified = try card.login(ledger: ledger, language: language)
            let say = { (message: HolderMessage) in Terminal.say(message.text(language)) }
            say(.cardProved(serial: verified.certificate.serialHex))
            let registrar = Registrar(ledger: ledger)
            let existing = try registrar.existingHolder(for: verified)
            var password: Password?
            if existing == nil || existing?.status == .revoked {
                password = try RegistrationSupport.newPassword(fd: passwordFD, language: language)
            }
            var (outcome, account) = try registrar.register(verified, password: password, apply: provider)
            if outcome.status == .existing {
                say(
                    .alreadyRegistered(
                        myKey: account.myKey.description, standing: HolderMessage.Standing(account.status)))
                if let provider {
                    if account.provider == provider {
                        say(.alreadyAppliedWith(provider: provider.description))
                    } else {
                        try registrar.apply(try registrar.login(verified), provider: provider)
                        account.provider = provider
                        say(.applied(provider: provider.description))
                    }
                }
            } else {
                say(.registered(myKey: account.myKey.description))
                if let provider { say(.applied(provider: provider.description)) }
            }
            outcome.myKeyID = account.myKey.description
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                FileHandle.standardOutput.write(try encoder.encode(outcome) + Data("\n".utf8))
            } else {
                print("\(outcome.myKeyID) \(outcome.status.rawValue)")
            }
        }
    }
}

extension HolderMessage.Standing {
    /// The standing of a holder's status.
    init(_ status: HolderStatus) {
        switch status {
        case .active: self = .active
        case .suspended: self = .suspended
        case .revoked: self = .revoked
        }
    }
}
