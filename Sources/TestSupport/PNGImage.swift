/// A decoded PNG image, so that a test can check what a browser drew by its structure (size, colours in a region)
/// rather than against a pixel-exact golden image that any font or browser update would break.
///
/// Reads what headless Chromium writes: 8 bits per channel, RGB or RGBA, not interlaced. Written here, in a few
/// hundred lines, because nothing on the test machine decodes PNG for Swift and a test must not depend on an
/// image tool being installed.
public struct PNGImage: Sendable {
    /// Why the bytes are not a PNG this decoder reads.
    public struct DecodeError: Error, CustomStringConvertible {
        /// What is wrong with the bytes.
        public let description: String
    }

    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Bytes per pixel: 3 (RGB) or 4 (RGBA).
    let channels: Int
    /// Rows of pixels after unfiltering, `width * channels` bytes each.
    let pixels: [UInt8]

    /// Decodes a PNG file's bytes.
    public init(_ bytes: [UInt8]) throws(DecodeError) {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count > 8, Array(bytes[0..<8]) == signature else {
            throw DecodeError(description: "not a PNG file (no PNG signature)")
        }
        var header: [UInt8] = []
        var compressed: [UInt8] = []
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(Self.bigEndian(bytes, offset))
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            guard length >= 0, offset + 12 + length <= bytes.count else {
                throw DecodeError(description: "chunk \(type) runs past the end of the file")
            }
            let data = bytes[offset + 8..<offset + 8 + length]
            switch type {
            case "IHDR": header = Array(data)
            case "IDAT": compressed += data
            default: break
            }
            offset += 12 + length
            if type == "IEND" { break }
        }
        guard header.count == 13 else { throw DecodeError(description: "no IHDR chunk") }
        width = Int(Self.bigEndian(header, 0))
        height = Int(Self.bigEndian(header, 4))
        switch (header[8], header[9], header[12]) {
        case (8, 2, 0): channels = 3
        case (8, 6, 0): channels = 4
        case let (depth, colourType, interlace):
            throw DecodeError(
                description: "unsupported PNG: bit depth \(depth), colour type \(colourType), interlace \(interlace)")
        }
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 16 else {
            throw DecodeError(description: "implausible size \(width)×\(height)")
        }
        let filtered = try Inflate.zlib(compressed)
        pixels = try Self.unfilter(filtered, width: width, height: height, channels: channels)
    }

    /// The colour of the pixel at column `x`, row `y` (alpha ignored: screenshots are opaque).
    public func pixel(x: Int, y: Int) -> RGB {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
        let i = (y * width + x) * channels
        return RGB(red: pixels[i], green: pixels[i + 1], blue: pixels[i + 2])
    }

    static func bigEndian(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Undoes the per-row filters of PNG (none, sub, up, average, Paeth).
    static func unfilter(_ data: [UInt8], width: Int, height: Int, channels: Int) throws(DecodeError) -> [UInt8] {
        let stride = width * channels
        guard data.count >= height * (stride + 1) else {
            throw DecodeError(description: "image data holds \(data.count) bytes, \(height * (stride + 1)) expected")
        }
        var out = [UInt8](repeating: 0, count: height * stride)
        var badFilter: UInt8?
        out.withUnsafeMutableBufferPointer { out in
            data.withUnsafeBufferPointer { data in
                for y in 0..<height {
                    let filter = data[y * (stride + 1)]
                    let source = y * (stride + 1) + 1
                    let row = y * stride
                    let prior = row - stride
                    for i in 0..<stride {
                        let left = i >= channels ? Int(out[row + i - channels]) : 0
                        let up = y > 0 ? Int(out[prior + i]) : 0
                        let upLeft = y > 0 && i >= channels ? Int(out[prior + i - channels]) : 0
                        let predicted: Int
                        switch filter {
                        case 0: predicted = 0
                        case 1: predicted = left
                        case 2: predicted = up
                        case 3: predicted = (left + up) / 2
                        case 4: predicted = paeth(left, up, upLeft)
                        default:
                            badFilter = filter
                            return
                        }
                        out[row + i] = UInt8(truncatingIfNeeded: Int(data[source + i]) + predicted)
                    }
                }
            }
        }
        if let badFilter { throw DecodeError(description: "unknown row filter \(badFilter)") }
        return out
    }

    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a)
        let pb = abs(p - b)
        let pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}

