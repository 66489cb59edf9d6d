import Foundation

/// A data file's control file (settlement spec §3.2).
public struct ControlFile: Sendable, Equatable {
    /// The format tag every control file carries.
    public static let format = "mynapoint-records/1"
    /// The data file it describes.
    public var file: String
    /// SHA-256 of the compressed data file, lower-case hex.
    public var sha256: String
    /// Number of data lines.
    public var records: Int
    /// Sum of `amount_yen` over the five-field data lines.
    public var amountTotal: Int

    /// A control file's contents.
    public init(file: String, sha256: String, records: Int, amountTotal: Int) {
        self.file = file
        self.sha256 = sha256.lowercased()
        self.records = records
        self.amountTotal = amountTotal
    }

    private struct Wire: Codable {
        var format: String
        var file: String
        var sha256: String
        var records: Int
        var amount_total: Int
    }

    /// Parses a control file, or says in one sentence what is wrong with it.
    public static func parse(_ bytes: [UInt8]) -> Result<ControlFile, ControlFileError> {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        } catch DecodingError.keyNotFound(let key, _) {
            return .failure(.init(message: "the control file has no \"\(key.stringValue)\" field"))
        } catch DecodingError.typeMismatch(_, let context) {
            let field = context.codingPath.last?.stringValue ?? "?"
            return .failure(.init(message: "the control file's \"\(field)\" field has the wrong type"))
        } catch {
            return .failure(.init(message: "the control file is not valid JSON"))
        }
        guard wire.format == format else {
            return .failure(.init(message: "the control file's format is not \"\(format)\""))
        }
        let hex = wire.sha256.utf8
        guard hex.count == 64,
            hex.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) })
        else {
            return .failure(.init(message: "the control file's sha256 is not 64 hex digits"))
        }
        guard wire.records >= 0, wire.amount_total >= 0 else {
            return .failure(.init(message: "the control file's records and amount_total must not be negative"))
        }
        return .success(
            ControlFile(file: wire.file, sha256: wire.sha256, records: wire.records, amountTotal: wire.amount_total))
    }

    /// The control file's JSON, as providers (and the generator) write it.
    public var json: String {
        "{\"format\": \"\(Self.format)\", \"file\": \"\(file)\", \"sha256\": \"\(sha256)\", "
            + "\"records\": \(records), \"amount_total\": \(amountTotal)}"
    }
}

/// Why a control file cannot be used.
public struct ControlFileError: Error, Sendable, Equatable {
    /// One sentence for the provider.
    public var message: String
}
