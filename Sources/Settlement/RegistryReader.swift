import Foundation
public import Ledger
import Rules
import Zstd

/// Reads a registry folder (settlement spec §8): `providers.csv`, `holders.csv`, `certificates.csv` and the
/// optional `mykey_changes.csv`, each plain or `.csv.zst`, checking every line before anything is loaded.
public enum RegistryReader {
    /// Reads and checks the folder; the first bad line ends the read with its file, line and field.
    public static func read(directory: String) throws -> RegistryLoad {
        var load = RegistryLoad()
        var any = false
        if case let (file, providers)? = try lines(directory, "providers", header: "provider_id,name", fields: 2) {
            any = true
            var seen = Set<ProviderID>()
            for (number, f) in providers {
                guard let id = ProviderID(f[0]) else {
                    throw bad(file, number, "provider_id \"\(f[0])\" is not 1–16 of A–Z 0–9")
                }
                guard !f[1].isEmpty else { throw bad(file, number, "name is empty") }
                guard seen.insert(id).inserted else { throw bad(file, number, "provider \(id) appears twice") }
                load.providers.append(.init(id: id, name: f[1]))
            }
        }
        if case let (file, holders)? = try lines(
            directory, "holders", header: "mykey_id,status,provider_id,applied_at", fields: 4)
        {
            any = true
            for (number, f) in holders {
                guard let myKey = MyKeyID(f[0]) else { throw bad(file, number, "mykey_id is not 8 of A–Z 0–9") }
                guard let status = HolderStatus(name: f[1]) else {
                    throw bad(file, number, "status \"\(f[1])\" is not active, suspended or revoked")
                }
                var application: (provider: ProviderID, at: Instant)?
                switch (f[2].isEmpty, f[3].isEmpty) {
                case (true, true):
                    application = nil
                case (false, false):
                    guard let provider = ProviderID(f[2]) else {
                        throw bad(file, number, "provider_id \"\(f[2])\" is not 1–16 of A–Z 0–9")
                    }
                    guard let at = RFC3339.parse(f[3]) else {
                        throw bad(
                            file, number, "applied_at \"\(f[3])\" is not an RFC 3339 time with seconds and offset")
                    }
                    application = (provider, at)
                default:
                    throw bad(file, number, "provider_id and applied_at must both be given or both be empty")
                }
                load.holders.append(.init(myKey: myKey, status: status, application: application, line: number))
            }
        }
        if case let (file, certificates)? = try lines(
            directory, "certificates", header: "serial,mykey_id,not_before,not_after,revoked_at",
            orHeader: "serial,mykey_id,not_before,not_after,revoked_at,issuer")
        {
            any = true
            for (number, f) in certificates {
                let serial = f[0]
                guard !serial.isEmpty, serial.utf8.count <= 40,
                    serial.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) }),
                    serial == "0" || !serial.hasPrefix("0")
                else {
                    throw bad(
                        file, number, "serial \"\(serial)\" is not upper-case hex of 1–40 digits without leading zeros")
                }
                guard let myKey = MyKeyID(f[1]) else { throw bad(file, number, "mykey_id is not 8 of A–Z 0–9") }
                guard let notBefore = RFC3339.parse(f[2]) else {
                    throw bad(file, number, "not_before is not an RFC 3339 time")
                }
                guard let notAfter = RFC3339.parse(f[3]) else {
                    throw bad(file, number, "not_after is not an RFC 3339 time")
                }
                guard notBefore < notAfter else { throw bad(file, number, "not_before must be before not_after") }
                var revokedAt: Instant?
                if !f[4].isEmpty {
                    guard let at = RFC3339.parse(f[4]) else {
                        throw bad(file, number, "revoked_at is not an RFC 3339 time")
                    }
                    revokedAt = at
                }
                // The optional issuer column: empty (or absent) means the import's configured issuer.
                let issuer = f.count > 5 && !f[5].isEmpty ? f[5] : nil
                load.certificates.append(
                    .init(
                        serial: serial, issuer: issuer, myKey: myKey,
                        validity: CertificateValidity(notBefore: notBefore, notAfter: notAfter, revokedAt: revokedAt),
                        line: number))
            }
        }
        if case let (file, changes)? = try lines(
            directory, "mykey_changes", header: "old_mykey_id,new_mykey_id,changed_at", fields: 3)
        {
            any = true
            for (number, f) in changes {
                guard let old = MyKeyID(f[0]) else { throw bad(file, number, "old_mykey_id is not 8 of A–Z 0–9") }
                guard let new = MyKeyID(f[1]) else { throw bad(file, number, "new_mykey_id is not 8 of A–Z 0–9") }
                guard let at = RFC3339.parse(f[2]) else {
                    throw bad(file, number, "changed_at is not an RFC 3339 time")
                }
                load.changes.append(.init(old: old, new: new, at: at, line: number))
            }
        }
        guard any else {
            throw RegistryImportError(
                file: directory, line: nil,
                message:
                    "no registry file found (providers.csv, holders.csv, certificates.csv, mykey_changes.csv, plain or .zst)"
            )
        }
        return load
    }

    private static func bad(_ file: String, _ line: Int, _ message: String) -> RegistryImportError {
        RegistryImportError(file: file, line: line, message: message)
    }

    /// The fields of one CSV line (RFC 4180 quoting, `""` for a quote inside a quoted field); nil when the quoting
    /// is broken or a field is not UTF-8.
    static func split(_ line: UnsafeRawBufferPointer) -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var index = 0
        let bytes = Array(line)
        while true {
            if index < bytes.count && bytes[index] == 0x22 {
                index += 1
                while true {
                    guard index < bytes.count else { return nil }
                    if bytes[index] == 0x22 {
                        if index + 1 < bytes.count && bytes[index + 1] == 0x22 {
                            field.append(0x22)
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    field.append(bytes[index])
                    index += 1
                }
                guard index == bytes.count || bytes[index] == 0x2C else { return nil }
            } else {
                while index < bytes.count && bytes[index] != 0x2C {
                    field.append(bytes[index])
                    index += 1
                }
            }
            guard let text = String(validating: field, as: UTF8.self) else { return nil }
            fields.append(text)
            field.removeAll(keepingCapacity: true)
            guard index < bytes.count else { return fields }
            index += 1  // the comma
        }
    }

    /// The name of `NAME.csv` or `NAME.csv.zst`, whichever is there, and its data lines with their numbers, after
    /// checking the header; nil when absent. With `orHeader`, a file may have that header (and its number of
    /// fields) instead.
    static func lines(
        _ directory: String, _ name: String, header: String, fields: Int? = nil, orHeader: String? = nil
    ) throws -> (file: String, rows: [(Int, [String])])? {
        let plain = directory + "/" + name + ".csv"
        let compressed = plain + ".zst"
        let file: String
        let bytes: [UInt8]
        if let data = FileManager.default.contents(atPath: plain) {
            file = name + ".csv"
            bytes = Array(data)
        } else if let data = FileManager.default.contents(atPath: compressed) {
            file = name + ".csv.zst"
            do {
                bytes = try Zstd.decompress(Array(data))
            } catch {
                throw RegistryImportError(file: file, line: nil, message: "not a valid zstd file (\(error))")
            }
        } else {
            return nil
        }
        var rows: [(Int, [String])] = []
        var scanner = LineScanner()
        let splitter = FieldSplitter()
        var failure: RegistryImportError?
        var fields = fields ?? header.utf8.count(where: { $0 == UInt8(ascii: ",") }) + 1
        let handle = { (line: UnsafeRawBufferPointer, number: Int) in
            guard failure == nil else { return }
            var text = line
            if number == 1 {
                if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = UnsafeRawBufferPointer(rebasing: text.dropFirst(3)) }
                if let orHeader, text.elementsEqual(orHeader.utf8) {
                    fields = orHeader.utf8.count(where: { $0 == UInt8(ascii: ",") }) + 1
                } else if !text.elementsEqual(header.utf8) {
                    let allowed = orHeader.map { "\(header) or \($0)" } ?? "exactly \(header)"
                    failure = RegistryImportError(file: file, line: 1, message: "the header must be \(allowed)")
                }
                return
            }
            if text.isEmpty { return }
            // The record splitter stops at five fields (provider files never have more); wider registry files
            // (certificates.csv with its issuer column) are split here.
            if fields > FieldSplitter.maxFields {
                guard let values = Self.split(text), values.count == fields else {
                    failure = RegistryImportError(
                        file: file, line: number, message: "expected \(fields) comma-separated UTF-8 fields")
                    return
                }
                rows.append((number, values))
                return
            }
            guard case .fields(let count) = splitter.split(text), count == fields else {
                failure = RegistryImportError(
                    file: file, line: number, message: "expected \(fields) comma-separated fields")
                return
            }
            var values: [String] = []
            for i in 0..<fields {
                guard let value = String(validating: splitter.field(i), as: UTF8.self) else {
                    failure = RegistryImportError(
                        file: file, line: number, message: "field \(i + 1) is not valid UTF-8")
                    return
                }
                values.append(value)
            }
            rows.append((number, values))
        }
        bytes.withUnsafeBytes { scanner.feed($0, handle) }
        scanner.finish(handle)
        if let failure { throw failure }
        if scanner.lineNumber == 0 {
            throw RegistryImportError(file: file, line: nil, message: "the file is empty; it needs at least the header")
        }
        return (file, rows)
    }
}
