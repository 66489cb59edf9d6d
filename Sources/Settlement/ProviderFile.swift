public import Rules

/// A provider's data file in the inbox, named `{provider_id}_{YYYYMMDD}_{seq}.csv.zst` (settlement spec §3.1).
public struct ProviderFile: Sendable, Hashable {
    /// The data file's name, e.g. `P0001_20201001_0001.csv.zst`.
    public let name: String
    /// The name without `.csv.zst`, shared by the control, result and error files.
    public let stem: String
    /// The provider named by the file, when the name has the §3.1 form.
    public let provider: ProviderID?

    static let dataSuffix = ".csv.zst"
    static let controlSuffix = ".ctl"

    /// A data file from its name; `provider` is nil when the name does not have the §3.1 form.
    public init(name: String) {
        self.name = name
        self.stem = String(name.dropLast(Self.dataSuffix.count))
        self.provider = Self.parseProvider(stem: stem)
    }

    /// The control file's name.
    public var controlName: String { stem + Self.controlSuffix }

    /// True when the name has the form of §3.1 (`BAD_NAME` otherwise).
    public var hasValidName: Bool { provider != nil }

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
        guard month >= 1, month <= 12, day >= 1, day <= RFC3339.daysInMonth(year: year, month: month) else {
            return nil
        }
        return provider
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}
