import Crypto
import DropFormat
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A path in a drop folder: the folder (the operator's, UTF-8) and an entry name as bytes.
struct EntryPath: Sendable {
    /// The folder.
    var folder: String
    /// The entry's name.
    var name: EntryName

    /// The path for the system calls: the folder's bytes, `/`, the name's bytes, none of them decoded or replaced.
    var filePath: FilePath {
        var bytes = [CChar]()
        bytes.reserveCapacity(folder.utf8.count + name.bytes.count + 2)
        for byte in folder.utf8 { bytes.append(CChar(bitPattern: byte)) }
        bytes.append(0x2F)
        for byte in name.bytes { bytes.append(CChar(bitPattern: byte)) }
        bytes.append(0)
        return FilePath(platformString: bytes)
    }

    /// The path for the operator's messages.
    var display: String { folder + "/" + name.display }
}

/// Who a file is, to tell later whether the same file is still there unchanged (inode, size, times).
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var changed: Int64

    init(_ status: Stat) {
        device = UInt64(truncatingIfNeeded: status.deviceID.rawValue)
        inode = UInt64(truncatingIfNeeded: status.inode.rawValue)
        size = status.size
        modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        changed = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
    }
}

/// An inbox file opened for reading: a regular file, never through a link, never blocking; closed in `deinit`.
struct OpenedFile: ~Copyable {
    /// The descriptor, owned by this value alone.
    let descriptor: FileDescriptor
    /// The file's identity when it was opened.
    let identity: FileIdentity
    /// Where it was opened, for messages.
    let path: EntryPath

    deinit {
        // Opened read-only: there is nothing to flush, so close's result carries no information.
        try? descriptor.close()
    }

    /// Reads up to `buffer.count` bytes; 0 at the end.
    ///
    /// The corresponding C function is `read`.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileOperationError) -> Int {
        try FileOperations.read(descriptor, into: buffer, path: path.display)
    }

    /// The SHA-256 of the whole file, read from its start whatever was read before.
    ///
    /// The C function is `pread`.
    func sha256() throws(FileOperationError) -> [UInt8] {
        let hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        while true {
            let count = try FileOperations.attempt(.read, path.display) {
                try descriptor.read(fromAbsoluteOffset: offset, into: buffer)
            }
            if count == 0 { return hasher.finalize() }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += Int64(count)
        }
    }

    /// Reads the whole file, refusing one longer than `limit` bytes (nil then).
    func readAll(limit: Int) throws(FileOperationError) -> [UInt8]? {
        var bytes: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try read(into: buffer)
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
    case failed(FileOperationError)
}

/// The run's file-system calls, all in one place: entries read with `lstat`, inbox files opened without following
/// links or blocking, durable writes (temporary name, fsync, rename, fsync of the folder) with fixed modes.
///
/// Every failure is a ``FileOperationError`` naming the operation, the path and the system's error.
enum FileOperations {
    /// Mode of every file the run writes, archives or quarantines (settlement spec §11.5).
    static let fileMode: FilePermissions = [.ownerReadWrite, .groupRead]
    /// Mode of every folder the run creates.
    static let folderMode: FilePermissions = [.ownerReadWriteExecute, .groupReadExecute]

    /// Runs one system call on `path`; its `Errno` becomes the file layer's error for `operation`.
    @inline(__always)
    @discardableResult
    static func attempt<T>(
        _ operation: FileOperationError.Operation, _ path: @autoclosure () -> String, _ call: () throws -> T
    ) throws(FileOperationError) -> T {
        do {
            return try Errno.typed(call)
        } catch {
            throw FileOperationError(operation, path(), error)
        }
    }

    /// The names in `folder` (without `.` and `..`), as bytes.
    ///
    /// The corresponding C functions are `opendir`/`readdir`.
    static func entries(of folder: String) throws(FileOperationError) -> [EntryName] {
        let names = try attempt(.readFolder, folder) { try SystemCalls.folderEntries(FilePath(folder)) }
        return names.compactMap { $0 == [0x2E] || $0 == [0x2E, 0x2E] ? nil : EntryName(bytes: $0) }
    }

    /// What the entry is, without following it.
    ///
    /// The corresponding C function is `lstat`.
    static func kind(_ path: EntryPath) throws(FileOperationError) -> EntryKind {
        let status: Stat
        do {
            status = try path.filePath.stat(followTargetSymlink: false)
        } catch {
            if error == .noSuchFileOrDirectory { return .missing }
            throw FileOperationError(.examine, path, error)
        }
        let found = kind(status.type)
        return found == .regular && status.linkCount > 1 ? .hardLink : found
    }

