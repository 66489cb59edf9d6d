/// What a provider reads about its files: why a file was quarantined, what is wrong with a control file, and
/// `check`'s verdicts and advice.
///
/// The provider's language is the configuration's `provider_language`; codes, file names, field names and numbers
/// are the same in every language.
public indirect enum ProviderMessage: LocalizedMessage, Equatable {
    /// `BAD_NAME`: the name is not `{provider_id}_{YYYYMMDD}_{seq}.csv.zst`.
    case badName(file: String)
    /// `NOT_A_FILE`: an entry of the pair is something other than a regular file with one name.
    case notAFile(name: String, entry: Entry)
    /// `UNKNOWN_PROVIDER`.
    case unknownProvider(provider: String)
    /// `BAD_CONTROL`: the control file cannot be used, for the reason `problem` gives.
    case badControl(control: String, problem: ProviderMessage)
    /// `CHECKSUM_MISMATCH`.
    case checksumMismatch(file: String, digest: String, declared: String)
    /// `NAME_REUSED`.
    case nameReused(file: String)
    /// `TOO_LARGE`: the control file declares more records than one file may hold.
    case declaresTooMany(records: Int, limit: Int)
    /// `BAD_COMPRESSION`: not one complete, valid zstd stream; `detail` is the decompressor's own words.
    case badCompression(file: String, detail: String)
    /// `TOO_LARGE`: a line longer than `max_line_bytes`.
    case lineTooLong(file: String, line: Int, limit: Int)
    /// `TOO_LARGE`: more decompressed bytes than `max_file_bytes`.
    case decompressesTooLarge(file: String, limit: Int)
    /// `TOO_LARGE`: more data lines than `max_file_records`.
    case tooManyLines(file: String, limit: Int, line: Int)
    /// `BAD_HEADER`.
    case badHeader(file: String)
    /// `CONTROL_MISMATCH`: an `amount_yen` that cannot be added up.
    case badAmount(line: Int)
    /// `CONTROL_MISMATCH`: a data line beyond the records the control file declares.
    case beyondDeclared(file: String, declared: Int, line: Int)
    /// `CONTROL_MISMATCH`: fewer data lines than declared.
    case lineCount(file: String, lines: Int, declared: Int)
    /// `CONTROL_MISMATCH`: the amounts do not add up to `amount_total`.
    case amountTotal(file: String, total: Int, declared: Int)

    /// A control file longer than the 64 KiB one is read up to.
    case controlTooLarge
    /// A control file that describes another data file.
    case controlNamesOther(named: String, expected: String)
    /// A control file that is not JSON; `detail` is the parser's own words.
    case controlNotJSON(detail: String)
    /// A control file with a key that does not belong there.
    case controlForeignField(field: String)
    /// A control file with a key twice.
    case controlRepeatedField(field: String)
    /// A control file without one of its keys.
    case controlMissingField(field: String)
    /// `format`, `file` or `sha256` that is not a JSON string.
    case controlNotStrings
    /// `records` or `amount_total` that is not a JSON integer.
    case controlNotIntegers
    /// A format tag other than `format`.
    case controlFormat(format: String)
    /// A `sha256` that is not 64 hex digits.
    case controlDigest
    /// A negative `records` or `amount_total`.
    case controlNegative
    /// A result control file that is not JSON; `detail` is the parser's own words.
    case resultControlNotJSON(detail: String)
    /// A result control file with a format tag other than `format`.
    case resultControlFormat(format: String)
    /// A result control file without one of its keys.
    case resultControlIncomplete

    /// What an entry is, when it is not a regular file.
    case entry(Entry)

    /// `check`: a control file whose data file is not there yet.
    case waitingForData(control: String)
    /// `check`: a data file whose control file is not there yet.
    case waitingForControl(file: String)
    /// `check`: a `DUPLICATE` line.
    case duplicateAdvice
    /// `check`: an `OUT_OF_WINDOW` line; the window's ends in Japan time.
    case outOfWindowAdvice(start: String, end: String)
    /// `check`: a `MALFORMED` line whose quoting is broken.
    case badQuotingAdvice
    /// `check`: a `MALFORMED` line with `found` fields (nil: more than five).
    case fieldCountAdvice(found: Int?)
    /// `check`: a `MALFORMED` `record_id`.
    case recordIDAdvice
    /// `check`: a `mykey_id` that has the shape of an individual number (never echoed).
    case individualNumberAdvice
    /// `check`: a `MALFORMED` `mykey_id`.
    case myKeyIDAdvice
    /// `check`: a `MALFORMED` `kind`.
    case kindAdvice
    /// `check`: a `MALFORMED` `occurred_at`.
    case occurredAtAdvice
    /// `check`: a `MALFORMED` line whose field at fault was not kept.
    case malformedAdvice

    /// `check`'s line for an accepted file; `rejected` lists the reasons and their counts, or is empty.
    case checkAccepted(file: String, records: Int, rejected: String)
    /// `check`'s line for a problem line of an accepted file.
    case checkProblem(line: Int, record: Int, code: String, field: String?, advice: ProviderMessage)
    /// `check`'s line for the problems not shown.
    case checkMore(count: Int)
    /// `check`'s line for a quarantined file.
    case checkQuarantined(file: String, code: String, line: Int?, reason: ProviderMessage)
    /// `check`'s line for a waiting file.
    case checkWaiting(file: String, reason: ProviderMessage)
    /// `check`'s line for the entries named like no drop file.
    case checkIgnored(names: String)
    /// `check`'s total line.
    case checkTotal(files: Int, accepted: Int, quarantined: Int, waiting: Int)
    /// `pack`'s line for a pair it wrote.
    case packWrote(data: String, control: String, records: Int, amountTotal: Int)
    /// `pack`'s words before `check`'s verdict on a pair it refused.
    case packRefused

    /// What an entry found instead of a regular file is (`EntryKind`'s words).
    public enum Entry: Sendable, Equatable, CaseIterable {
        /// A regular file with one name.
        case regular
        /// A regular file with more than one name.
        case hardLink
        /// A symbolic link.
        case symbolicLink
        /// A directory.
        case directory
        /// A FIFO (named pipe).
        case fifo
        /// A socket.
        case socket
        /// A block or character device.
        case device
        /// Nothing by that name.
        case missing
    }

    /// The message's kind.
    public enum Key: CaseIterable, Hashable, Sendable {
        case badName, notAFile, unknownProvider, badControl, checksumMismatch, nameReused, declaresTooMany
        case badCompression, lineTooLong, decompressesTooLarge, tooManyLines, badHeader, badAmount, beyondDeclared
        case lineCount, amountTotal
        case controlTooLarge, controlNamesOther, controlNotJSON, controlForeignField, controlRepeatedField
        case controlMissingField, controlNotStrings, controlNotIntegers, controlFormat, controlDigest, controlNegative
        case resultControlNotJSON, resultControlFormat, resultControlIncomplete
        case entry
        case waitingForData, waitingForControl, duplicateAdvice, outOfWindowAdvice, badQuotingAdvice
        case fieldCountAdvice, recordIDAdvice, individualNumberAdvice, myKeyIDAdvice, kindAdvice, occurredAtAdvice
        case malformedAdvice
        case checkAccepted, checkProblem, checkMore, checkQuarantined, checkWaiting, checkIgnored, checkTotal
        case packWrote, packRefused
    }

    /// The message's kind.
    public var key: Key {
        switch self {
        case .badName: .badName
        case .notAFile: .notAFile
        case .unknownProvider: .unknownProvider
        case .badControl: .badControl
        case .checksumMismatch: .checksumMismatch
        case .nameReused: .nameReused
        case .declaresTooMany: .declaresTooMany
        case .badCompression: .badCompression
        case .lineTooLong: .lineTooLong
        case .decompressesTooLarge: .decompressesTooLarge
        case .tooManyLines: .tooManyLines
        case .badHeader: .badHeader
        case .badAmount: .badAmount
        case .beyondDeclared: .beyondDeclared
        case .lineCount: .lineCount
        case .amountTotal: .amountTotal
        case .controlTooLarge: .controlTooLarge
        case .controlNamesOther: .controlNamesOther
        case .controlNotJSON: .controlNotJSON
        case .controlForeignField: .controlForeignField
        case .controlRepeatedField: .controlRepeatedField
        case .controlMissingField: .controlMissingField
        case .controlNotStrings: .controlNotStrings
        case .controlNotIntegers: .controlNotIntegers
        case .controlFormat: .controlFormat
        case .controlDigest: .controlDigest
        case .controlNegative: .controlNegative
        case .resultControlNotJSON: .resultControlNotJSON
        case .resultControlFormat: .resultControlFormat
        case .resultControlIncomplete: .resultControlIncomplete
        case .entry: .entry
        case .waitingForData: .waitingForData
        case .waitingForControl: .waitingForControl
        case .duplicateAdvice: .duplicateAdvice
        case .outOfWindowAdvice: .outOfWindowAdvice
        case .badQuotingAdvice: .badQuotingAdvice
        case .fieldCountAdvice: .fieldCountAdvice
        case .recordIDAdvice: .recordIDAdvice
        case .individualNumberAdvice: .individualNumberAdvice
        case .myKeyIDAdvice: .myKeyIDAdvice
        case .kindAdvice: .kindAdvice
        case .occurredAtAdvice: .occurredAtAdvice
        case .malformedAdvice: .malformedAdvice
        case .checkAccepted: .checkAccepted
        case .checkProblem: .checkProblem
        case .checkMore: .checkMore
        case .checkQuarantined: .checkQuarantined
        case .checkWaiting: .checkWaiting
        case .checkIgnored: .checkIgnored
        case .checkTotal: .checkTotal
        case .packWrote: .packWrote
        case .packRefused: .packRefused
        }
    }
}
