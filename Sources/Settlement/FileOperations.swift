import Crypto
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A path in a drop folder: the folder (the operator's, UTF-8) and an entry name as bytes.
struct EntryPath: Sendable {
    /// The folder.
    var folder: String
    /// The entry's name.
    var name: EntryName

    /// The path as bytes with a terminating NUL, for the C calls.
    var cString: [CChar] {
        var bytes = Array(folder.utf8)
        bytes.append(0x2F)
        bytes.append(contentsOf: name.bytes)
        bytes.append(0)
        return bytes.map { CChar(bitPattern: $0) }
    }

    /// The path for the operator's messages.
    var display: String { folder + "/" + name.display }
}

/// What an entry is, from `lstat` (nothing is followed or opened).
enum EntryKind: Sendable, Equatable {
    case regular
    /// A regular file with more than one name: its bytes may belong to a file elsewhere, so it is never read.
    case hardLink
    case symbolicLink
    case directory
    case fifo
    case socket
    case device
    case missing

    /// Words for a provider: what was found instead of a file.
    var description: String {
        switch self {
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

/// Who a file is, to tell later whether the same file is still there unchanged (inode, size, times).
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var changed: Int64

    init(_ s: stat) {
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        size = Int64(s.st_size)
        modified = Int64(s.st_mtim.tv_sec) * 1_000_000_000 + Int64(s.st_mtim.tv_nsec)
        changed = Int64(s.st_ctim.tv_sec) * 1_000_000_000 + Int64(s.st_ctim.tv_nsec)
    }
}

/// An inbox file opened for reading: a regular file, never through a link, never blocking; closed in `deinit`.
struct OpenedFile: ~Copyable {
    /// The descriptor.
    let descriptor: Int32
    /// The file's identity when it was opened.
    let identity: FileIdentity

    deinit { _ = close(descriptor) }

    /// Reads up to `buffer.count` bytes; 0 at the end. The corresponding C function is `read`.
    func read(into buffer: UnsafeMutableRawBufferPointer, path: EntryPath) throws(SettlementError) -> Int {
        try Self.read(descriptor, into: buffer, path: path)
    }

    /// Reads up to `buffer.count` bytes of `descriptor`; 0 at the end. The corresponding C function is `read`.
    static func read(
        _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, path: EntryPath
    ) throws(SettlementError) -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw FileOperations.ioError("cannot read \(path.display)") }
        }
    }

    /// The SHA-256 of the whole file, read from its start whatever was read before. The C function is `pread`.
    func sha256(path: EntryPath) throws(SettlementError) -> [UInt8] {
        let hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset: off_t = 0
        while true {
            let count = pread(descriptor, buffer.baseAddress, buffer.count, offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileOperations.ioError("cannot read \(path.display)")
            }
            if count == 0 { return hasher.finalize() }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += off_t(count)
        }
    }

    /// Reads the whole file, refusing one longer than `limit` bytes (nil then).
    func readAll(limit: Int, path: EntryPath) throws(SettlementError) -> [UInt8]? {
        var bytes: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try read(into: buffer, path: path)
            if count == 0 { return bytes }
            bytes.append(contentsOf: buffer[..<count])
            if bytes.count > limit { return nil }
        }
    }
}

/// Why an inbox entry cannot be opened as a data or control file.
enum OpenRefusal: Error, Sendable {
    /// Not a regular file (or a regular file with other names: a hard link); the provider's to fix.
    case notAFile(EntryKind, hardLink: Bool)
    /// Gone since the inbox was read.
    case missing
    /// An error on the operator's side (permissions, I/O): stops the run.
    case failed(SettlementError)
}

/// The run's file-system calls, all in one place: entries read with `lstat`, inbox files opened without following
/// links or blocking, durable writes (temporary name, fsync, rename, fsync of the folder) with fixed modes.
enum FileOperations {
    /// Mode of every file the run writes, archives or quarantines (settlement spec §11.5).
    static let fileMode: mode_t = 0o640
    /// Mode of every folder the run creates.
    static let folderMode: mode_t = 0o750