    private static func kind(_ type: FileType) -> EntryKind {
        switch type {
        case .regular: .regular
        case .symbolicLink: .symbolicLink
        case .directory: .directory
        case .fifo: .fifo
        case .socket: .socket
        default: .device
        }
    }

    /// Opens an inbox entry for reading if, and only if, it is a regular file with no other name: `O_NOFOLLOW`
    /// refuses a link, `O_NONBLOCK` keeps a FIFO or device from blocking, `fstat` confirms what was opened.
    static func openRegular(_ path: EntryPath) -> Result<OpenedFile, OpenRefusal> {
        let descriptor: FileDescriptor
        do {
            descriptor = try Errno.typed {
                try FileDescriptor.open(
                    path.filePath, .readOnly, options: [.noFollow, .nonBlocking, .closeOnExec, .noControllingTerminal])
            }
        } catch {
            switch error {
            case .tooManySymbolicLinkLevels: return .failure(.notAFile(.symbolicLink, hardLink: false))
            case .noSuchFileOrDirectory: return .failure(.missing)
            case .noSuchAddressOrDevice, .operationNotSupportedByDevice, .notSupportedOnSocket:
                return .failure(.notAFile(.device, hardLink: false))
            default: return .failure(.failed(FileOperationError(.open, path, error)))
            }
        }
        let status: Stat
        do {
            status = try descriptor.stat()
        } catch {
            try? descriptor.close()
            return .failure(.failed(FileOperationError(.examine, path, error)))
        }
        let found = kind(status.type)
        guard found == .regular, status.linkCount <= 1 else {
            try? descriptor.close()
            return .failure(.notAFile(found, hardLink: found == .regular))
        }
        return .success(OpenedFile(descriptor: descriptor, identity: FileIdentity(status), path: path))
    }

    /// Reads up to `buffer.count` bytes of `descriptor` at its position; 0 at the end.
    ///
    /// `path` is made only for an
    /// error, so a read that succeeds costs nothing more than the call. The corresponding C function is `read`.
    @inline(__always)
    static func read(
        _ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, path: @autoclosure () -> String
    ) throws(FileOperationError) -> Int {
        try attempt(.read, path()) { try descriptor.read(into: buffer) }
    }

    /// Writes all of `bytes` at the descriptor's position.
    ///
    /// The corresponding C function is `write`.
    static func writeAll(
        _ bytes: UnsafeRawBufferPointer, to descriptor: FileDescriptor, path: @autoclosure () -> String
    ) throws(FileOperationError) {
        _ = try attempt(.write, path()) { try descriptor.writeAll(bytes) }
    }

    /// Creates a new file for writing, never through a link and never over an existing entry, with ``fileMode``
    /// less the umask.
    ///
    /// The corresponding C function is `open`.
    static func create(_ path: EntryPath) throws(FileOperationError) -> FileDescriptor {
        try attempt(.create, path.display) {
            try FileDescriptor.open(
                path.filePath, .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                permissions: fileMode)
        }
    }

    /// Writes the file's bytes to its disk.
    ///
    /// The corresponding C function is `fsync`.
    static func synchronize(_ descriptor: FileDescriptor, path: @autoclosure () -> String) throws(FileOperationError) {
        try attempt(.write, path()) { try SystemCalls.synchronize(descriptor) }
    }

    /// Creates a folder and its parents; folders it creates get ``folderMode`` whatever the umask.
    static func makeDirectory(_ path: String) throws(FileOperationError) {
        try makeDirectory(FilePath(path))
    }

    private static func makeDirectory(_ path: FilePath) throws(FileOperationError) {
        if let status = try? path.stat() {
            guard status.type == .directory else { throw FileOperationError(.createFolder, path.string, .fileExists) }
            return
        }
        let parent = path.removingLastComponent()
        if !parent.isEmpty && parent != path { try makeDirectory(parent) }
        do {
            try SystemCalls.makeFolder(path, permissions: folderMode)
        } catch {
            guard error == .fileExists else { throw FileOperationError(.createFolder, path.string, error) }
        }
        try? SystemCalls.setPermissions(path, folderMode)
    }

