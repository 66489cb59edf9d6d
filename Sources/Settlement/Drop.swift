import DropFormat

/// What the inbox holds (settlement spec §3.1, §11.1), read with `lstat` only: nothing is opened or followed here.
struct Drop {
    /// Files to decide this run, in byte order of their names: complete pairs, and any name whose data or control
    /// entry is not a regular file (it can never become one, so it is quarantined `NOT_A_FILE` at once).
    var complete: [ProviderFile] = []
    /// Data files without a control file, and control files without a data file (names for people).
    var waiting: [String] = []
    /// Entries named like no drop file (sub-folders, uploads in progress, stray files), left alone.
    var ignored: [String] = []

    /// Reads the inbox; with `stems`, only the entries of those drops (a pre-flight of files named one by one).
    ///
    /// Throws only when the inbox cannot be read, which is on the operator's side (settlement spec §11.3).
    static func scan(inbox: String, stems: Set<[UInt8]>? = nil) throws(SettlementError) -> Drop {
        do {
            return Drop(pairing: try Entries(inbox: inbox, stems: stems))
        } catch {
            throw SettlementError(error)
        }
    }

    /// The inbox's drop entries by stem (the name without `.csv.zst` or `.ctl`), and what each one is.
    private struct Entries {
        var data: [[UInt8]: EntryKind] = [:]
        var control: [[UInt8]: EntryKind] = [:]
        /// Names of entries named like no drop file, for people (only when the whole inbox is read).
        var ignored: [String] = []

        /// Lists the inbox and examines each drop entry, its name kept as bytes; an entry gone meanwhile is left out.
        init(inbox: String, stems: Set<[UInt8]>?) throws(FileOperationError) {
            for name in try FileOperations.entries(of: inbox) {
                let isData = name.hasSuffix(ProviderFile.dataSuffix)
                let isControl = !isData && name.hasSuffix(ProviderFile.controlSuffix)
                guard isData || isControl, name.bytes.first != 0x2E else {
                    if stems == nil { ignored.append(name.display) }
                    continue
                }
                let stem = name.dropping(isData ? ProviderFile.dataSuffix : ProviderFile.controlSuffix)
                if let stems, !stems.contains(stem) { continue }
                let kind = try FileOperations.kind(EntryPath(folder: inbox, name: name))
                if kind == .missing { continue }
                if isData {
                    data[stem] = kind
                } else {
                    control[stem] = kind
                }
            }
        }
    }

    /// Pairs data and control entries by stem: complete pairs and refused entries are decided, the rest waits.
    private init(pairing entries: Entries) {
        let (data, control) = (entries.data, entries.control)
        for stem in Set(data.keys).union(control.keys) {
            var file = ProviderFile(stemBytes: stem)
            file.dataKind = data[stem] ?? .missing
            file.controlKind = control[stem] ?? .missing
            let refused = [file.dataKind, file.controlKind].contains { $0 != .regular && $0 != .missing }
            if (data[stem] != nil && control[stem] != nil) || refused {
                complete.append(file)
            } else {
                waiting.append(data[stem] != nil ? file.name : file.controlName)
            }
        }
        ignored = entries.ignored
        complete.sort { $0.dataEntry < $1.dataEntry }
        waiting.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        ignored.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
