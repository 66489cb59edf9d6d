import Foundation
public import Ledger
import Rules

/// The reissue/renewal feed (registration spec §3): which new card's certificate belongs to the holder of an old
/// one, so that the new card counts before it is first presented.
///
/// A CSV text: the header `old_serial,new_serial,not_before,not_after`, then one link per line with two fields (the
/// serials) or four (with the new certificate's validity, RFC 3339, both or neither). Fields are trimmed of spaces;
/// serials are read by `CertificateID.serial(parsing:)`. Both serials are of one issuer, the caller's.
/// Lines are numbered from the header (line 1); an empty line inside the feed is an error, empty lines at its end
/// are not.
public enum LinkFeed {
    /// The header line a feed starts with (only its first field is checked).
    public static let header = "old_serial,new_serial,not_before,not_after"

    /// Reads and parses the feed at `path`; errors name the file as given.
    public static func read(path: String, issuer: String) throws(RegistryInputError) -> [CertificateLink] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistryInputError(
                .notFound, file: path, message: "the feed cannot be read (no such file, or no permission)",
                remedy: "nothing was linked — give the path of a readable feed")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path, issuer: issuer)
    }

    /// Parses a feed's text; `file` names it in errors.
    ///
    /// At least one link is required.
    public static func parse(
        _ text: String, file: String, issuer: String
    ) throws(RegistryInputError) -> [CertificateLink] {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first, first.split(separator: ",").first == "old_serial" else {
            throw RegistryInputError(
                .badHeader, file: file, line: 1, message: "the first line must be the header \(header)",
                remedy: RegistryInputError.feedRemedy)
        }
        var links: [CertificateLink] = []
        for (index, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                String($0).trimmingCharacters(in: .whitespaces)
            }
            guard fields.count == 2 || fields.count == 4 else {
                throw RegistryInputError(
                    .badLine, file: file, line: index + 1, message: "expected 2 or 4 comma-separated fields",
                    remedy: RegistryInputError.feedRemedy)
            }
            let notBefore = fields.count == 4 && !fields[2].isEmpty ? fields[2] : nil
            let notAfter = fields.count == 4 && !fields[3].isEmpty ? fields[3] : nil
            links.append(
                try link(
                    old: fields[0], new: fields[1], notBefore: notBefore, notAfter: notAfter, issuer: issuer,
                    place: (file, index + 1)))
        }
        guard !links.isEmpty else {
            throw RegistryInputError(
                .noRecords, file: file, message: "the feed holds no links, only its header",
                remedy: RegistryInputError.feedRemedy)
        }
        return links
    }

    /// One link given on the command line: the serials, and the new certificate's validity (both or neither).
    public static func link(
        old: String, new: String, notBefore: String?, notAfter: String?, issuer: String
    ) throws(RegistryInputError) -> CertificateLink {
        try link(old: old, new: new, notBefore: notBefore, notAfter: notAfter, issuer: issuer, place: nil)
    }

    /// One link of a feed's line (`place`: the file and line) or of the command line (`place` nil).
    private static func link(
        old: String, new: String, notBefore: String?, notAfter: String?, issuer: String,
        place: (file: String, line: Int)?
    ) throws(RegistryInputError) -> CertificateLink {
        func bad(_ field: String, _ message: String) -> RegistryInputError {
            RegistryInputError(
                .badValue, file: place?.file, line: place?.line, field: field, message: message,
                remedy: place == nil ? RegistryInputError.commandLineRemedy : RegistryInputError.feedRemedy)
        }
        guard let oldSerial = CertificateID.serial(parsing: old) else {
            throw bad("old_serial", "old_serial is not 1–40 hexadecimal digits")
        }
        guard let newSerial = CertificateID.serial(parsing: new) else {
            throw bad("new_serial", "new_serial is not 1–40 hexadecimal digits")
        }
        guard oldSerial != newSerial else { throw bad("new_serial", "new_serial is the same as old_serial") }
        var validity: (notBefore: Instant, notAfter: Instant)?
        if notBefore != nil || notAfter != nil {
            guard let notBefore, let notAfter else {
                throw bad("not_before", "not_before and not_after must both be given or both be empty")
            }
            guard let from = RFC3339.parse(notBefore) else {
                throw bad("not_before", "not_before is not an RFC 3339 time")
            }
            guard let until = RFC3339.parse(notAfter) else {
                throw bad("not_after", "not_after is not an RFC 3339 time")
            }
            guard from < until else { throw bad("not_before", "not_before must be before not_after") }
            validity = (from, until)
        }
        return CertificateLink(
            old: CertificateID(issuer: issuer, serial: oldSerial),
            new: CertificateID(issuer: issuer, serial: newSerial),
            validity: validity, line: place?.line ?? 0)
    }
}
