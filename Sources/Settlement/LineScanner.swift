#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a stream of decompressed bytes into physical lines (LF or CRLF), across chunk boundaries.
///
/// A line's bytes are handed to the caller without the line ending and are valid only during the call.
/// Lines that fall inside one chunk are handed over in place; only a line that spans chunks is copied.
///
/// A line longer than `maxLineBytes` (before its line end) stops the scanner: ``overlongLine`` holds its number and
/// every later byte is ignored. The decision is the same wherever the chunk boundaries fall, because a line is
/// measured without its line end whether it arrives whole or in pieces, so memory stays bounded whatever the input.
struct LineScanner {
    /// Longest line accepted, in bytes before the line end.
    let maxLineBytes: Int
    private var carry: [UInt8] = []
    private var carrying = false
    /// Physical lines seen so far (the next line's number is `lineNumber + 1`).
    private(set) var lineNumber = 0
    /// The number of the first line longer than `maxLineBytes`; nothing after it is scanned.
    private(set) var overlongLine: Int?

    /// A scanner of lines up to `maxLineBytes` bytes (unbounded by default).
    init(maxLineBytes: Int = .max) {
        self.maxLineBytes = maxLineBytes
        carry.reserveCapacity(min(maxLineBytes, 1 << 12) + 1)
    }

    /// Feeds a chunk; calls `body` with each complete line and its 1-based number.
    ///
    /// - Complexity: O(n) in the chunk's length.
    mutating func feed(
        _ chunk: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, Int) throws -> Void
    ) rethrows {
        guard overlongLine == nil, let base = chunk.baseAddress, chunk.count > 0 else { return }
        var start = 0
        let count = chunk.count
        while start < count {
            let remaining = count - start
            guard let found = memchr(base + start, 0x0A, remaining) else {
                appendToCarry(UnsafeRawBufferPointer(start: base + start, count: remaining))
                return
            }
            let end = base.distance(to: UnsafeRawPointer(found))
            if carrying {
                appendToCarry(UnsafeRawBufferPointer(start: base + start, count: end - start))
                if overlongLine != nil { return }
                lineNumber += 1
                let line = carry.withUnsafeBytes { Self.trimCR($0) }
                if line.count > maxLineBytes { return markOverlong() }
                try carry.withUnsafeBytes { try body(Self.trimCR($0), lineNumber) }
                carry.removeAll(keepingCapacity: true)
                carrying = false
            } else {
                let line = Self.trimCR(UnsafeRawBufferPointer(start: base + start, count: end - start))
                if line.count > maxLineBytes {
                    lineNumber += 1
                    return markOverlong()
                }
                lineNumber += 1
                try body(line, lineNumber)
            }
            start = end + 1
        }
    }

    /// Ends the stream: a last line without a line ending is still a line.
    mutating func finish(_ body: (UnsafeRawBufferPointer, Int) throws -> Void) rethrows {
        guard carrying, overlongLine == nil else { return }
        lineNumber += 1
        if carry.withUnsafeBytes({ Self.trimCR($0) }).count > maxLineBytes { return markOverlong() }
        try carry.withUnsafeBytes { try body(Self.trimCR($0), lineNumber) }
        carry.removeAll(keepingCapacity: true)
        carrying = false
    }

    /// Keeps part of a line that continues in the next chunk.
    ///
    /// One byte more than the limit may be a CR of the line
    /// end; anything beyond that proves the line too long, so it is never stored.
    private mutating func appendToCarry(_ bytes: UnsafeRawBufferPointer) {
        carrying = true
        let room = maxLineBytes == .max ? bytes.count : maxLineBytes + 1 - carry.count
        if bytes.count > room {
            lineNumber += 1
            markOverlong()
            return
        }
        carry.append(contentsOf: bytes)
    }

    private mutating func markOverlong() {
        overlongLine = lineNumber
        carry.removeAll()
        carrying = false
    }

    @inline(__always)
    private static func trimCR(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if let last = line.last, last == 0x0D {
            return UnsafeRawBufferPointer(rebasing: line.dropLast())
        }
        return line
    }
}

/// The fields of one CSV line (RFC 4180 quoting, no line breaks inside fields), without allocation.
///
/// Unquoted fields point into the line; a quoted field with `""` inside is unescaped into a scratch buffer
/// owned by the splitter, so its bytes stay valid until the next `split`.
final class FieldSplitter {
    /// The most fields a record line may have; a line with more is reported as having `maxFields + 1`.
    static let maxFields = 5
    private let scratch: UnsafeMutableRawBufferPointer
    private var fieldStarts:
        (UnsafeRawPointer?, UnsafeRawPointer?, UnsafeRawPointer?, UnsafeRawPointer?, UnsafeRawPointer?)
    private var fieldCounts: (Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0)

