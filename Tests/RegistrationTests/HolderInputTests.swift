import Registration
import Testing

/// Full-width and half-width input mean the same: PINs, confirmations, MyKey IDs.
@Suite struct HolderInputTests {
    @Test(arguments: [
        ("1234", "1234"), ("１２３４", "1234"), (" １２３４\n", "1234"), ("　ＡＢ１２ｃｄ３４　", "AB12cd34"),
        ("ｙｅｓ", "yes"), ("はい", "はい"), ("\t5937\r\n", "5937"), ("マイナ　ポイント", "マイナ ポイント"),
    ])
    func normalized(typed: String, expected: String) {
        #expect(HolderInput.normalized(typed) == expected)
    }

    @Test(arguments: ["y", "Y", "yes", "YES", "Yes", "ｙ", "ｙｅｓ", "ＹＥＳ", " yes ", "はい", "　はい　"])
    func yes(answer: String) {
        #expect(HolderInput.isYes(answer))
    }

    @Test(arguments: ["", "n", "no", "いいえ", "yes please", "ye", "はいはい", "ｎｏ", "1"])
    func notYes(answer: String) {
        #expect(!HolderInput.isYes(answer))
    }

    /// A full-width PIN is the same PIN; anything but 4 digits is still refused before it reaches the card.
    @Test func pinAcceptsFullWidthDigits() {
        #expect(PIN("１２３４") != nil)
        #expect(PIN("12３4") != nil)
        #expect(PIN("１２３") == nil)
        #expect(PIN("１２３４５") == nil)
        #expect(PIN("١٢٣٤") == nil)  // Arabic-Indic digits are digits, but not a JPKI PIN's
        #expect(PIN("ＡＢＣＤ") == nil)
    }
}
