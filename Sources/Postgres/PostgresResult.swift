import CLibPQ

/// The values of one result, copied out of the `PGresult` so the result can be cleared at once and shared freely.
final class ResultStorage: Sendable {
    let columnNames: [String]
    let rowCount: Int
    /// Every value's bytes (text format), row by row.
    let bytes: [UInt8]
    /// `bounds[i] ..< bounds[i + 1]` are the bytes of cell `i` (`row * columnCount + column`).
    let bounds: [Int]
    let nulls: [Bool]

    init(_ result: OwnedResult) {
        let pointer = result.pointer
        let rowCount = Int(PQntuples(pointer))
        let columnCount = Int(PQnfields(pointer))
        columnNames = (0..<columnCount).map { String(cString: PQfname(pointer, Int32($0))) }
        var bytes: [UInt8] = []
        var bounds: [Int] = [0]
        var nulls: [Bool] = []
        bounds.reserveCapacity(rowCount * columnCount + 1)
        nulls.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                let isNull = PQgetisnull(pointer, row, column) != 0
                nulls.append(isNull)
                if !isNull, let value = PQgetvalue(pointer, row, column) {
                    let length = Int(PQgetlength(pointer, row, column))
                    bytes.append(contentsOf: UnsafeRawBufferPointer(start: value, count: length))
                }
                bounds.append(bytes.count)
            }
        }
        self.rowCount = rowCount
        self.bytes = bytes
        self.bounds = bounds
        self.nulls = nulls
    }
}

/// The rows a statement returned, with its affected-row count; values are in PostgreSQL's text format.
public struct PostgresResult: Sendable, RandomAccessCollection {
    let storage: ResultStorage

    /// The number of rows returned.
    public let rowCount: Int
    /// The number of columns of each row.
    public let columnCount: Int
    /// The rows the command affected (`PQcmdTuples`): inserted, updated, deleted, copied or selected; 0 if none.
    public let affectedRows: Int
    /// The command tag, such as `INSERT 0 3`.
    public let commandTag: String

    init(_ result: OwnedResult) {
        storage = ResultStorage(result)
        rowCount = storage.rowCount
        columnCount = storage.columnNames.count
        affectedRows = result.affectedRows
        commandTag = result.commandTag
    }

    /// The columns' names, in order.
    public var columnNames: [String] { storage.columnNames }

    /// The index of the first column named `name`, or nil.
    public func columnIndex(_ name: String) -> Int? {
        storage.columnNames.firstIndex(of: name)
    }

    /// The value at `row`, `column`; both must be in range.
    public subscript(row: Int, column: Int) -> PostgresCell {
        precondition(row >= 0 && row < rowCount, "row \(row) out of range 0..<\(rowCount)")
        precondition(column >= 0 && column < columnCount, "column \(column) out of range 0..<\(columnCount)")
        return PostgresCell(storage: storage, index: row * columnCount + column)
    }

    /// The rows, in order.
    public var rows: [PostgresRow] { Array(self) }

    /// The first row index, 0.
    public var startIndex: Int { 0 }
    /// One past the last row index.
    public var endIndex: Int { rowCount }

    /// The row at `position`, which must be in range.
    public subscript(position: Int) -> PostgresRow {
        precondition(position >= 0 && position < rowCount, "row \(position) out of range 0..<\(rowCount)")
        return PostgresRow(storage: storage, row: position)
    }
}

/// One row of a `PostgresResult`.
public struct PostgresRow: Sendable {
    let storage: ResultStorage
    /// The row's index in its result.
    public let row: Int

    /// The number of columns.
    public var columnCount: Int { storage.columnNames.count }

    /// The value in `column`, which must be in range.
    public subscript(column: Int) -> PostgresCell {
        precondition(column >= 0 && column < columnCount, "column \(column) out of range 0..<\(columnCount)")
        return PostgresCell(storage: storage, index: row * columnCount + column)
    }

    /// The value in the first column named `name`.
    public func cell(_ name: String) throws(PostgresError) -> PostgresCell {
        guard let column = storage.columnNames.firstIndex(of: name) else {
            throw PostgresError(code: .protocolViolation, message: "the result has no column named \"\(name)\"")
        }
        return self[column]
    }
}

/// One value of a result, decoded on request from PostgreSQL's text format.
///
/// Decoding errors name the column and row, never the value.
public struct PostgresCell: Sendable {
    let storage: ResultStorage
    let index: Int

    /// Whether the value is SQL `NULL`.
    public var isNull: Bool { storage.nulls[index] }