/// A colour of 8 bits per channel.
public struct RGB: Sendable, Hashable, CustomStringConvertible {
    /// The red channel, 0 (none) to 255 (full).
    public var red: UInt8
    /// The green channel, 0 (none) to 255 (full).
    public var green: UInt8
    /// The blue channel, 0 (none) to 255 (full).
    public var blue: UInt8

    /// A colour from its channels.
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// A colour from CSS hex notation, `#rrggbb`; black for text that is not hexadecimal.
    public init(hex: String) {
        let value = UInt32(hex.dropFirst(), radix: 16) ?? 0
        self.init(red: UInt8(value >> 16 & 0xFF), green: UInt8(value >> 8 & 0xFF), blue: UInt8(value & 0xFF))
    }

    /// The largest difference in any channel: anti-aliasing and colour management shift a colour by a few steps.
    public func distance(to other: RGB) -> Int {
        max(
            abs(Int(red) - Int(other.red)), abs(Int(green) - Int(other.green)), abs(Int(blue) - Int(other.blue)))
    }

    /// `#rrggbb`.
    public var description: String {
        "#" + [red, green, blue].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// zlib/DEFLATE decompression (RFC 1950, RFC 1951): stored, fixed and dynamic Huffman blocks.
enum Inflate {
    typealias DecodeError = PNGImage.DecodeError

    /// The data of a zlib stream, its Adler-32 checked.
    static func zlib(_ bytes: [UInt8]) throws(DecodeError) -> [UInt8] {
        guard bytes.count >= 6, bytes[0] & 0x0F == 8, (UInt16(bytes[0]) << 8 | UInt16(bytes[1])) % 31 == 0,
            bytes[1] & 0x20 == 0
        else { throw DecodeError(description: "image data is not a zlib stream") }
        var reader = BitReader(bytes: bytes, index: 2)
        let out = try inflate(&reader)
        reader.alignToByte()
        guard reader.index + 4 <= bytes.count else { throw DecodeError(description: "zlib stream without checksum") }
        guard PNGImage.bigEndian(bytes, reader.index) == adler32(out) else {
            throw DecodeError(description: "zlib checksum mismatch")
        }
        return out
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var start = 0
        // 5552 bytes is the most that can be summed before b could overflow 32 bits.
        while start < bytes.count {
            let end = min(start + 5552, bytes.count)
            for i in start..<end {
                a += UInt32(bytes[i])
                b += a
            }
            a %= 65521
            b %= 65521
            start = end
        }
        return b << 16 | a
    }

    static let lengthBase = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    static let distanceExtra = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    /// The order in which a dynamic block lists the code lengths of its code-length alphabet.
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static func inflate(_ reader: inout BitReader) throws(DecodeError) -> [UInt8] {
        var out: [UInt8] = []
        var last = false
        while !last {
            last = try reader.bits(1) == 1
            switch try reader.bits(2) {
            case 0:
                reader.alignToByte()
                let length = try reader.bits(16)
                guard try reader.bits(16) == length ^ 0xFFFF else {
                    throw DecodeError(description: "stored block length check failed")
                }
                for _ in 0..<length { out.append(UInt8(try reader.bits(8))) }
            case 1:
                let lengths =
                    [Int](repeating: 8, count: 144) + [Int](repeating: 9, count: 112)
                    + [Int](repeating: 7, count: 24) + [Int](repeating: 8, count: 8)
                try codes(
                    &reader, literals: Huffman(lengths: lengths),
                    distances: Huffman(lengths: [Int](repeating: 5, count: 30)), into: &out)
            case 2:
                let (literals, distances) = try dynamicTables(&reader)
                try codes(&reader, literals: literals, distances: distances, into: &out)
            default:
                throw DecodeError(description: "reserved DEFLATE block type")
            }
        }
        return out
    }

    static func dynamicTables(_ reader: inout BitReader) throws(DecodeError) -> (Huffman, Huffman) {
        let literalCount = try reader.bits(5) + 257
        let distanceCount = try reader.bits(5) + 1
        let codeLengthCount = try reader.bits(4) + 4
        var codeLengths = [Int](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengths[codeLengthOrder[i]] = try reader.bits(3) }
        let codeLengthCode = Huffman(lengths: codeLengths)
        var lengths: [Int] = []
        while lengths.count < literalCount + distanceCount {
            let symbol = try reader.decode(codeLengthCode)
            switch symbol {
            case 0..<16: lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw DecodeError(description: "repeat with no length") }
                lengths += [Int](repeating: previous, count: 3 + (try reader.bits(2)))
            case 17: lengths += [Int](repeating: 0, count: 3 + (try reader.bits(3)))
            default: lengths += [Int](repeating: 0, count: 11 + (try reader.bits(7)))
            }
        }
        guard lengths.count == literalCount + distanceCount else {
            throw DecodeError(description: "code lengths overrun their table")
        }
        return (
            Huffman(lengths: Array(lengths[0..<literalCount])), Huffman(lengths: Array(lengths[literalCount...]))
        )
    }

    static func codes(
        _ reader: inout BitReader, literals: Huffman, distances: Huffman, into out: inout [UInt8]
    ) throws(DecodeError) {
        while true {
            let symbol = try reader.decode(literals)
            if symbol < 256 {
                out.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let index = symbol - 257
            guard index < lengthBase.count else { throw DecodeError(description: "bad length code") }
            let length = lengthBase[index] + (try reader.bits(lengthExtra[index]))
            let distanceCode = try reader.decode(distances)
            guard distanceCode < distanceBase.count else { throw DecodeError(description: "bad distance code") }
            let distance = distanceBase[distanceCode] + (try reader.bits(distanceExtra[distanceCode]))
            guard distance <= out.count else { throw DecodeError(description: "distance before the start") }
            // Byte by byte: a match may overlap the bytes it is producing.
            let start = out.count - distance
            out.reserveCapacity(out.count + length)
            for i in 0..<length { out.append(out[start + i]) }
        }
    }
}

/// A canonical Huffman code as counts per code length and symbols in code order (the form of zlib's `puff`).
struct Huffman {
    var counts = [Int](repeating: 0, count: 16)
    var symbols: [Int]

    init(lengths: [Int]) {
        for length in lengths { counts[length] += 1 }
        counts[0] = 0
        var offsets = [Int](repeating: 0, count: 16)
        for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
        symbols = [Int](repeating: 0, count: lengths.count)
        for (symbol, length) in lengths.enumerated() where length != 0 {
            symbols[offsets[length]] = symbol
            offsets[length] += 1
        }
    }
}

/// DEFLATE's bit order: least significant bit of each byte first.
struct BitReader {
    let bytes: [UInt8]
    var index: Int
    var buffer: UInt64 = 0
    var count = 0

    mutating func bits(_ n: Int) throws(PNGImage.DecodeError) -> Int {
        while count < n {
            guard index < bytes.count else { throw PNGImage.DecodeError(description: "compressed data ends early") }
            buffer |= UInt64(bytes[index]) << count
            index += 1
            count += 8
        }
        let value = Int(buffer & ((1 << UInt64(n)) - 1))
        buffer >>= UInt64(n)
        count -= n
        return value
    }

    /// Drops the rest of the current byte (fewer than 8 bits are ever buffered between calls).
    mutating func alignToByte() {
        buffer = 0
        count = 0
    }

    mutating func decode(_ code: Huffman) throws(PNGImage.DecodeError) -> Int {
        var value = 0
        var first = 0
        var index = 0
        for length in 1..<16 {
            value |= try bits(1)
            let count = code.counts[length]
            if value - count < first { return code.symbols[index + value - first] }
            index += count
            first = (first + count) << 1
            value <<= 1
        }
        throw PNGImage.DecodeError(description: "invalid Huffman code")
    }
}
