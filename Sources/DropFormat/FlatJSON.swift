/// A strict reader of one flat JSON object whose values are strings or integers (RFC 8259), keeping every member
/// in order, duplicates included, so the caller can refuse them.
public enum FlatJSON {
    /// A member's value.
    public enum Value: Equatable {
        /// A JSON string, unescaped.
        case string(String)
        /// A JSON integer without fraction or exponent; `Int.max` or `Int.min` when beyond 64 bits.
        case integer(Int)
        /// Any other JSON value: a number with fraction or exponent, true, false, null, an object or an array.
        case other
    }

    /// Why the bytes are not such an object.
    public struct Failure: Error {
        /// What is wrong, for the sentence around it.
        public var reason: String
    }

    /// The members of the object `bytes` holds, in order.
    public static func parseObject(_ bytes: [UInt8]) throws(Failure) -> [(String, Value)] {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        try reader.expect(0x7B, "an object")
        var members: [(String, Value)] = []
        reader.skipSpace()
        if reader.peek == 0x7D {
            reader.position += 1
        } else {
            while true {
                reader.skipSpace()
                let key = try reader.string()
                reader.skipSpace()
                try reader.expect(0x3A, "':'")
                reader.skipSpace()
                members.append((key, try reader.value()))
                reader.skipSpace()
                if reader.peek == 0x2C {
                    reader.position += 1
                    continue
                }
                try reader.expect(0x7D, "',' or '}'")
                break
            }
        }
        reader.skipSpace()
        guard reader.position == bytes.count else { throw Failure(reason: "text after the object") }
        return members
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { position += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
            guard peek == byte else { throw Failure(reason: "expected \(what) at byte \(position + 1)") }
            position += 1
        }

        mutating func value() throws(Failure) -> Value {
            switch peek {
            case 0x22: return .string(try string())
            case .some(0x2D), .some(0x30...0x39): return try number()
            case 0x74: try literal("true")
            case 0x66: try literal("false")
            case 0x6E: try literal("null")
            case 0x7B, 0x5B: try skipNested()
            default: throw Failure(reason: "expected a value at byte \(position + 1)")
            }
            return .other
        }

        mutating func literal(_ word: String) throws(Failure) {
            let expected = Array(word.utf8)
            guard bytes.count - position >= expected.count,
                Array(bytes[position..<(position + expected.count)]) == expected
            else { throw Failure(reason: "expected a value at byte \(position + 1)") }
            position += expected.count
        }

        /// Skips an object or array, checking only that brackets and strings are balanced.
        mutating func skipNested() throws(Failure) {
            var depth = 0
            repeat {
                guard let b = peek else { throw Failure(reason: "the text ends inside a value") }
                switch b {
                case 0x22:
                    _ = try string()
                    continue
                case 0x7B, 0x5B: depth += 1
                case 0x7D, 0x5D: depth -= 1
                default: break
                }
                position += 1
            } while depth > 0
        }

        mutating func number() throws(Failure) -> Value {
            let start = position
            let negative = peek == 0x2D
            if negative { position += 1 }
            let digitsStart = position
            while let b = peek, b >= 0x30 && b <= 0x39 { position += 1 }
            let digits = bytes[digitsStart..<position]
            guard !digits.isEmpty, digits.count == 1 || digits.first != 0x30 else {
                throw Failure(reason: "a malformed number at byte \(start + 1)")
            }
            var isInteger = true
            if peek == 0x2E {
                isInteger = false
                position += 1
                let fractionStart = position
                while let b = peek, b >= 0x30 && b <= 0x39 { position += 1 }
                guard position > fractionStart else { throw Failure(reason: "a malformed number at byte \(start + 1)") }
            }
            if peek == 0x65 || peek == 0x45 {
                isInteger = false
                position += 1
                if peek == 0x2B || peek == 0x2D { position += 1 }
                let exponentStart = position
                while let b = peek, b >= 0x30 && b <= 0x39 { position += 1 }
                guard position > exponentStart else { throw Failure(reason: "a malformed number at byte \(start + 1)") }
            }
            guard isInteger else { return .other }
            var value = 0
            for d in digits {
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(Int(d - 0x30))
                if o1 || o2 { return .integer(negative ? .min : .max) }
                value = sum
            }
            return .integer(negative ? -value : value)
        }

        mutating func string() throws(Failure) -> String {
            guard peek == 0x22 else { throw Failure(reason: "expected a string at byte \(position + 1)") }
            position += 1
            var out: [UInt8] = []
            while true {
                guard let b = peek else { throw Failure(reason: "a string is not closed") }
                position += 1
                switch b {
                case 0x22:
                    guard let text = String(validating: out, as: UTF8.self) else {
                        throw Failure(reason: "a string is not valid UTF-8")
                    }
                    return text
                case 0x5C:
                    try escape(into: &out)
                case 0x00..<0x20:
                    throw Failure(reason: "a control character inside a string")
                default:
                    out.append(b)
                }
            }
        }

        mutating func escape(into out: inout [UInt8]) throws(Failure) {
            guard let e = peek else { throw Failure(reason: "a string is not closed") }
            position += 1
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard peek == 0x5C, position + 1 < bytes.count, bytes[position + 1] == 0x75 else {
                        throw Failure(reason: "a lone surrogate in a string")
                    }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw Failure(reason: "a lone surrogate in a string") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw Failure(reason: "a lone surrogate in a string")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw Failure(reason: "an invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                throw Failure(reason: "an invalid escape in a string")
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard bytes.count - position >= 4 else { throw Failure(reason: "an invalid \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[position]
                position += 1
                let digit: UInt8
                switch b {
                case 0x30...0x39: digit = b - 0x30
                case 0x41...0x46: digit = b - 0x41 + 10
                case 0x61...0x66: digit = b - 0x61 + 10
                default: throw Failure(reason: "an invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
    }
}
