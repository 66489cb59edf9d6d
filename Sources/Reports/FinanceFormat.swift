public import Localization

/// Figures and dates as a finance officer reads them in a language: in English as the reports always wrote them,
/// in Japanese with their units (`12,345円`, `1,250ポイント`) and dates as `2021年3月31日` (all times are JST).
public enum FinanceFormat {
    /// An amount in yen: `12,345` in English (the label says yen), `12,345円` in Japanese.
    public static func yen(_ value: Int, _ language: Language) -> String {
        NumberFormatting.grouped(value) + (language == .ja ? "円" : "")
    }

    /// Points: `1,250` in English (the label says points), `1,250ポイント` in Japanese.
    public static func points(_ value: Int, _ language: Language) -> String {
        NumberFormatting.grouped(value) + (language == .ja ? "ポイント" : "")
    }

    /// A date `YYYY-MM-DD`: unchanged in English, `2021年3月31日` in Japanese.
    public static func date(_ date: String, _ language: Language) -> String {
        guard language == .ja else { return date }
        let parts = date.split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else {
            return date
        }
        return "\(year)年\(month)月\(day)日"
    }

    /// A month `YYYY-MM`: unchanged in English, `2021年3月` in Japanese.
    public static func month(_ month: String, _ language: Language) -> String {
        guard language == .ja else { return month }
        let parts = month.split(separator: "-")
        guard parts.count == 2, let year = Int(parts[0]), let number = Int(parts[1]) else { return month }
        return "\(year)年\(number)月"
    }

    /// A JST time `YYYY-MM-DDTHH:MM:SS+09:00`: unchanged in English, `2021年3月31日 12:00:05` in Japanese.
    public static func time(_ time: String, _ language: Language) -> String {
        guard language == .ja, time.count >= 19 else { return time }
        let date = String(time.prefix(10))
        let clock = time.dropFirst(11).prefix(8)
        return self.date(date, language) + " " + clock
    }

    /// How many columns `text` takes on a terminal: East Asian wide and fullwidth characters take two.
    public static func width(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + (isWide($1) ? 2 : 1) }
    }

    /// Hangul Jamo, CJK punctuation, kana and ideographs, Hangul syllables, compatibility ideographs, fullwidth
    /// forms: the ranges a Japanese text uses that terminals draw two columns wide.
    static func isWide(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
            0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6:
            true
        default: false
        }
    }
}
