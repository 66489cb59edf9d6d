import Foundation

/// Lines and fields of a CSV file held in memory (registry files are read whole: every line is checked before
/// anything is loaded).
enum CSVText {
    /// Calls `body` with each line of `bytes` (LF or CRLF; a last line without a line end is still a line) and its
    /// 1-based number; returns the number of lines.
    ///
    /// - Complexity: O(n) in the length of `bytes`.
    static func forEachLine<Failure: Error>(
        in bytes: [UInt8], _ body: (UnsafeRawBufferPointer, Int) throws(Failure) -> Void
    ) throws(Failure) -> Int {
        var number = 0
        let failure: Failure? = bytes.withUnsafeBytes { all -> Failure? in
            guard let base = all.baseAddress else { return nil }
            var start = 0
            while start < all.count {
                let end = memchr(base + start, 0x0A, all.count - start).map { base.distance(to: UnsafeRawPointer($0)) }
                var line = UnsafeRawBufferPointer(rebasing: all[start..<(end ?? all.count)])
                if line.last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
                number += 1
                do throws(Failure) { try body(line, number) } catch { return error }
                start = (end ?? all.count) + 1
            }
            return nil
        }
        if let failure { throw failure }
        return number
    }

    /// The fields of one line (RFC 4180 quoting, `""` for a quote inside a quoted field), each decoded as UTF-8 (an
    /// element is nil when its field is not valid UTF-8); nil when a quote is not closed or a closing quote is
    /// followed by something other than a comma.
    ///
    /// Only a quoted field with `""` inside is copied before decoding; every other field is decoded in place.
    static func fields(of line: UnsafeRawBufferPointer) -> [String?]? {
        var fields: [String?] = []
        var index = 0
        let count = line.count
        while true {
            if index < count && line[index] == 0x22 {
                let start = index + 1
                var end = start
                var escaped = false
                while true {
                    guard end < count else { return nil }
                    if line[end] == 0x22 {
                        guard end + 1 < count && line[end + 1] == 0x22 else { break }
                        escaped = true
                        end += 1
                    }
                    end += 1
                }
                let content = UnsafeRawBufferPointer(rebasing: line[start..<end])
                fields.append(
                    escaped
                        ? String(validating: unescaped(content), as: UTF8.self)
                        : String(validating: content, as: UTF8.self))
                index = end + 1
                guard index == count || line[index] == 0x2C else { return nil }
            } else {
                let start = index
                while index < count && line[index] != 0x2C { index += 1 }
                fields.append(String(validating: UnsafeRawBufferPointer(rebasing: line[start..<index]), as: UTF8.self))
            }
            guard index < count else { return fields }
            index += 1  // the comma
        }
    }

    /// A quoted field's content with each `""` made one quote.
    private static func unescaped(_ content: UnsafeRawBufferPointer) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(content.count)
        var index = 0
        while index < content.count {
            bytes.append(content[index])
            index += content[index] == 0x22 ? 2 : 1
        }
        return bytes
    }
}