    /// Creates `path`, a new, empty folder inside `folder` that only this user may use (`pack`'s staging folder).
    static func makePrivateDirectory(_ path: String, in folder: String) throws(FileOperationError) {
        try attempt(.createStagingFolder, folder) {
            try SystemCalls.makeFolder(FilePath(path), permissions: .ownerReadWriteExecute)
        }
    }

    /// Writes `bytes` as `name` in `folder` atomically: readers see the old file or the whole new one, never a part.
    ///
    /// The folder is fsynced at once, or with `pending`'s others when given (`FolderSync`).
    static func writeAtomically(
        _ bytes: [UInt8], folder: String, name: EntryName, folderSync pending: FolderSync? = nil
    ) throws(FileOperationError) {
        try writeAtomically(EntryPath(folder: folder, name: name), folderSync: pending) {
            descriptor, temporary throws(FileOperationError) in
            var result: Result<Void, FileOperationError> = .success(())
            bytes.withUnsafeBytes { raw in
                result = Result { () throws(FileOperationError) in
                    try writeAll(raw, to: descriptor, path: temporary.display)
                }
            }
            try result.get()
        }
    }

    /// Makes `target` atomically: `fill` writes a new temporary file in the same folder (mode ``fileMode``), which
    /// is then fsynced and renamed over `target`, and the folder fsynced; on failure the temporary file goes.
    private static func writeAtomically(
        _ target: EntryPath, folderSync pending: FolderSync? = nil,
        fill: (FileDescriptor, EntryPath) throws(FileOperationError) -> Void
    ) throws(FileOperationError) {
        let temporary = EntryPath(folder: target.folder, name: temporaryName())
        let descriptor = try create(temporary)
        var failure: FileOperationError?
        do throws(FileOperationError) {
            try attempt(.setMode, temporary.display) { try SystemCalls.setPermissions(descriptor, fileMode) }
            try fill(descriptor, temporary)
            try synchronize(descriptor, path: temporary.display)
        } catch {
            failure = error
        }
        // A failed close may mean a failed write: the file is then not renamed into place.
        do {
            try attempt(.write, temporary.display) { try descriptor.close() }
        } catch {
            failure = failure ?? error
        }
        if failure == nil {
            do {
                try attempt(.rename(to: target.display), temporary.display) {
                    try SystemCalls.rename(temporary.filePath, to: target.filePath)
                }
            } catch {
                failure = error
            }
        }
        if let failure {
            try? SystemCalls.removeName(temporary.filePath)
            throw failure
        }
        synchronizeFolder(target.folder, pending)
    }

    /// Writes `bytes` to a file named by a UTF-8 path (summary and metrics files).
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(FileOperationError) {
        let folder = (path as NSString).deletingLastPathComponent
        try writeAtomically(
            bytes, folder: folder.isEmpty ? "." : folder, name: EntryName((path as NSString).lastPathComponent))
    }

    /// Moves an entry (file, link, FIFO … as it is) and gives a regular file ``fileMode``.
    ///
    /// Returns false when the
    /// source is gone (moved before). Both folders are fsynced at once, or with `pending`'s others when given.
    @discardableResult
    static func move(
        _ source: EntryPath, to destination: EntryPath, folderSync pending: FolderSync? = nil
    ) throws(FileOperationError) -> Bool {
        let found = try kind(source)
        guard found != .missing else { return false }
        do {
            try SystemCalls.rename(source.filePath, to: destination.filePath)
        } catch {
            guard error == .improperLink else {
                throw FileOperationError(.move(to: destination.display), source, error)
            }
            try moveAcrossFileSystems(source, to: destination, kind: found)
        }
        // A file with other names shares its mode with them (a hard link's other name may lie outside the inbox),
        // so only a file with this one name gets the run's mode.
        if found == .regular, let moved = try? destination.filePath.stat(followTargetSymlink: false),
            moved.linkCount == 1
        {
            try? SystemCalls.setPermissions(destination.filePath, fileMode)
        }
        synchronizeFolder(destination.folder, pending)
        synchronizeFolder(source.folder, pending)
        return true
    }

