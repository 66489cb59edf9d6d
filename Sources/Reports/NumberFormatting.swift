/// Numbers as people read them in reports and on a terminal, the same whatever the locale.
public enum NumberFormatting {
    /// `value` in decimal with a comma between each group of three digits: `-1,234,567`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }
}
