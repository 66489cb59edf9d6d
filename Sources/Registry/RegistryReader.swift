import Foundation
public import Ledger
import Rules
import Zstd

/// Reads a registry folder (settlement spec §8): `providers.csv`, `holders.csv`, `certificates.csv` and the
/// optional `mykey_changes.csv`, each plain or `.csv.zst`, checking every line before anything is loaded.
///
/// A file is checked whole (header, then every line's fields) before its values are, and the files are read in
/// that order, so the first problem reported is the first a reader of the files in that order meets.
public enum RegistryReader {
    /// Reads and checks the folder; the first bad line ends the read with its file, line and field.
    public static func read(directory: String) throws(RegistryInputError) -> RegistryLoad {
        var load = RegistryLoad()
        var found = false
        if let file = try RegistryFile.read(directory, "providers", header: "provider_id,name") {
            found = true
            load.providers = try providers(file)
        }
        if let file = try RegistryFile.read(directory, "holders", header: "mykey_id,status,provider_id,applied_at") {
            found = true
            load.holders = try holders(file)
        }
        if let file = try RegistryFile.read(
            directory, "certificates", header: "serial,mykey_id,not_before,not_after,revoked_at",
            orHeader: "serial,mykey_id,not_before,not_after,revoked_at,issuer")
        {
            found = true
            load.certificates = try certificates(file)
        }
        if let file = try RegistryFile.read(directory, "mykey_changes", header: "old_mykey_id,new_mykey_id,changed_at")
        {
            found = true
            load.changes = try changes(file)
        }
        guard found else {
            throw RegistryInputError(
                .notFound, file: directory,
                message:
                    "no registry file found (providers.csv, holders.csv, certificates.csv, mykey_changes.csv, plain or .zst)",
                remedy: RegistryInputError.registryRemedy)
        }
        return load
    }

    private static func providers(_ file: RegistryFile) throws(RegistryInputError) -> [RegistryLoad.Provider] {
        var seen = Set<ProviderID>()
        var providers: [RegistryLoad.Provider] = []
        for (number, f) in file.rows {
            guard let id = ProviderID(f[0]) else {
                throw file.bad(number, "provider_id", "provider_id \"\(f[0])\" is not 1–16 of A–Z 0–9")
            }
            guard !f[1].isEmpty else { throw file.bad(number, "name", "name is empty") }
            guard seen.insert(id).inserted else {
                throw file.bad(number, "provider_id", "provider \(id) appears twice", code: .duplicate)
            }
            providers.append(.init(id: id, name: f[1]))
        }
        return providers
    }

    private static func holders(_ file: RegistryFile) throws(RegistryInputError) -> [RegistryLoad.Holder] {
        var holders: [RegistryLoad.Holder] = []
        for (number, f) in file.rows {
            guard let myKey = MyKeyID(f[0]) else { throw file.bad(number, "mykey_id", "mykey_id is not 8 of A–Z 0–9") }
            guard let status = HolderStatus(name: f[1]) else {
                throw file.bad(number, "status", "status \"\(f[1])\" is not active, suspended or revoked")
            }
            var application: (provider: ProviderID, at: Instant)?
            switch (f[2].isEmpty, f[3].isEmpty) {
            case (true, true):
                application = nil
            case (false, false):
                guard let provider = ProviderID(f[2]) else {
                    throw file.bad(number, "provider_id", "provider_id \"\(f[2])\" is not 1–16 of A–Z 0–9")
                }
                guard let at = RFC3339.parse(f[3]) else {
                    throw file.bad(
                        number, "applied_at", "applied_at \"\(f[3])\" is not an RFC 3339 time with seconds and offset")
                }
                application = (provider, at)
            default:
                throw file.bad(number, "provider_id", "provider_id and applied_at must both be given or both be empty")
            }
            holders.append(.init(myKey: myKey, status: status, application: application, line: number))
        }
        return holders
    }

    private static func certificates(_ file: RegistryFile) throws(RegistryInputError) -> [RegistryLoad.Certificate] {
        var certificates: [RegistryLoad.Certificate] = []
        for (number, f) in file.rows {
            let serial = f[0]
            guard !serial.isEmpty, serial.utf8.count <= 40,
                serial.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) }),
                serial == "0" || !serial.hasPrefix("0")
            else {
                throw file.bad(
                    number, "serial", "serial \"\(serial)\" is not upper-case hex of 1–40 digits without leading zeros")
            }
            guard let myKey = MyKeyID(f[1]) else { throw file.bad(number, "mykey_id", "mykey_id is not 8 of A–Z 0–9") }
            let validity = try validity(f, file: file, line: number)
            // The optional issuer column: empty (or absent) means the import's configured issuer.
            let issuer = f.count > 5 && !f[5].isEmpty ? f[5] : nil
            certificates.append(.init(serial: serial, issuer: issuer, myKey: myKey, validity: validity, line: number))
        }
        return certificates
    }

    /// `not_before`, `not_after` and `revoked_at` of a certificate row.
    private static func validity(
        _ f: [String], file: RegistryFile, line number: Int
    ) throws(RegistryInputError) -> CertificateValidity {
        guard let notBefore = RFC3339.parse(f[2]) else {
            throw file.bad(number, "not_before", "not_before is not an RFC 3339 time")
        }
        guard let notAfter = RFC3339.parse(f[3]) else {
            throw file.bad(number, "not_after", "not_after is not an RFC 3339 time")
        }
        guard notBefore < notAfter else { throw file.bad(number, "not_before", "not_before must be before not_after") }
        var revokedAt: Instant?
        if !f[4].isEmpty {
            guard let at = RFC3339.parse(f[4]) else {
                throw file.bad(number, "revoked_at", "revoked_at is not an RFC 3339 time")
            }
            revokedAt = at
        }
        return CertificateValidity(notBefore: notBefore, notAfter: notAfter, revokedAt: revokedAt)
    }

    private static func changes(_ file: RegistryFile) throws(RegistryInputError) -> [RegistryLoad.Change] {
        var changes: [RegistryLoad.Change] = []
        for (number, f) in file.rows {
            guard let old = MyKeyID(f[0]) else {
                throw file.bad(number, "old_mykey_id", "old_mykey_id is not 8 of A–Z 0–9")
            }
            guard let new = MyKeyID(f[1]) else {
                throw file.bad(number, "new_mykey_id", "new_mykey_id is not 8 of A–Z 0–9")
            }
            guard let at = RFC3339.parse(f[2]) else {
                throw file.bad(number, "changed_at", "changed_at is not an RFC 3339 time")
            }
            changes.append(.init(old: old, new: new, at: at, line: number))
        }
        return changes
    }
}

