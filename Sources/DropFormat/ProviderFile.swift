public import Rules

/// A provider's data file in the inbox, named `{provider_id}_{YYYYMMDD}_{seq}.csv.zst` (settlement spec §3.1), with
/// its control file `{stem}.ctl`.
public struct ProviderFile: Sendable, Hashable {
    /// The data file's name, for people and the database (bytes that are not UTF-8 shown as `\xHH`).
    public let name: String
    /// The name without `.csv.zst`, shared by the control, result and error files (for people).
    public let stem: String
    /// The provider named by the file, when the name has the §3.1 form.
    public let provider: ProviderID?
    /// The stem's bytes as the file system holds them.
    public let stemBytes: [UInt8]
    /// What the inbox holds under the data file's name (`lstat`, nothing followed).
    public var dataKind: EntryKind = .regular
    /// What the inbox holds under the control file's name.
    public var controlKind: EntryKind = .regular

    /// The data file's suffix.
    public static let dataSuffix = ".csv.zst"
    /// The control file's suffix.
    public static let controlSuffix = ".ctl"

    /// A data file from its name; `provider` is nil when the name does not have the §3.1 form.
    public init(name: String) {
        self.init(stemBytes: Array(name.utf8.dropLast(Self.dataSuffix.utf8.count)))
    }

    /// A data file from its stem's bytes.
    public init(stemBytes: [UInt8]) {
        self.stemBytes = stemBytes
        self.name = EntryName(bytes: stemBytes + Array(Self.dataSuffix.utf8)).display
        self.stem = EntryName(bytes: stemBytes).display
        self.provider = String(validating: stemBytes, as: UTF8.self).flatMap(Self.parseProvider(stem:))
    }

    /// The data file's entry name.
    public var dataEntry: EntryName { EntryName(bytes: stemBytes + Array(Self.dataSuffix.utf8)) }
    /// The control file's entry name.
    public var controlEntry: EntryName { EntryName(bytes: stemBytes + Array(Self.controlSuffix.utf8)) }

    /// The control file's name.
    public var controlName: String { controlEntry.display }

    /// True when the name has the form of §3.1 (`BAD_NAME` otherwise).
    public var hasValidName: Bool { provider != nil }

    /// True when both halves are regular files as far as `lstat` tells (`NOT_A_FILE` otherwise).
    public var entriesAreFiles: Bool { dataKind == .regular && controlKind == .regular }

    /// The raw name when `name` shows it otherwise (not valid UTF-8, or a control character): the database keeps
    /// it to move the file later.
    ///
    /// Nil when `name` is the name.
    public var rawNameIfShownOtherwise: [UInt8]? { dataEntry.isShownAsIs ? nil : dataEntry.bytes }

    private static func parseProvider(stem: String) -> ProviderID? {
        let parts = stem.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, let provider = ProviderID(String(parts[0])) else { return nil }
        let date = Array(parts[1].utf8)
        let sequence = Array(parts[2].utf8)
        guard date.count == 8, sequence.count == 4, date.allSatisfy(isDigit), sequence.allSatisfy(isDigit) else {
            return nil
        }
        let number = { (slice: ArraySlice<UInt8>) in slice.reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        let year = number(date[0..<4])
        let month = number(date[4..<6])
        let day = number(date[6..<8])
        guard (2000...2099).contains(year), month >= 1, month <= 12, day >= 1,
            day <= RFC3339.daysInMonth(year: year, month: month)
        else {
            return nil
        }
        return provider
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}
