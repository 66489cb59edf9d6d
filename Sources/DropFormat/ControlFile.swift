public import Localization

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

    /// The keys of a control file, each exactly once and no other.
    static let keys: Set<String> = ["format", "file", "sha256", "records", "amount_total"]

    /// Parses a control file, or says in one sentence what is wrong with it.
    ///
    /// Strict on purpose (settlement spec §3.4): exactly the five keys, each once; `records` and `amount_total` are
    /// JSON integers written without fraction or exponent (`1.0` and `1e3` are refused). An integer too large for
    /// 64 bits is read as `Int.max`: it is a valid JSON integer that no file can match.
    public static func parse(_ bytes: [UInt8]) -> Result<ControlFile, ControlFileError> {
        let members: [(String, FlatJSON.Value)]
        do {
            members = try FlatJSON.parseObject(bytes)
        } catch {
            return .failure(.init(.controlNotJSON(detail: error.reason)))
        }
        var values: [String: FlatJSON.Value] = [:]
        for (key, value) in members {
            guard keys.contains(key) else {
                return .failure(.init(.controlForeignField(field: EntryName(key).display)))
            }
            guard values.updateValue(value, forKey: key) == nil else {
                return .failure(.init(.controlRepeatedField(field: key)))
            }
        }
        for key in ["format", "file", "sha256", "records", "amount_total"] where values[key] == nil {
            return .failure(.init(.controlMissingField(field: key)))
        }
        guard case .string(let formatTag) = values["format"]!, case .string(let file) = values["file"]!,
            case .string(let sha256) = values["sha256"]!
        else {
            return .failure(.init(.controlNotStrings))
        }
        guard case .integer(let records) = values["records"]!, case .integer(let amountTotal) = values["amount_total"]!
        else {
            return .failure(.init(.controlNotIntegers))
        }
        guard formatTag == format else {
            return .failure(.init(.controlFormat(format: format)))
        }
        let hex = sha256.utf8
        guard hex.count == 64,
            hex.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) })
        else {
            return .failure(.init(.controlDigest))
        }
        guard records >= 0, amountTotal >= 0 else {
            return .failure(.init(.controlNegative))
        }
        return .success(ControlFile(file: file, sha256: sha256, records: records, amountTotal: amountTotal))
    }

    /// The control file's JSON, as providers (and the generator) write it.
    public var json: String {
        "{\"format\": \"\(Self.format)\", \"file\": \"\(file)\", \"sha256\": \"\(sha256)\", "
            + "\"records\": \(records), \"amount_total\": \(amountTotal)}"
    }
}

/// Why a control file cannot be used.
public struct ControlFileError: Error, Sendable, Equatable {
    /// What is wrong, in words for the provider in any language.
    public var reason: ProviderMessage

    /// An error for `reason`.
    public init(_ reason: ProviderMessage) { self.reason = reason }

    /// One sentence in English (for `verify` and the operator's logs).
    public var message: String { reason.english }
}

/// A result file's control file (settlement spec §6): what the run wrote, for the provider to check the result
/// file against.
public struct ResultControl: Sendable, Equatable {
    /// The format tag every result control file carries.
    public static let format = "mynapoint-results/1"
    /// The result file it describes.
    public var file: String
    /// SHA-256 of the compressed result file, lower-case hex.
    public var sha256: String
    /// Rows in the result file.
    public var records: Int
    /// Rows with status `GRANTED`.
    public var grantedRecords: Int
    /// Sum of points over the rows.
    public var pointsTotal: Int

    /// A result control file's contents.
    public init(file: String, sha256: String, records: Int, grantedRecords: Int, pointsTotal: Int) {
        self.file = file
        self.sha256 = sha256
        self.records = records
        self.grantedRecords = grantedRecords
        self.pointsTotal = pointsTotal
    }

    /// The JSON the outbox holds, ending in a line feed; the keys are in the order of the spec's example.
    public var json: String {
        "{\"format\": \"\(Self.format)\", \"file\": \"\(file)\", \"sha256\": \"\(sha256)\", "
            + "\"records\": \(records), \"granted_records\": \(grantedRecords), \"points_total\": \(pointsTotal)}\n"
    }

    /// Reads a result control file, or says in one sentence what is wrong with it (for `verify`, which checks
    /// what was delivered).
    public static func parse(_ bytes: [UInt8]) -> Result<ResultControl, ControlFileError> {
        let members: [(String, FlatJSON.Value)]
        do {
            members = try FlatJSON.parseObject(bytes)
        } catch {
            return .failure(.init(.resultControlNotJSON(detail: error.reason)))
        }
        let values = Dictionary(members, uniquingKeysWith: { first, _ in first })
        guard case .string(let tag)? = values["format"], tag == format else {
            return .failure(.init(.resultControlFormat(format: format)))
        }
        guard case .string(let file)? = values["file"], case .string(let sha256)? = values["sha256"],
            case .integer(let records)? = values["records"], case .integer(let granted)? = values["granted_records"],
            case .integer(let points)? = values["points_total"]
        else {
            return .failure(.init(.resultControlIncomplete))
        }
        return .success(
            ResultControl(file: file, sha256: sha256, records: records, grantedRecords: granted, pointsTotal: points))
    }
}