    /// The value as an integer of type `T` (`Int64` unless asked otherwise); throws for `NULL`, non-integers and
    /// values out of `T`'s range.
    public func int<T: FixedWidthInteger>(as type: T.Type = Int64.self) throws(PostgresError) -> T {
        guard let value = try optionalInt(as: type) else { throw nullError() }
        return value
    }

    /// The value as an integer of type `T`, or nil for `NULL`.
    public func optionalInt<T: FixedWidthInteger>(as type: T.Type = Int64.self) throws(PostgresError) -> T? {
        guard let bytes = valueBytes else { return nil }
        guard let value = Self.parseInteger(bytes, as: type) else {
            throw mismatch("is not an integer in the range of \(T.self)")
        }
        return value
    }

    /// The value as text; throws for `NULL`.
    public func string() throws(PostgresError) -> String {
        guard let value = optionalString() else { throw nullError() }
        return value
    }

    /// The value as text, or nil for `NULL`.
    public func optionalString() -> String? {
        valueBytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The value as a boolean (`t`/`f`); throws for `NULL` and other text.
    public func bool() throws(PostgresError) -> Bool {
        guard let value = try optionalBool() else { throw nullError() }
        return value
    }

    /// The value as a boolean, or nil for `NULL`.
    public func optionalBool() throws(PostgresError) -> Bool? {
        guard let bytes = valueBytes else { return nil }
        switch String(decoding: bytes, as: UTF8.self) {
        case "t", "true": return true
        case "f", "false": return false
        default: throw mismatch("is not a boolean")
        }
    }

    /// The value of a `bytea` column (hex output, PostgreSQL's default `bytea_output`); throws for `NULL`.
    public func bytes() throws(PostgresError) -> [UInt8] {
        guard let value = try optionalBytes() else { throw nullError() }
        return value
    }

    /// The value of a `bytea` column, or nil for `NULL`.
    public func optionalBytes() throws(PostgresError) -> [UInt8]? {
        guard let text = valueBytes else { return nil }
        guard let value = Self.decodeHexBytea(text) else { throw mismatch("is not bytea in hex format") }
        return value
    }

    private var valueBytes: ArraySlice<UInt8>? {
        isNull ? nil : storage.bytes[storage.bounds[index]..<storage.bounds[index + 1]]
    }

    private var position: String {
        let columns = storage.columnNames.count
        return "column \"\(storage.columnNames[index % columns])\" of row \(index / columns)"
    }

    private func nullError() -> PostgresError {
        PostgresError(code: .typeMismatch, message: "\(position) is NULL")
    }

    private func mismatch(_ what: String) -> PostgresError {
        PostgresError(code: .typeMismatch, message: "\(position) \(what)")
    }

    /// Decimal digits with an optional sign, checked for overflow; nil for anything else.
    static func parseInteger<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, as: T.Type) -> T? {
        var index = bytes.startIndex
        var negative = false
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < bytes.endIndex else { return nil }
        var value: T = 0
        while index < bytes.endIndex {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, overflowed) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowedAgain) =
                negative ? shifted.subtractingReportingOverflow(T(digit)) : shifted.addingReportingOverflow(T(digit))
            guard !overflowed, !overflowedAgain else { return nil }
            value = next
            index += 1
        }
        return value
    }

    /// `\x` followed by pairs of hex digits; nil for anything else.
    static func decodeHexBytea(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text.count % 2 == 0, text.first == UInt8(ascii: "\\"),
            text[text.startIndex + 1] == UInt8(ascii: "x")
        else { return nil }
        // Result files come back this way, megabytes each: a table and a pointer per byte, no append.
        let count = (text.count - 2) / 2
        var valid = true
        let result = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            text.withUnsafeBufferPointer { input in
                hexNibbles.withUnsafeBufferPointer { nibbles in
                    var bad: UInt8 = 0
                    for i in 0..<count {
                        let high = nibbles[Int(input[2 + 2 * i])]
                        let low = nibbles[Int(input[3 + 2 * i])]
                        bad |= high | low
                        output[i] = high << 4 | low & 0x0F
                    }
                    valid = bad & 0xF0 == 0
                }
            }
            initialized = count
        }
        return valid ? result : nil
    }

    /// Each byte's value as a hexadecimal digit (`0–9 a–f A–F`), or 0xFF for any other byte.
    private static let hexNibbles: [UInt8] = (0...255).map { byte -> UInt8 in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt8(byte) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt8(byte) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt8(byte) - UInt8(ascii: "A") + 10
        default: return 0xFF
        }
    }
}
