import ArgumentParser
import Crypto
import Foundation
import Ledger
import Localization
import Registration
import Rules
import Settlement

#if canImport(Glibc)
import Glibc
#endif

/// Options of every command that reads a card.
struct CardOptions: ParsableArguments {
    @Option(help: "The reader to use (default: the first reader with a card).") var reader: String?
    @Option(help: "Seconds to wait for a card.") var timeout: Int = 60
    @Option(
        name: .customLong("trust-anchor"),
        help: "A PEM file of trusted JPKI CA certificates (repeatable; default: trust_anchors of the configuration).")
    var trustAnchors: [String] = []
    @Option(help: Configuration.optionHelp) var config: String?
    @Option(
        name: .customLong("pin-fd"), help: "Read the PIN from this file descriptor (one line) instead of the terminal.")
    var pinFD: Int32?
    @Flag(name: .customLong("confirm-last-try"), help: "Go on without asking when the card has one PIN try left.")
    var confirmLastTry = false

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1–3600 seconds") }
        if let pinFD, pinFD < 0 { throw ValidationError("--pin-fd must be a file descriptor number") }
    }

    /// The configuration file, when there is one.
    func configuration() throws -> Configuration? {
        try Configuration.load(path: config)?.0
    }

    /// The trust anchors: the files given, or the configuration's.
    func trustStore() throws -> TrustStore {
        try RegistrationSupport.trustStore(files: trustAnchors, configuration: try configuration())
    }

    /// The language the person at the terminal reads: `--lang`, the configuration's, or the locale's.
    func language() throws -> Language {
        // A configuration that does not load is reported in the locale's language when the command loads it.
        try Output.language(configuration: try? configuration())
    }

    /// Steps 1–6 with the person at the terminal, who reads `language`.
    func login(ledger: Ledger, language: Language) throws -> VerifiedCard {
        let configuration = try configuration()
        var options = CardLoginOptions(
            reader: reader, timeout: .seconds(timeout),
            trustStore: try RegistrationSupport.trustStore(files: trustAnchors, configuration: configuration))
        options.requireCurrentCRL = configuration?.requireCurrentCRL ?? true
        let interaction = TerminalInteraction(pinFD: pinFD, confirmLastTry: confirmLastTry, language: language)
        defer { interaction.finishWaitLine() }
        return try CardLogin.run(options: options, ledger: ledger, interaction: interaction)
    }
}

/// How a holder action authenticates: the card (default) or `--mykey` with a password.
struct HolderLoginOptions: ParsableArguments {
    @Option(help: "Log in with this MyKey ID and its password instead of the card.") var mykey: String?
    @Option(
        name: .customLong("password-fd"), help: "With --mykey: read the password from this file descriptor (one line).")
    var passwordFD: Int32?
    @OptionGroup var card: CardOptions

    func validate() throws {
        if let mykey, MyKeyID(HolderInput.normalized(mykey)) == nil {
            throw ValidationError(HolderMessage.myKeyFormat.text(Output.languageBeforeConfiguration))
        }
        if passwordFD != nil && mykey == nil { throw ValidationError("--password-fd goes with --mykey") }
    }

    /// Logs in with the card (PIN) or the MyKey ID and password, asking in `language`.
    func login(_ registrar: Registrar, language: Language) throws -> AuthenticatedHolder {
        if let mykey, let id = MyKeyID(HolderInput.normalized(mykey)) {
            let typed = try Secrets.read(
                prompt: HolderMessage.passwordPrompt(myKey: id.description).text(language), fd: passwordFD)
            return try registrar.login(myKey: id, password: try Password(typed))
        }
        let verified = try card.login(ledger: registrar.ledger, language: language)
        return try registrar.login(verified)
    }
}

enum RegistrationSupport {
    /// Every certificate in the PEM files given, or in the configuration's `trust_anchors`.
    static func trustStore(files given: [String], configuration: Configuration?) throws -> TrustStore {
        let files = given.isEmpty ? (configuration?.trustAnchors ?? []) : given
        guard !files.isEmpty else {
            throw RegistrationError(.configuration, .noTrustAnchors)
        }
        var anchors: [Certificate] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw RegistrationError(.configuration, .trustAnchorUnreadable(file: file))
            }
            do {
                anchors += try Certificate.all(pem: String(decoding: data, as: UTF8.self))
            } catch {
                throw RegistrationError(.configuration, .trustAnchorWithoutCertificate(file: file))
            }
        }
        return TrustStore(anchors: anchors)
    }

    /// The ledger, with the schema checked.
    static func ledger(_ database: DatabaseOptions, configuration: Configuration?) throws -> Ledger {
        let ledger = try Ledger(url: database.url ?? configuration?.databaseURL)
        try ledger.requireCurrentSchema()
        return ledger
    }

    /// Runs a command body, printing one clear line in `language` and exiting 1 on failure.
    static func run(_ what: String, language: Language = .en, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch let error as RegistrationError {
            throw fail(error.text(language), language: language)
        } catch let error as CleanExit {
            throw error
        } catch {
            throw fail(HolderMessage.failed(command: what, detail: "\(error)").text(language), language: language)
        }
    }

    /// Prints the error line in `language` (in English, byte for byte what every other command prints).
    private static func fail(_ text: String, language: Language) -> ExitCode {
        guard language == .ja else { return Output.fail(text) }
        Terminal.say(HolderMessage.error(text).text(language))
        return ExitCode(1)
    }

    /// Asks for a new password twice in `language` (echo off), or reads it once from `fd`.
    static func newPassword(fd: Int32?, language: Language) throws -> Password {
        if let fd { return try Password(try Secrets.read(prompt: "", fd: fd)) }
        let first = try Password(
            try Secrets.read(
                prompt: HolderMessage.newPasswordPrompt(minimum: Password.minimumLength).text(language), fd: nil))
        let second = try Password(try Secrets.read(prompt: HolderMessage.passwordAgainPrompt.text(language), fd: nil))
        guard first.matches(second) else {
            throw RegistrationError(.invalidPassword, .passwordsDiffer)
        }
        return first
    }
}

