/// What a resident types, read the same whether their input method gave full-width or half-width characters.
///
/// Japanese input methods often type full-width letters and digits (`１２３４`, `ｙｅｓ`) and the ideographic space;
/// a PIN, a confirmation or a MyKey ID means the same either way.
public enum HolderInput {
    /// `typed` with full-width ASCII forms (U+FF01–U+FF5E) made half-width, the ideographic space (U+3000) made a
    /// space, and the spaces, tabs and line ends around it removed.
    public static func normalized(_ typed: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in typed.unicodeScalars {
            switch scalar.value {
            case 0xFF01...0xFF5E: scalars.append(Unicode.Scalar(scalar.value - 0xFEE0)!)
            case 0x3000: scalars.append(" ")
            default: scalars.append(scalar)
            }
        }
        return String(scalars).trimmingWhitespace()
    }

    /// Whether an answer to a yes-or-no question is yes: `y`, `yes` (any case, either width) or `はい`.
    public static func isYes(_ answer: String) -> Bool {
        let answer = normalized(answer)
        return ["y", "yes", "はい"].contains(answer.lowercased())
    }
}
