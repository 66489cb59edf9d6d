extension ProviderMessage {
    /// The message in English.
    public var english: String {
        switch self {
        case .badName(let file):
            "the file name \(file) is not {provider_id}_{YYYYMMDD}_{seq}.csv.zst with a real date (2000–2099) and a 4-digit sequence; rename it and send it again"
        case .notAFile(let name, let entry):
            "\(name) is \(ProviderMessage.entry(entry).english), not a regular file, so nothing was read from it; upload the file itself under a temporary name and rename it, control file last"
        case .unknownProvider(let provider):
            "provider \(provider) is not registered; register it (registry import) before its files are settled"
        case .badControl(let control, let problem): "\(control): \(problem.english); send a corrected control file"
        case .checksumMismatch(let file, let digest, let declared):
            "the SHA-256 of \(file) is \(digest), the control file says \(declared); upload the file again (it may be incomplete), control file last"
        case .nameReused(let file):
            "a file named \(file) with other content was settled before; send new records under a new sequence number"
        case .declaresTooMany(let records, let limit):
            "the control file declares \(records) records, more than the \(limit) one file may hold; split the records over several files"
        case .badCompression(let file, let detail):
            "\(file) is not a complete, valid zstd stream (\(detail)); compress it again with zstd and resend"
        case .lineTooLong(let file, let line, let limit):
            "line \(line) of \(file) is longer than \(limit) bytes; no valid record is that long — correct the line and resend the file"
        case .decompressesTooLarge(let file, let limit):
            "\(file) decompresses to more than \(limit) bytes; split the records over several files"
        case .tooManyLines(let file, let limit, let line):
            "\(file) has more than \(limit) data lines (line \(line) is beyond); split the records over several files"
        case .badHeader(let file):
            "the first line of \(file) must be exactly record_id,mykey_id,kind,amount_yen,occurred_at"
        case .badAmount(let line):
            "line \(line) has an amount_yen that is not a whole number of yen from 1 to 999999999; correct it and resend the file"
        case .beyondDeclared(let file, let declared, let line):
            "\(file) has more data lines than the \(declared) its control file declares (line \(line) is the first beyond); resend a matching pair"
        case .lineCount(let file, let lines, let declared):
            "\(file) has \(lines) data lines, the control file says \(declared); resend a matching pair"
        case .amountTotal(let file, let total, let declared):
            "the amounts of \(file) add up to \(total) yen, the control file says \(declared); resend a matching pair"
        case .controlTooLarge: "the control file is larger than 64 KiB"
        case .controlNamesOther(let named, let expected): "the control file names \(named), not \(expected)"
        case .controlNotJSON(let detail): "the control file is not valid JSON (\(detail))"
        case .controlForeignField(let field): "the control file has a field \"\(field)\" that does not belong there"
        case .controlRepeatedField(let field): "the control file has the field \"\(field)\" more than once"
        case .controlMissingField(let field): "the control file has no \"\(field)\" field"
        case .controlNotStrings: "the control file's format, file and sha256 must be JSON strings"
        case .controlNotIntegers:
            "the control file's records and amount_total must be JSON integers (no fraction, no exponent)"
        case .controlFormat(let format): "the control file's format is not \"\(format)\""
        case .controlDigest: "the control file's sha256 is not 64 hex digits"
        case .controlNegative: "the control file's records and amount_total must not be negative"
        case .resultControlNotJSON(let detail): "the result control file is not valid JSON (\(detail))"
        case .resultControlFormat(let format): "the result control file's format is not \"\(format)\""
        case .resultControlIncomplete:
            "the result control file lacks one of file, sha256, records, granted_records and points_total"
        case .entry(let entry): Self.english(entry)
        case .waitingForData(let control):
            "the data file of \(control) is not there; settle leaves the control file until it arrives (upload the data file first, control file last)"
        case .waitingForControl(let file):
            "\(file) has no control file yet; settle leaves it until the control file arrives (upload it last)"
        case .duplicateAdvice:
            "the record_id appeared on an earlier line of this provider's files checked together; a record is settled once — remove the repeat, or give a different record its own record_id"
        case .outOfWindowAdvice(let start, let end):
            "occurred_at is outside the campaign window, \(start) (inclusive) to \(end) (exclusive); the record will be rejected and earns nothing"
        case .badQuotingAdvice:
            "a quote is not closed, or a closing quote is followed by something other than a comma" + Self.resend
        case .fieldCountAdvice(let found):
            "the line has \(found.map { "\($0)" } ?? "more than 5") fields, not the 5 of record_id,mykey_id,kind,amount_yen,occurred_at (quote a field that holds a comma)"
                + Self.resend
        case .recordIDAdvice: "record_id must be 1–64 of A–Z a–z 0–9 . _ -" + Self.resend
        case .individualNumberAdvice:
            "mykey_id holds 12 digits, the shape of a My Number, which must never be sent (it is echoed nowhere); put the holder's MyKey ID, 8 of A–Z 0–9"
                + Self.resend
        case .myKeyIDAdvice: "mykey_id must be exactly 8 of A–Z 0–9 (no lowercase, no spaces)" + Self.resend
        case .kindAdvice: "kind must be charge or purchase" + Self.resend
        case .occurredAtAdvice:
            "occurred_at must be RFC 3339 with seconds and an offset, such as 2020-10-01T12:34:56+09:00, and a real date and time"
                + Self.resend
        case .malformedAdvice: "a field is not in its valid form" + Self.resend
        case .checkAccepted(let file, let records, let rejected):
            "\(file): accept, \(records) records" + (rejected.isEmpty ? "" : "; rejected lines: \(rejected)")
        case .checkProblem(let line, let record, let code, let field, let advice):
            "line \(line) (result row \(record)) \(code)\(field.map { " \($0)" } ?? ""): \(advice.english)"
        case .checkMore(let count): "… and \(count) more"
        case .checkQuarantined(let file, let code, let line, let reason):
            "\(file): quarantine \(code)\(line.map { " (line \($0))" } ?? ""): \(reason.english)"
        case .checkWaiting(let file, let reason): "\(file): waiting: \(reason.english)"
        case .checkIgnored(let names): "left alone (named like no drop file): \(names)"
        case .checkTotal(let files, let accepted, let quarantined, let waiting):
            "\(files) file(s): \(accepted) accept, \(quarantined) quarantine, \(waiting) waiting"
        case .packWrote(let data, let control, let records, let amountTotal):
            "wrote \(data) and \(control): \(records) records, \(amountTotal) yen"
        case .packRefused: "refused, nothing was written"
        }
    }

    /// How every advice on a `MALFORMED` line ends.
    private static let resend = "; correct it and send the record again, in a new file, under the same record_id"

    /// What an entry is, in English.
    private static func english(_ entry: Entry) -> String {
        switch entry {
        case .regular: "a regular file"
        case .hardLink: "a file with other names (a hard link)"
        case .symbolicLink: "a symbolic link"
        case .directory: "a directory"
        case .fifo: "a FIFO (named pipe)"
        case .socket: "a socket"
        case .device: "a device"
        case .missing: "missing"
        }
    }
}