/// The terminal side of the card flow: the wait, the tries left, the last-try question and the PIN prompt.
final class TerminalInteraction: CardInteraction {
    private let pinFD: Int32?
    private let confirmLastTryFlag: Bool
    private let language: Language
    private var waitStarted = false
    private var waitLineOpen = false

    init(pinFD: Int32?, confirmLastTry: Bool, language: Language) {
        self.pinFD = pinFD
        self.confirmLastTryFlag = confirmLastTry
        self.language = language
    }

    private func say(_ message: HolderMessage) { Terminal.say(message.text(language)) }

    func waitingForCard(reader: String?, remaining: Duration) {
        let seconds = Int(remaining.components.seconds) + (remaining.components.attoseconds > 0 ? 1 : 0)
        if !waitStarted {
            waitStarted = true
            say(.insertCard(reader: reader, seconds: seconds))
        }
        if Output.standardErrorIsTerminal {
            Terminal.write("\r" + HolderMessage.waitingForCard(seconds: seconds).text(language))
            waitLineOpen = true
        }
    }

    func finishWaitLine() {
        if waitLineOpen {
            Terminal.write("\r\u{1B}[K")
            waitLineOpen = false
        }
    }

    func cardFound(reader: String) {
        finishWaitLine()
        say(.cardFound(reader: reader))
    }

    func showTriesLeft(_ tries: Int) {
        say(.triesLeft(tries))
    }

    func confirmLastTry() -> Bool {
        say(.lastTryWarning)
        if confirmLastTryFlag { return true }
        guard let answer = try? Secrets.readVisible(prompt: HolderMessage.lastTryQuestion.text(language)) else {
            return false
        }
        return HolderInput.isYes(answer)
    }

    func readPIN() throws(RegistrationError) -> PIN {
        let typed: String
        do {
            typed = try Secrets.read(prompt: HolderMessage.pinPrompt.text(language), fd: pinFD)
        } catch let error as RegistrationError {
            throw error
        } catch {
            throw RegistrationError(.invalidPIN, .pinUnreadable(detail: "\(error)"))
        }
        guard let pin = PIN(typed) else {
            throw RegistrationError(.invalidPIN, .pinFormat)
        }
        return pin
    }
}

/// Messages for the person: on standard error, so standard output carries only results.
enum Terminal {
    static func say(_ line: String) { write(line + "\n") }

    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Reading PINs and passwords: from the controlling terminal with echo off, or from a file descriptor.
enum Secrets {
    /// The terminal settings to restore if the person presses Ctrl-C while echo is off.
    nonisolated(unsafe) private static var saved: (descriptor: Int32, settings: termios)?

    /// One line from `fd`, or from the terminal with echo off after `prompt`.
    static func read(prompt: String, fd: Int32?) throws -> String {
        if let fd {
            guard let line = readLine(from: fd) else {
                throw RegistrationError(.invalidInput, .nothingOnDescriptor(fd))
            }
            return line
        }
        return try withTerminal { tty in
            var settings = termios()
            guard tcgetattr(tty, &settings) == 0 else {
                throw RegistrationError(.invalidInput, .terminalUnusable)
            }
            var silent = settings
            silent.c_lflag &= ~tcflag_t(ECHO | ECHOE | ECHOK)
            silent.c_lflag |= tcflag_t(ECHONL)  // the Enter key still moves to the next line
            saved = (tty, settings)
            signal(SIGINT, restoreAndExit)
            signal(SIGTERM, restoreAndExit)
            guard tcsetattr(tty, TCSAFLUSH, &silent) == 0 else {
                throw RegistrationError(.invalidInput, .terminalUnusable)
            }
            defer {
                tcsetattr(tty, TCSAFLUSH, &settings)
                saved = nil
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
            }
            // The prompt only once echo is off (as getpass does): what is typed after it is never shown, and
            // TCSAFLUSH above cannot discard it.
            Terminal.writeTo(tty, prompt)
            guard let line = readLine(from: tty) else {
                throw RegistrationError(.invalidInput, .terminalClosed)
            }
            return line
        }
    }

    /// One line from the terminal, echoed (confirmations).
    static func readVisible(prompt: String) throws -> String {
        try withTerminal { tty in
            Terminal.writeTo(tty, prompt)
            guard let line = readLine(from: tty) else { throw RegistrationError(.invalidInput, .terminalClosed) }
            return line.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    private static func withTerminal<T>(_ body: (Int32) throws -> T) throws -> T {
        let tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard tty >= 0 else {
            throw RegistrationError(.invalidInput, .noTerminal)
        }
        defer { close(tty) }
        return try body(tty)
    }

    /// Reads bytes up to a line end (not kept) or the end of input; nil when nothing came.
    static func readLine(from fd: Int32) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = Glibc.read(fd, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { break }
            if byte == 0x0A {
                if bytes.last == 0x0D { bytes.removeLast() }
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}

/// Restores the terminal's echo and exits, for Ctrl-C at a PIN or password prompt.
private func restoreAndExit(_ signal: Int32) {
    if var state = Secrets.savedForSignal {
        tcsetattr(state.descriptor, TCSANOW, &state.settings)
    }
    _exit(128 + signal)
}

extension Secrets {
    /// The saved settings, for the signal handler.
    static var savedForSignal: (descriptor: Int32, settings: termios)? { saved }
}

extension Terminal {
    static func writeTo(_ descriptor: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return }
            written += result
        }
    }
}
