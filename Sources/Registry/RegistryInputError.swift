/// A registry input that cannot be used (a registry folder's CSV files, the reissue/renewal feed, a link given on
/// the command line): what is wrong, where (file, line, field) and what to do.
///
/// Nothing was loaded.
public struct RegistryInputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Code: Sendable, Equatable {
        /// No input was found: a folder without registry files, a feed that cannot be read.
        case notFound
        /// A compressed file that does not decompress.
        case notDecodable
        /// The first line is not the header the file must start with, or the file has no line at all.
        case badHeader
        /// A line that does not split into the fields the file has.
        case badLine
        /// A field whose value is not allowed.
        case badValue
        /// A value given twice where it must be given once.
        case duplicate
        /// An input without a single record where one is needed.
        case noRecords
    }

    /// What kind of problem it is.
    public var code: Code
    /// The file, as named in the folder or given on the command line; nil for values given on the command line.
    public var file: String?
    /// The line, 1 being the header; nil when the problem is not one line's.
    public var line: Int?
    /// The field (the column's name) at fault; nil when the problem is not one field's.
    public var field: String?
    /// What is wrong, naming the field when there is one.
    public var message: String
    /// What was (not) done and what to do.
    public var remedy: String

    /// A problem with its place, what is wrong and what to do.
    public init(
        _ code: Code, file: String?, line: Int? = nil, field: String? = nil, message: String, remedy: String
    ) {
        self.code = code
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        self.remedy = remedy
    }

    /// One line: `FILE:LINE: what is wrong; what to do`.
    public var description: String {
        let place = file.map { $0 + (line.map { ":\($0)" } ?? "") + ": " } ?? ""
        return place + message + "; " + remedy
    }
}

extension RegistryInputError {
    /// The remedy for a registry folder: the import is all or nothing.
    static let registryRemedy = "nothing was imported — correct the file and run the import again"
    /// The remedy for a reissue/renewal feed: it links all or nothing.
    static let feedRemedy = "nothing was linked — correct the feed and run it again"
    /// The remedy for a link given on the command line.
    static let commandLineRemedy = "nothing was linked — correct the value and run the command again"
}
