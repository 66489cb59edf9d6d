import Foundation

/// What the inbox holds: complete files (data + control) in byte order of their names, and files waiting
/// for their other half (settlement spec §3.1).
struct Drop {
    /// Complete data files, in byte order of their names.
    var complete: [ProviderFile] = []
    /// Names of data files without a control file, and control files without a data file.
    var waiting: [String] = []

    /// Reads the inbox; names that are neither data nor control files (uploads in progress) are ignored.
    static func scan(inbox: String) throws -> Drop {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: inbox)
        } catch {
            throw SettlementError(
                code: .io,
                message:
                    "cannot read the inbox \(inbox): \(error.localizedDescription); check the path and its permissions")
        }
        var data = Set<String>()
        var control = Set<String>()
        for name in names where !name.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: inbox + "/" + name, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            if name.hasSuffix(ProviderFile.dataSuffix) && name.count > ProviderFile.dataSuffix.count {
                data.insert(String(name.dropLast(ProviderFile.dataSuffix.count)))
            } else if name.hasSuffix(ProviderFile.controlSuffix) && name.count > ProviderFile.controlSuffix.count {
                control.insert(String(name.dropLast(ProviderFile.controlSuffix.count)))
            }
        }
        var drop = Drop()
        let byteOrder: (String, String) -> Bool = { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for stem in data.intersection(control).sorted(by: byteOrder) {
            drop.complete.append(ProviderFile(name: stem + ProviderFile.dataSuffix))
        }
        for stem in data.subtracting(control) { drop.waiting.append(stem + ProviderFile.dataSuffix) }
        for stem in control.subtracting(data) { drop.waiting.append(stem + ProviderFile.controlSuffix) }
        drop.waiting.sort(by: byteOrder)
        return drop
    }
}
