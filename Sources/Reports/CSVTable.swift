import Foundation

/// CSV for spreadsheets (RFC 4180): CRLF line ends, a field quoted when it holds a comma, quote or line
/// break, and text a spreadsheet would run as a formula defused with a leading apostrophe.
public struct CSVTable: Sendable {
    /// One cell: numbers are written as they are, text is escaped.
    public enum Cell: Sendable, Equatable {
        /// Text, escaped and defused.
        case text(String)
        /// An integer, written in plain decimal.
        case number(Int)
    }

    /// The CSV so far.
    public private(set) var text = ""

    /// An empty table.
    public init() {}

    /// Appends one row.
    public mutating func row(_ cells: [Cell]) {
        text += cells.map { cell in
            switch cell {
            case .text(let value): Self.field(value)
            case .number(let value): String(value)
            }
        }.joined(separator: ",")
        text += "\r\n"
    }

    /// Appends an empty line between blocks.
    public mutating func blank() { text += "\r\n" }

    /// A text field as written: formula-leading characters defused, then quoted when needed.
    ///
    /// `=`, `+`, `-`, `@` (and tab or carriage return, which some spreadsheets skip before them) start a
    /// formula in Excel, LibreOffice and Google Sheets, so a value beginning with one gets a leading `'`.
    public static func field(_ value: String) -> String {
        var text = value
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
            text = "'" + text
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return text
        }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
