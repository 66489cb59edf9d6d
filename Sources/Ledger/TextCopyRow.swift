/// The fields of one row of `COPY … TO STDOUT` in text format: tab-separated, `\N` for NULL.
///
/// Only columns that need no unescaping (numbers, identifiers, hex) are read this way.
struct TextCopyRow {
    private var fields: [UnsafeRawBufferPointer] = []

    init(_ row: UnsafeRawBufferPointer) {
        var line = row
        if line.last == 0x0A { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        var start = 0
        for i in 0..<line.count where line[i] == 0x09 {
            fields.append(UnsafeRawBufferPointer(rebasing: line[start..<i]))
            start = i + 1
        }
        fields.append(UnsafeRawBufferPointer(rebasing: line[start..<line.count]))
    }

    var count: Int { fields.count }

    func isNull(_ i: Int) -> Bool { fields[i].count == 2 && fields[i][0] == 0x5C && fields[i][1] == 0x4E }

    func int(_ i: Int) -> Int64? {
        let f = fields[i]
        guard !isNull(i), !f.isEmpty else { return nil }
        var negative = false
        var value: Int64 = 0
        for (n, b) in f.enumerated() {
            if n == 0 && b == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard b >= 0x30, b <= 0x39 else { return nil }
            value = value &* 10 &+ Int64(b &- 0x30)
        }
        return negative ? -value : value
    }

    func string(_ i: Int) -> String? { isNull(i) ? nil : String(decoding: fields[i], as: UTF8.self) }

    func bytes(_ i: Int) -> UnsafeRawBufferPointer { fields[i] }
}
