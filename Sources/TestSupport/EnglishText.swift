/// Tells English prose from the IDs, codes and numbers a Japanese text may carry.
public enum EnglishText {
    /// True when `text` holds three or more English words of lowercase letters in a row: an English sentence.
    ///
    /// IDs and codes are upper case, and numbers and JSON are not words.
    public static func hasPhrase(_ text: some StringProtocol) -> Bool {
        var run = 0
        for word in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == ";" || $0 == "." }) {
            if word.count > 1 && word.allSatisfy({ $0.isASCII && $0.isLowercase }) {
                run += 1
                if run >= 3 { return true }
            } else {
                run = 0
            }
        }
        return false
    }
}
