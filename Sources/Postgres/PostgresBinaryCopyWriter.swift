import CLibPQ

/// The connection a `COPY … FROM STDIN` sends to; cut off when `copyIn` ends, so a writer copied out of the body
/// can never reach the connection again.
final class CopyChannel {
    var handle: OpaquePointer?
    /// The first failure to send; later data is dropped and `copyIn` ends the COPY and throws it.
    private(set) var failure: PostgresError?

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    /// Records a failure found while writing; the COPY is ended and `copyIn` throws it.
    func fail(_ error: PostgresError) {
        if failure == nil { failure = error }
    }

    func send(_ bytes: [UInt8]) {
        guard failure == nil, let handle, !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { buffer in
            // PQputCopyData takes an int length; the stream may be cut anywhere, so large buffers go in pieces.
            var offset = 0
            while offset < buffer.count {
                let count = min(buffer.count - offset, 1 << 30)
                let piece = buffer.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self)
                guard PQputCopyData(handle, piece, Int32(count)) == 1 else {
                    failure = PostgresError.fromConnection(handle, code: .copyFailed)
                    return
                }
                offset += count
            }
        }
    }
}

/// Writes rows in PostgreSQL's binary COPY format: the `PGCOPY` header, then per row a field count and each
/// field as a big-endian length and its bytes.
///
/// Rows are buffered and sent in pieces of about 256 KiB. The field count given to `beginRow` must match the
/// fields written and the table's columns, and each field must be written in its column's binary format: the
/// server rejects a mismatch, and `copyIn` throws its error.
///
/// Only `copyIn` makes one, and it writes only during `copyIn`'s body: a copy kept afterwards sends nothing.
public struct PostgresBinaryCopyWriter {
    static let flushThreshold = 256 * 1024
    /// Microseconds from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's timestamp epoch).
    static let postgresEpochOffset: Int64 = 946_684_800_000_000
    /// Days from 1970-01-01 to 2000-01-01.
    static let postgresEpochOffsetDays: Int32 = 10_957

    private var buffer: [UInt8] = []
    private let channel: CopyChannel

    init(channel: CopyChannel) {
        self.channel = channel
        buffer.reserveCapacity(Self.flushThreshold + 64 * 1024)
        // The signature PGCOPY\n\377\r\n\0.
        buffer.append(contentsOf: [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00])
        appendBigEndian(Int32(0))  // flags: no OIDs
        appendBigEndian(Int32(0))  // header extension length
    }

    /// Starts a row of `fieldCount` fields, from 0 to 32767.
    ///
    /// The count is the caller's design, not input data, so a count outside that range traps.
    public mutating func beginRow(fieldCount: Int) {
        precondition(fieldCount >= 0 && fieldCount <= Int(Int16.max), "a COPY row has 0...32767 fields")
        if buffer.count >= Self.flushThreshold { flush() }
        appendBigEndian(Int16(fieldCount))
    }

    /// Writes SQL `NULL`.
    public mutating func writeNull() {
        appendBigEndian(Int32(-1))
    }

    /// Writes a `smallint`.
    public mutating func writeInt16(_ value: Int16) {
        appendBigEndian(Int32(2))
        appendBigEndian(value)
    }

    /// Writes an `integer`.
    public mutating func writeInt32(_ value: Int32) {
        appendBigEndian(Int32(4))
        appendBigEndian(value)
    }

    /// Writes a `bigint`.
    public mutating func writeInt64(_ value: Int64) {
        appendBigEndian(Int32(8))
        appendBigEndian(value)
    }

    /// Writes a `boolean`.
    public mutating func writeBool(_ value: Bool) {
        appendBigEndian(Int32(1))
        buffer.append(value ? 1 : 0)
    }

    /// Writes a `text` (or `varchar`) value; it must not contain a NUL character.
    public mutating func writeText(_ value: String) {
        var value = value
        value.withUTF8 { writeText(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Writes a `text` value from UTF-8 bytes, without creating a `String`.
    public mutating func writeText(bytes: UnsafeRawBufferPointer) {
        writeLengthPrefixed(bytes)
    }

    /// Writes a `timestamptz`, given in microseconds since 1970-01-01 UTC.
    ///
    /// A value so early that moving it to PostgreSQL's epoch would overflow is sent as `-infinity` rather than
    /// wrapping; any other value outside PostgreSQL's range (4713 BC to 294276 AD) is refused by the server, which
    /// fails the COPY.
    public mutating func writeTimestampTZ(microsecondsSinceUnixEpoch: Int64) {
        let (value, overflowed) = microsecondsSinceUnixEpoch.subtractingReportingOverflow(Self.postgresEpochOffset)
        appendBigEndian(Int32(8))
        appendBigEndian(overflowed ? Int64.min : value)
    }

    /// Writes a `date`, given in days since 1970-01-01.
    ///
    /// As with timestamps, a value whose move to PostgreSQL's epoch would overflow is sent as `-infinity`.
    public mutating func writeDate(daysSinceUnixEpoch: Int32) {
        let (value, overflowed) = daysSinceUnixEpoch.subtractingReportingOverflow(Self.postgresEpochOffsetDays)
        appendBigEndian(Int32(4))
        appendBigEndian(overflowed ? Int32.min : value)
    }

    /// Appends the end-of-data marker and sends what is buffered.
    mutating func finish() {
        appendBigEndian(Int16(-1))
        flush()
    }

    private mutating func flush() {
        channel.send(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private mutating func writeLengthPrefixed(_ bytes: UnsafeRawBufferPointer) {
        guard let length = Int32(exactly: bytes.count) else {
            // The format cannot express the length; fail the COPY rather than send a corrupt stream.
            channel.fail(PostgresError(code: .copyFailed, message: "a COPY field of \(bytes.count) bytes is too long"))
            writeNull()
            return
        }
        appendBigEndian(length)
        buffer.append(contentsOf: bytes)
    }

    @inline(__always)
    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }
}
