/// A message for people, written once per language.
///
/// Each audience has its own message type (an enum whose cases carry the values a message shows); its English
/// text is in `Sources/Localization/en/`, its Japanese text in `Sources/Localization/ja/` — one catalogue per
/// language. A `switch` over every case in each language makes a message missing in one language a build error,
/// and `LocalizationTests` checks that both say the same codes, names and numbers.
public protocol LocalizedMessage: Sendable {
    /// The message's kind without its values, so a test can tell that every kind was tried.
    associatedtype Key: CaseIterable, Hashable, Sendable

    /// The message's kind.
    var key: Key { get }
    /// The message in English.
    var english: String { get }
    /// The message in Japanese.
    var japanese: String { get }
}

extension LocalizedMessage {
    /// The message in `language`.
    public func text(_ language: Language) -> String {
        switch language {
        case .en: english
        case .ja: japanese
        }
    }
}