    /// A move to another file system: a plain file is copied durably, then removed; a symbolic link is made again
    /// there (never followed); a hard link's name is removed without reading it (its other name keeps the bytes).
    ///
    /// Anything else cannot move between file systems: the operator is asked to keep the folders on one.
    private static func moveAcrossFileSystems(
        _ source: EntryPath, to destination: EntryPath, kind: EntryKind
    ) throws(FileOperationError) {
        let refused = FileOperationError(.moveAcrossFileSystems(kind, to: destination.display), source, .improperLink)
        switch kind {
        case .symbolicLink:
            let target = try attempt(.readLink, source.display) { try SystemCalls.linkTarget(source.filePath) }
            try attempt(.makeLink, destination.display) {
                try SystemCalls.makeSymbolicLink(destination.filePath, target: target)
            }
        case .hardLink:
            // Only this name goes: the file's other name keeps its bytes, which are never read.
            break
        case .regular:
            switch openRegular(source) {
            case .success(let file): try copyAtomically(file, to: destination)
            case .failure(.notAFile(_, hardLink: true)): break
            case .failure(.failed(let error)): throw error
            case .failure(.missing): return
            case .failure(.notAFile): throw refused
            }
        default:
            throw refused
        }
        try attempt(.removeMoved, source.display) { try SystemCalls.removeName(source.filePath) }
    }

    /// Copies an opened file to `destination` atomically, a piece at a time so that memory stays bounded whatever
    /// the file's size; pieces of zeros are skipped, so a sparse file stays sparse.
    private static func copyAtomically(
        _ file: borrowing OpenedFile, to destination: EntryPath
    ) throws(FileOperationError) {
        let source = file.descriptor
        let sourcePath = file.path
        try writeAtomically(destination) { output, temporary throws(FileOperationError) in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 16)
            defer { zeros.deallocate() }
            zeros.initializeMemory(as: UInt8.self, repeating: 0)
            var offset: Int64 = 0
            while true {
                let count = try attempt(.read, sourcePath.display) {
                    try source.read(fromAbsoluteOffset: offset, into: buffer)
                }
                if count == 0 { break }
                let piece = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                if memcmp(piece.baseAddress!, zeros.baseAddress!, count) == 0 {
                    try attempt(.write, temporary.display) { try output.seek(offset: Int64(count), from: .current) }
                } else {
                    try writeAll(piece, to: output, path: temporary.display)
                }
                offset += Int64(count)
            }
            // A file ending in skipped zeros gets its length from the truncation.
            try attempt(.write, temporary.display) { try output.resize(to: offset) }
        }
    }

    /// True when the regular file at `path` has exactly these bytes.
    static func hasContents(_ path: EntryPath, _ bytes: [UInt8]) -> Bool {
        guard case .success(let file) = openRegular(path) else { return false }
        guard let found = try? file.readAll(limit: bytes.count) else { return false }
        return found == bytes
    }

    private static let counter = Counter()

    /// A temporary name in the same folder, short whatever the final name's length.
    private static func temporaryName() -> EntryName {
        EntryName(".mynapoint-\(getpid())-\(counter.next()).tmp")
    }

    /// Makes the folder's entries durable now, or leaves that to `pending` when given.
    private static func synchronizeFolder(_ path: String, _ pending: FolderSync?) {
        if let pending {
            pending.add(path)
        } else {
            synchronizeFolder(path)
        }
    }

    /// Makes the folder's entries (a rename, a new name) durable.
    ///
    /// Best effort, as before: the entries are already
    /// in place, and stopping the run would not make them more so.
    fileprivate static func synchronizeFolder(_ path: String) {
        guard
            let descriptor = try? Errno.typed({
                try FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec])
            })
        else { return }
        try? SystemCalls.synchronize(descriptor)
        try? descriptor.close()
    }
}

extension FileDescriptor.OpenOptions {
    /// Opening a terminal device does not make it the process's controlling terminal.
    ///
    /// The corresponding C constant
    /// is `O_NOCTTY`, which swift-system does not name.
    static var noControllingTerminal: Self { Self(rawValue: O_NOCTTY) }
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

/// Folders whose new entries (renames, new names) are made durable together, each folder once, instead of after
/// each entry: a delivery renames four entries per file into three folders, and a folder's fsync costs from tens
/// of microseconds to milliseconds, by disk.
///
/// Whoever defers calls ``synchronize()`` before anything relies on the entries being durable (delivery, before the
/// run is marked delivered: until then a restart delivers the run again).
final class FolderSync {
    private var folders: [String] = []

    /// An empty set of folders.
    init() {}

    /// Adds a folder to make durable.
    func add(_ folder: String) {
        if !folders.contains(folder) { folders.append(folder) }
    }

    /// Fsyncs each folder added since the last call, once.
    func synchronize() {
        for folder in folders { FileOperations.synchronizeFolder(folder) }
        folders.removeAll()
    }
}
