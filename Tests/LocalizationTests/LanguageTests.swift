import Localization
import Testing

/// The language comes from the locale as Linux programs take it, and `--lang` or the configuration override it.
@Suite struct LanguageTests {
    @Test(arguments: [
        ([:], Language.en),
        (["LANG": "ja_JP.UTF-8"], .ja),
        (["LANG": "ja_JP"], .ja),
        (["LANG": "ja"], .ja),
        (["LANG": "C.UTF-8"], .en),
        (["LANG": "en_US.UTF-8"], .en),
        (["LANG": "jav_ID.UTF-8"], .en),
        (["LC_ALL": "C", "LANG": "ja_JP.UTF-8"], .en),
        (["LC_MESSAGES": "ja_JP.UTF-8", "LANG": "C"], .ja),
        (["LC_ALL": "ja_JP.UTF-8", "LC_MESSAGES": "C"], .ja),
        (["LC_ALL": "", "LC_MESSAGES": "", "LANG": "ja_JP.UTF-8"], .ja),
    ])
    func theLocaleDecides(environment: [String: String], expected: Language) {
        #expect(Language.ofLocale(environment) == expected)
    }

    @Test func theOptionThenTheConfigurationThenTheLocale() throws {
        let japanese = ["LANG": "ja_JP.UTF-8"]
        #expect(try Language.resolve(option: "en", configured: "ja", environment: japanese) == .en)
        #expect(try Language.resolve(option: nil, configured: "en", environment: japanese) == .en)
        #expect(try Language.resolve(option: nil, configured: nil, environment: japanese) == .ja)
        #expect(throws: LanguageError.self) {
            try Language.resolve(option: "fr", configured: nil, environment: [:])
        }
        let error = LanguageError(source: "--lang", value: "123456789012")
        #expect(!error.description.contains("123456789012"))
    }
}