    init(maxLineLength: Int = 1 << 16) {
        scratch = .allocate(byteCount: maxLineLength, alignment: 1)
        fieldStarts = (nil, nil, nil, nil, nil)
    }

    deinit { scratch.deallocate() }

    /// The outcome of splitting a line.
    enum Split: Equatable {
        /// The line has this many fields (at most `maxFields + 1`, meaning "more").
        case fields(Int)
        /// A quote is not closed, or a closing quote is followed by something other than a comma.
        case badQuoting
    }

    /// Splits `line`; afterwards `field(i)` gives field `i` for `i < count`.
    ///
    /// Longer than the other functions on purpose: it is the innermost loop of intake, run over every byte of every
    /// data file, and its unquoted fast path and its quoted path share one cursor and one field count; the
    /// `scanFields` micro-benchmark measures it.
    func split(_ line: UnsafeRawBufferPointer) -> Split {
        guard let base = line.baseAddress else {
            set(0, nil, 0)
            return .fields(1)
        }
        let end = line.count
        var position = 0
        var fieldIndex = 0
        var scratchUsed = 0
        while true {
            var fieldStart: UnsafeRawPointer
            var fieldLength: Int
            if position < end && base.load(fromByteOffset: position, as: UInt8.self) == 0x22 {
                // Quoted field: copy into scratch only if it holds an escaped quote.
                position += 1
                let contentStart = position
                var escaped = false
                var closed = false
                while position < end {
                    let b = base.load(fromByteOffset: position, as: UInt8.self)
                    if b == 0x22 {
                        if position + 1 < end && base.load(fromByteOffset: position + 1, as: UInt8.self) == 0x22 {
                            escaped = true
                            position += 2
                            continue
                        }
                        closed = true
                        break
                    }
                    position += 1
                }
                guard closed else { return .badQuoting }
                if escaped {
                    let room = scratch.count - scratchUsed
                    guard position - contentStart <= room else { return .badQuoting }
                    let destination = scratch.baseAddress! + scratchUsed
                    var out = 0
                    var i = contentStart
                    while i < position {
                        let b = base.load(fromByteOffset: i, as: UInt8.self)
                        destination.storeBytes(of: b, toByteOffset: out, as: UInt8.self)
                        out += 1
                        i += b == 0x22 ? 2 : 1
                    }
                    fieldStart = UnsafeRawPointer(destination)
                    fieldLength = out
                    scratchUsed += out
                } else {
                    fieldStart = base + contentStart
                    fieldLength = position - contentStart
                }
                position += 1  // closing quote
                guard position == end || base.load(fromByteOffset: position, as: UInt8.self) == 0x2C else {
                    return .badQuoting
                }
            } else {
                let remaining = end - position
                if let comma = memchr(base + position, 0x2C, remaining) {
                    let commaOffset = base.distance(to: UnsafeRawPointer(comma))
                    fieldStart = base + position
                    fieldLength = commaOffset - position
                    position = commaOffset
                } else {
                    fieldStart = base + position
                    fieldLength = remaining
                    position = end
                }
            }
            if fieldIndex < Self.maxFields { set(fieldIndex, fieldStart, fieldLength) }
            fieldIndex += 1
            if position >= end { break }
            position += 1  // comma
            if fieldIndex > Self.maxFields { break }
            if position == end {
                // A trailing comma ends in one more, empty field.
                if fieldIndex < Self.maxFields { set(fieldIndex, base + end, 0) }
                fieldIndex += 1
                break
            }
        }
        return .fields(min(fieldIndex, Self.maxFields + 1))
    }

    /// Field `index` of the last split line.
    @inline(__always)
    func field(_ index: Int) -> UnsafeRawBufferPointer {
        switch index {
        case 0: UnsafeRawBufferPointer(start: fieldStarts.0, count: fieldCounts.0)
        case 1: UnsafeRawBufferPointer(start: fieldStarts.1, count: fieldCounts.1)
        case 2: UnsafeRawBufferPointer(start: fieldStarts.2, count: fieldCounts.2)
        case 3: UnsafeRawBufferPointer(start: fieldStarts.3, count: fieldCounts.3)
        default: UnsafeRawBufferPointer(start: fieldStarts.4, count: fieldCounts.4)
        }
    }

    @inline(__always)
    private func set(_ index: Int, _ start: UnsafeRawPointer?, _ count: Int) {
        switch index {
        case 0: (fieldStarts.0, fieldCounts.0) = (start, count)
        case 1: (fieldStarts.1, fieldCounts.1) = (start, count)
        case 2: (fieldStarts.2, fieldCounts.2) = (start, count)
        case 3: (fieldStarts.3, fieldCounts.3) = (start, count)
        default: (fieldStarts.4, fieldCounts.4) = (start, count)
        }
    }
}
