import Crypto
import DropFormat
import Localization

/// Limits on what one file and one run may hold (settlement spec §11.2).
public struct Limits: Sendable, Equatable, Codable {
    /// Longest line, in bytes before its line end.
    public var maxLineBytes = 4096
    /// Most decompressed bytes of one data file.
    public var maxFileBytes = 8 << 30
    /// Most data lines of one file (and most its control file may declare).
    public var maxFileRecords = 20_000_000
    /// Most records (by the control files) admitted into one run; the first file is always admitted.
    public var maxRunRecords = 20_000_000

    /// The defaults of the settlement spec.
    public init() {}

    /// What is wrong with these limits, or nil.
    public var validationError: String? {
        if maxLineBytes < 64 { return "limits.max_line_bytes must be at least 64" }
        if maxLineBytes > 1 << 24 { return "limits.max_line_bytes must be at most 16777216" }
        if maxFileBytes < 1 { return "limits.max_file_bytes must be positive" }
        if maxFileRecords < 1 || maxFileRecords > Int(Int32.max) {
            return "limits.max_file_records must be 1–2147483647"
        }
        if maxRunRecords < 1 { return "limits.max_run_records must be positive" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case maxLineBytes = "max_line_bytes"
        case maxFileBytes = "max_file_bytes"
        case maxFileRecords = "max_file_records"
        case maxRunRecords = "max_run_records"
    }

    /// Limits from a configuration file: keys left out keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxLineBytes = try c.decodeIfPresent(Int.self, forKey: .maxLineBytes) ?? maxLineBytes
        maxFileBytes = try c.decodeIfPresent(Int.self, forKey: .maxFileBytes) ?? maxFileBytes
        maxFileRecords = try c.decodeIfPresent(Int.self, forKey: .maxFileRecords) ?? maxFileRecords
        maxRunRecords = try c.decodeIfPresent(Int.self, forKey: .maxRunRecords) ?? maxRunRecords
    }
}

/// A control file as the run read it, before any check of the data file.
enum ControlRead: Sendable {
    /// Parsed; `sha256` is the control file's own digest (to deliver by content).
    case parsed(ControlFile, sha256: [UInt8])
    /// Read but unusable: what is wrong, for `BAD_CONTROL`.
    case invalid(ProviderMessage, sha256: [UInt8])
    /// Not a regular file after all (or a hard link): never read.
    case notAFile(EntryKind, hardLink: Bool)
    /// Gone since the inbox was read.
    case missing
    /// Not read: the name or the entries already decide the file.
    case unread

    /// The records the control file declares, for admission (0 when it declares none usable).
    var declaredRecords: Int {
        if case .parsed(let control, _) = self { return control.records }
        return 0
    }

    /// The control file's digest, when it was read.
    var sha256: [UInt8] {
        switch self {
        case .parsed(_, let digest), .invalid(_, let digest): digest
        default: []
        }
    }
}

/// A file a run takes on, with its control file already read.
struct AdmittedFile: Sendable {
    var file: ProviderFile
    var control: ControlRead
}

/// Which complete files one run takes on (settlement spec §11.2): in name order while the records their control
/// files declare stay within `maxRunRecords`; the first file is always admitted.
struct Admission {
    /// Files for this run.
    var admitted: [AdmittedFile] = []
    /// Complete files left for a later run, by name.
    var deferred: [String] = []

    /// The largest control file read, in bytes; a longer one is `BAD_CONTROL`.
    static let maxControlBytes = 1 << 16

    /// Reads the control files of `drop`'s complete files and admits them.
    static func admit(_ drop: Drop, inbox: String, limits: Limits) throws(SettlementError) -> Admission {
        var admission = Admission()
        var records = 0
        for file in drop.complete {
            let control = try readControl(of: file, inbox: inbox)
            let declared = control.declaredRecords <= limits.maxFileRecords ? control.declaredRecords : 0
            if !admission.admitted.isEmpty && (!admission.deferred.isEmpty || records + declared > limits.maxRunRecords)
            {
                admission.deferred.append(file.name)
                continue
            }
            records += declared
            admission.admitted.append(AdmittedFile(file: file, control: control))
        }
        return admission
    }

    /// Reads a control file, when the name and entries do not already decide the file.
    ///
    /// Throws only when the control file cannot be read, which is on the operator's side (settlement spec §11.3).
    static func readControl(of file: ProviderFile, inbox: String) throws(SettlementError) -> ControlRead {
        guard file.hasValidName, file.entriesAreFiles else { return .unread }
        switch FileOperations.openRegular(EntryPath(folder: inbox, name: file.controlEntry)) {
        case .failure(.notAFile(let kind, let hardLink)): return .notAFile(kind, hardLink: hardLink)
        case .failure(.missing): return .missing
        case .failure(.failed(let error)): throw SettlementError(error)
        case .success(let opened):
            do {
                return try read(opened, name: file.name)
            } catch {
                throw SettlementError(error)
            }
        }
    }

    /// Reads and parses an opened control file of at most ``maxControlBytes`` bytes.
    private static func read(_ opened: borrowing OpenedFile, name: String) throws(FileOperationError) -> ControlRead {
        guard let bytes = try opened.readAll(limit: maxControlBytes) else {
            return .invalid(.controlTooLarge, sha256: try opened.sha256())
        }
        let digest = SHA256.hash(bytes)
        switch ControlFile.parse(bytes) {
        case .success(let control) where control.file != name:
            return .invalid(.controlNamesOther(named: EntryName(control.file).display, expected: name), sha256: digest)
        case .success(let control): return .parsed(control, sha256: digest)
        case .failure(let error): return .invalid(error.reason, sha256: digest)
        }
    }
}
