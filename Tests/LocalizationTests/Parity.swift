import Localization
import Testing

/// Checks a message catalogue: every kind of message has a sample, every sample exists in both languages, the
/// Japanese is Japanese, and both say the same codes, field names and numbers.
func checkParity<Message: LocalizedMessage>(_ samples: [Message], sourceLocation: SourceLocation = #_sourceLocation) {
    let tried = Set(samples.map(\.key))
    for key in Message.Key.allCases where !tried.contains(key) {
        Issue.record("no sample of \(key)", sourceLocation: sourceLocation)
    }
    for sample in samples {
        let english = sample.english
        let japanese = sample.japanese
        #expect(!english.isEmpty && !japanese.isEmpty, "\(sample.key) is empty", sourceLocation: sourceLocation)
        #expect(
            japanese.unicodeScalars.contains(where: isJapanese), "\(sample.key) is not Japanese: \(japanese)",
            sourceLocation: sourceLocation)
        #expect(
            tokens(english) == tokens(japanese),
            "\(sample.key) says other codes or numbers in Japanese: \(english) / \(japanese)",
            sourceLocation: sourceLocation)
    }
}

/// Codes, field names and numbers: maximal runs of ASCII letters, digits and `_` that hold a digit or a `_`.
func tokens(_ text: String) -> Set<String> {
    var found = Set<String>()
    var current = ""
    for scalar in text.unicodeScalars {
        if scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_") {
            current.unicodeScalars.append(scalar)
        } else {
            if current.contains(where: { $0.isNumber || $0 == "_" }) { found.insert(current) }
            current = ""
        }
    }
    if current.contains(where: { $0.isNumber || $0 == "_" }) { found.insert(current) }
    return found
}

/// Hiragana, katakana or a CJK ideograph.
func isJapanese(_ scalar: Unicode.Scalar) -> Bool {
    (0x3040...0x30FF).contains(scalar.value) || (0x4E00...0x9FFF).contains(scalar.value)
}
