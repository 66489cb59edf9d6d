/// The fields of one row of `COPY … TO STDOUT` in text format: tab-separated, `\N` for NULL.
///
/// Only columns that need no unescaping (numbers, identifiers, hex) are read this way. Up to 8 fields; the
/// field boundaries live inline, so reading a row allocates nothing.
struct TextCopyRow {
    private let line: UnsafeRawBufferPointer
    private var starts: (Int, Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// Number of fields (at most 8 are kept).
    private(set) var count = 0

    init(_ row: UnsafeRawBufferPointer) {
        var line = row
        if line.last == 0x0A { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        self.line = line
        var fields = 1
        withUnsafeMutableBytes(of: &starts) { raw in
            let starts = raw.bindMemory(to: Int.self)
            starts[0] = 0
            for i in 0..<line.count where line[i] == 0x09 && fields < 8 {
                starts[fields] = i + 1
                fields += 1
            }
            starts[fields] = line.count + 1
        }
        count = fields
    }

    func bytes(_ i: Int) -> UnsafeRawBufferPointer {
        guard i < count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return withUnsafeBytes(of: starts) { raw in
            let starts = raw.bindMemory(to: Int.self)
            return UnsafeRawBufferPointer(rebasing: line[starts[i]..<(starts[i + 1] - 1)])
        }
    }

    func isNull(_ i: Int) -> Bool {
        let f = bytes(i)
        return f.count == 2 && f[0] == 0x5C && f[1] == 0x4E
    }

    func int(_ i: Int) -> Int64? {
        let f = bytes(i)
        guard !f.isEmpty, !isNull(i) else { return nil }
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

    func string(_ i: Int) -> String? { isNull(i) ? nil : String(decoding: bytes(i), as: UTF8.self) }
}
