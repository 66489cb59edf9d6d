import ArgumentParser
import Foundation
import Localization

/// The `--lang ja|en` option, taken from anywhere on the command line before the commands parse the rest: the
/// language is the process's, like its locale, whichever command runs.
enum LanguageArgument {
    /// The `--lang` given, if any (set once, before any command runs).
    nonisolated(unsafe) private(set) static var option: String?

    /// The arguments without `--lang X` / `--lang=X` (up to a `--`), remembering the value; a value that names no
    /// language is a usage error (exit 64).
    static func extract(from arguments: [String]) throws -> [String] {
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                rest += arguments[index...]
                break
            }
            if argument == "--lang" {
                guard index + 1 < arguments.count else { throw ValidationError("--lang needs a value: en or ja") }
                option = arguments[index + 1]
                index += 2
                continue
            }
            if argument.hasPrefix("--lang=") {
                option = String(argument.dropFirst("--lang=".count))
                index += 1
                continue
            }
            rest.append(argument)
            index += 1
        }
        if let option {
            do {
                _ = try Language.named(option, source: "--lang")
            } catch {
                throw ValidationError(error.description)
            }
        }
        return rest
    }
}

extension Output {
    /// The language for people: `--lang`, else the configuration's `language`, else the locale's.
    static func language(configuration: Configuration?) throws -> Language {
        do {
            return try Language.resolve(
                option: LanguageArgument.option, configured: configuration?.language,
                environment: ProcessInfo.processInfo.environment)
        } catch {
            throw Output.fail(error.description, code: 64)
        }
    }
}

extension Output {
    /// The language for people of a command that takes no `--config`: `--lang`, else the `language` of the installed
    /// configuration (`$MYNAPOINT_CONFIG`, else `/etc/mynapoint/mynapoint.json`) when it names one, else the locale's.
    ///
    /// A configuration that cannot be read leaves the choice to the locale: such a command needs nothing else from it.
    static func languageOfInstalledConfiguration() throws -> Language {
        try language(configuration: (try? Configuration.load(path: nil))?.0)
    }

    /// The language for a usage error found before any configuration is read: `--lang`, else the locale's.
    static var languageBeforeConfiguration: Language {
        (try? Language.resolve(
            option: LanguageArgument.option, configured: nil, environment: ProcessInfo.processInfo.environment)) ?? .en
    }
}
