/// A language mynapoint speaks to people in: English or Japanese.
///
/// Only text for people changes with the language. What other programs read — JSON, CSV headers, result and
/// control files, codes, exit codes, metrics, log keys — is the same in every language.
public enum Language: String, Sendable, CaseIterable, Codable {
    /// English.
    case en
    /// Japanese.
    case ja

    /// The language of the locale in `environment`, chosen the way Linux programs choose it.
    ///
    /// The first of `LC_ALL`, `LC_MESSAGES` and `LANG` that is set and not empty decides: a locale whose language
    /// is `ja` (`ja_JP.UTF-8`, `ja_JP`, `ja`) is Japanese, anything else (`C`, `POSIX`, `en_US.UTF-8` …) English.
    public static func ofLocale(_ environment: [String: String]) -> Language {
        for name in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            guard let value = environment[name], !value.isEmpty else { continue }
            let language = value.prefix { $0 != "_" && $0 != "." && $0 != "@" }
            return language == "ja" ? .ja : .en
        }
        return .en
    }

    /// The language to use: the `--lang` option's, else the configuration's `language`, else the locale's.
    ///
    /// Throws ``LanguageError`` for a value that names no language mynapoint speaks.
    public static func resolve(
        option: String?, configured: String?, environment: [String: String]
    ) throws(LanguageError) -> Language {
        if let option { return try named(option, source: "--lang") }
        if let configured { return try named(configured, source: "language in the configuration") }
        return ofLocale(environment)
    }

    /// The language a value names (`en` or `ja`), or ``LanguageError``.
    public static func named(_ value: String, source: String) throws(LanguageError) -> Language {
        guard let language = Language(rawValue: value) else {
            throw LanguageError(source: source, value: value)
        }
        return language
    }
}

/// A language setting that names no language mynapoint speaks.
public struct LanguageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the value came from (`--lang`, `language in the configuration` …).
    public var source: String
    /// The value given.
    public var value: String

    /// A setting from `source` that names no language.
    public init(source: String, value: String) {
        self.source = source
        self.value = value
    }

    /// The sentence for the operator; it does not repeat the value (a usage error never echoes what was typed).
    public var description: String {
        "\(source) names no language mynapoint speaks; give en (English) or ja (Japanese)"
    }
}