    /// The names in `folder` (without `.` and `..`), as bytes. The corresponding C functions are `opendir`/`readdir`.
    static func entries(of folder: String) throws(SettlementError) -> [EntryName] {
        guard let directory = opendir(folder) else {
            throw ioError("cannot read the folder \(folder)", hint: "check the path and its permissions")
        }
        defer { closedir(directory) }
        var names: [EntryName] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw ioError("cannot read the folder \(folder)") }
                return names
            }
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            names.append(EntryName(bytes: bytes))
        }
    }

    /// What the entry is, without following it. The corresponding C function is `lstat`.
    static func kind(_ path: EntryPath) throws(SettlementError) -> EntryKind {
        var s = stat()
        guard lstat(path.cString, &s) == 0 else {
            if errno == ENOENT { return .missing }
            throw ioError("cannot examine \(path.display)")
        }
        let found = kind(mode: s.st_mode)
        return found == .regular && s.st_nlink > 1 ? .hardLink : found
    }

    private static func kind(mode: mode_t) -> EntryKind {
        switch mode & S_IFMT {
        case S_IFREG: .regular
        case S_IFLNK: .symbolicLink
        case S_IFDIR: .directory
        case S_IFIFO: .fifo
        case S_IFSOCK: .socket
        default: .device
        }
    }

    /// Opens an inbox entry for reading if, and only if, it is a regular file with no other name: `O_NOFOLLOW`
    /// refuses a link, `O_NONBLOCK` keeps a FIFO or device from blocking, `fstat` confirms what was opened.
    static func openRegular(_ path: EntryPath) -> Result<OpenedFile, OpenRefusal> {
        let descriptor = open(path.cString, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if descriptor < 0 {
            switch errno {
            case ELOOP: return .failure(.notAFile(.symbolicLink, hardLink: false))
            case ENOENT: return .failure(.missing)
            case ENXIO, ENODEV, EOPNOTSUPP: return .failure(.notAFile(.device, hardLink: false))
            default: return .failure(.failed(ioError("cannot open \(path.display)", hint: "check its owner and mode")))
            }
        }
        var s = stat()
        guard fstat(descriptor, &s) == 0 else {
            let error = ioError("cannot examine \(path.display)")
            close(descriptor)
            return .failure(.failed(error))
        }
        let found = kind(mode: s.st_mode)
        guard found == .regular, s.st_nlink <= 1 else {
            close(descriptor)
            return .failure(.notAFile(found, hardLink: found == .regular))
        }
        return .success(OpenedFile(descriptor: descriptor, identity: FileIdentity(s)))
    }

    /// Creates a folder and its parents; folders it creates get ``folderMode`` whatever the umask.
    static func makeDirectory(_ path: String) throws(SettlementError) {
        var s = stat()
        if stat(path, &s) == 0 {
            guard s.st_mode & S_IFMT == S_IFDIR else {
                throw SettlementError(code: .io, message: "\(path) is not a folder")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectory(parent) }
        if mkdir(path, folderMode) != 0 && errno != EEXIST {
            throw ioError("cannot create the folder \(path)")
        }
        _ = chmod(path, folderMode)
    }

    /// Writes `bytes` as `name` in `folder` atomically: readers see the old file or the whole new one, never a part.
    static func writeAtomically(_ bytes: [UInt8], folder: String, name: EntryName) throws(SettlementError) {
        try writeAtomically(EntryPath(folder: folder, name: name)) { fd, temporary throws(SettlementError) in
            var result: Result<Void, SettlementError> = .success(())
            bytes.withUnsafeBytes { raw in
                result = Result { () throws(SettlementError) in try writeAll(raw, to: fd, temporary) }
            }
            try result.get()
        }
    }

    /// Makes `target` atomically: `fill` writes a new temporary file in the same folder (mode ``fileMode``), which
    /// is then fsynced and renamed over `target`, and the folder fsynced; on failure the temporary file goes.
    private static func writeAtomically(
        _ target: EntryPath, fill: (Int32, EntryPath) throws(SettlementError) -> Void
    ) throws(SettlementError) {
        let temporary = EntryPath(folder: target.folder, name: temporaryName())
        let fd = open(temporary.cString, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw ioError("cannot create \(temporary.display)") }
        var failure: SettlementError?
        do throws(SettlementError) {
            if fchmod(fd, fileMode) != 0 { throw ioError("cannot set the mode of \(temporary.display)") }
            try fill(fd, temporary)
            if fsync(fd) != 0 { throw ioError("cannot write \(temporary.display)") }
        } catch {
            failure = error
        }
        close(fd)
        if failure == nil && rename(temporary.cString, target.cString) != 0 {
            failure = ioError("cannot rename \(temporary.display) to \(target.display)")
        }
        if let failure {
            unlink(temporary.cString)
            throw failure
        }
        syncDirectory(target.folder)
    }

    /// Writes all of `bytes` at the descriptor's position. The corresponding C function is `write`.
    private static func writeAll(
        _ bytes: UnsafeRawBufferPointer, to fd: Int32, _ path: EntryPath
    ) throws(SettlementError) {
        var written = 0
        while written < bytes.count {
            let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot write \(path.display)")
            }
            written += n
        }
    }

    /// Writes `bytes` to a file named by a UTF-8 path (summary and metrics files).
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SettlementError) {
        let folder = (path as NSString).deletingLastPathComponent
        try writeAtomically(
            bytes, folder: folder.isEmpty ? "." : folder, name: EntryName((path as NSString).lastPathComponent))
    }

    /// Moves an entry (file, link, FIFO … as it is) and gives a regular file ``fileMode``. Returns false when the
    /// source is gone (moved before).
    @discardableResult
    static func move(_ source: EntryPath, to destination: EntryPath) throws(SettlementError) -> Bool {
        let found = try kind(source)
        guard found != .missing else { return false }
        if rename(source.cString, destination.cString) != 0 {
            guard errno == EXDEV else { throw ioError("cannot move \(source.display) to \(destination.display)") }
            try moveAcrossFileSystems(source, to: destination, kind: found)
        }
        // A file with other names shares its mode with them (a hard link's other name may lie outside the inbox),
        // so only a file with this one name gets the run's mode.
        var moved = stat()
        if found == .regular, lstat(destination.cString, &moved) == 0, moved.st_nlink == 1 {
            _ = chmod(destination.cString, fileMode)
        }
        syncDirectory(destination.folder)
        syncDirectory(source.folder)
        return true
    }

    /// A move to another file system: a plain file is copied durably, then removed; a symbolic link is made again
    /// there (never followed); a hard link's name is removed without reading it (its other name keeps the bytes).
    /// Anything else cannot move between file systems: the operator is asked to keep the folders on one.
    private static func moveAcrossFileSystems(
        _ source: EntryPath, to destination: EntryPath, kind: EntryKind
    ) throws(SettlementError) {
        if kind == .symbolicLink {
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(source.cString, &target, target.count - 1)
            guard length >= 0 else { throw ioError("cannot read the link \(source.display)") }
            target[length] = 0
            guard symlink(target, destination.cString) == 0 else {
                throw ioError("cannot make the link \(destination.display)")
            }
        } else if kind == .hardLink {
            // Only this name goes: the file's other name keeps its bytes, which are never read.
        } else if kind == .regular {
            switch openRegular(source) {
            case .success(let file):
                try copyAtomically(file, from: source, to: destination)
            case .failure(.notAFile(_, hardLink: true)): break
            case .failure(.failed(let error)): throw error
            case .failure(.missing): return
            case .failure(.notAFile): throw crossDevice(source, destination, kind)
            }
        } else {
            throw crossDevice(source, destination, kind)
        }
        guard unlink(source.cString) == 0 else { throw ioError("cannot remove \(source.display) after moving it") }
    }

    /// Copies an opened file to `destination` atomically, a piece at a time so that memory stays bounded whatever
    /// the file's size; pieces of zeros are skipped, so a sparse file stays sparse.
    private static func copyAtomically(
        _ file: borrowing OpenedFile, from source: EntryPath, to destination: EntryPath
    ) throws(SettlementError) {
        let descriptor = file.descriptor
        try writeAtomically(destination) { fd, temporary throws(SettlementError) in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 16)
            defer { zeros.deallocate() }
            zeros.initializeMemory(as: UInt8.self, repeating: 0)
            var offset: off_t = 0
            while true {
                let count = pread(descriptor, buffer.baseAddress, buffer.count, offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw ioError("cannot read \(source.display)")
                }
                if count == 0 { break }
                if memcmp(buffer.baseAddress!, zeros.baseAddress!, count) == 0 {
                    if lseek(fd, off_t(count), SEEK_CUR) < 0 { throw ioError("cannot write \(temporary.display)") }
                } else {
                    try writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]), to: fd, temporary)
                }
                offset += off_t(count)
            }
            // A file ending in skipped zeros gets its length from the truncation.
            if ftruncate(fd, offset) != 0 { throw ioError("cannot write \(temporary.display)") }
        }
    }

    private static func crossDevice(_ source: EntryPath, _ destination: EntryPath, _ kind: EntryKind) -> SettlementError
    {
        SettlementError(
            code: .io,
            message:
                "cannot move \(source.display) (\(kind.description)) to \(destination.display) on another file system; keep the drop folders on one file system"
        )
    }

    /// True when the regular file at `path` has exactly these bytes.
    static func hasContents(_ path: EntryPath, _ bytes: [UInt8]) -> Bool {
        guard case .success(let file) = openRegular(path) else { return false }
        guard let found = try? file.readAll(limit: bytes.count, path: path) else { return false }
        return found == bytes
    }

    private static let counter = Counter()

    /// A temporary name in the same folder, short whatever the final name's length.
    private static func temporaryName() -> EntryName {
        EntryName(".mynapoint-\(getpid())-\(counter.next()).tmp")
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// An operator-side failure with the C error, read right after the failing call.
    static func ioError(
        _ what: String, hint: String = "check the folder's space and permissions"
    ) -> SettlementError {
        SettlementError(code: .io, message: "\(what): \(String(cString: strerror(errno))); \(hint)")
    }
}

/// A process-wide counter for temporary names.
private final class Counter: Sendable {
    private let value = Mutex(0)

    func next() -> Int {
        value.withLock {
            $0 += 1; return $0
        }
    }
}