/// One registry file, read whole and split: its name as found in the folder and its data lines with their
/// numbers (the header, checked, is line 1).
struct RegistryFile {
    /// `NAME.csv` or `NAME.csv.zst`.
    var name: String
    /// The data lines that are not empty, each with its number and as many fields as the header has.
    var rows: [(Int, [String])] = []

    /// The file `NAME.csv` or, when there is none, `NAME.csv.zst` of `directory`, its header checked and every line
    /// split into the header's number of UTF-8 fields; nil when neither file is there.
    ///
    /// With `orHeader`, the file may
    /// have that header (and its number of fields) instead.
    static func read(
        _ directory: String, _ name: String, header: String, orHeader: String? = nil
    ) throws(RegistryInputError) -> RegistryFile? {
        guard let found = try contents(directory, name) else { return nil }
        var file = found.file
        var fields = fieldCount(header)
        let lines = try CSVText.forEachLine(in: found.bytes) { (line, number) throws(RegistryInputError) in
            if number == 1 {
                var text = line
                if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = UnsafeRawBufferPointer(rebasing: text.dropFirst(3)) }
                if let orHeader, text.elementsEqual(orHeader.utf8) {
                    fields = fieldCount(orHeader)
                } else if !text.elementsEqual(header.utf8) {
                    let allowed = orHeader.map { "\(header) or \($0)" } ?? "exactly \(header)"
                    throw file.bad(1, nil, "the header must be \(allowed)", code: .badHeader)
                }
                return
            }
            if line.isEmpty { return }
            let values = try file.split(line, number, fields: fields)
            file.rows.append((number, values))
        }
        guard lines > 0 else {
            throw file.bad(nil, nil, "the file is empty; it needs at least the header", code: .badHeader)
        }
        return file
    }

    /// The bytes of `NAME.csv`, else of `NAME.csv.zst` decompressed; nil when neither is there.
    private static func contents(
        _ directory: String, _ name: String
    ) throws(RegistryInputError) -> (file: RegistryFile, bytes: [UInt8])? {
        let plain = directory + "/" + name + ".csv"
        if let data = FileManager.default.contents(atPath: plain) {
            return (RegistryFile(name: name + ".csv"), Array(data))
        }
        guard let data = FileManager.default.contents(atPath: plain + ".zst") else { return nil }
        let file = RegistryFile(name: name + ".csv.zst")
        do {
            return (file, try Zstd.decompress(Array(data)))
        } catch {
            throw file.bad(nil, nil, "not a valid zstd file (\(error))", code: .notDecodable)
        }
    }

    private static func fieldCount(_ header: String) -> Int {
        header.utf8.count(where: { $0 == UInt8(ascii: ",") }) + 1
    }

    /// The `fields` fields of a data line, each valid UTF-8.
    private func split(
        _ line: UnsafeRawBufferPointer, _ number: Int, fields: Int
    ) throws(RegistryInputError) -> [String] {
        // Files of up to five fields have always said which field is not UTF-8; the wider certificates.csv (with
        // its issuer column) says so for the line.
        let wide = fields > 5
        let expected = "expected \(fields) comma-separated \(wide ? "UTF-8 " : "")fields"
        guard let decoded = CSVText.fields(of: line), decoded.count == fields else {
            throw bad(number, nil, expected, code: .badLine)
        }
        var values: [String] = []
        values.reserveCapacity(fields)
        for (index, value) in decoded.enumerated() {
            guard let value else {
                throw bad(number, nil, wide ? expected : "field \(index + 1) is not valid UTF-8", code: .badLine)
            }
            values.append(value)
        }
        return values
    }

    /// A problem of this file.
    func bad(
        _ line: Int?, _ field: String?, _ message: String, code: RegistryInputError.Code = .badValue
    ) -> RegistryInputError {
        RegistryInputError(
            code, file: name, line: line, field: field, message: message, remedy: RegistryInputError.registryRemedy)
    }
}
