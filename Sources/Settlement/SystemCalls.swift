import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The system calls of the file layer that swift-system does not wrap, one function each, in its manner: the C
/// error is read right after the call and thrown as `Errno`; a call that may be interrupted is tried again.
enum SystemCalls {
    /// The names in the folder at `path`, as the file system holds them (bytes, not always UTF-8), `.` and `..`
    /// included.
    ///
    /// The corresponding C functions are `opendir`, `readdir` and `closedir`.
    static func folderEntries(_ path: FilePath) throws(Errno) -> [[UInt8]] {
        let opened = path.withPlatformString { opendir($0) }
        guard let directory = opened else { throw Errno(rawValue: errno) }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while true {
            // readdir tells the end from a failure only by errno, so errno is cleared before each call.
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                return names
            }
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) })
        }
    }

    /// Creates a folder with `permissions` (less the umask).
    ///
    /// The corresponding C function is `mkdir`.
    static func makeFolder(_ path: FilePath, permissions: FilePermissions) throws(Errno) {
        try retrying { path.withPlatformString { mkdir($0, permissions.rawValue) } }
    }

    /// Sets the permissions of the entry at `path`, following a link.
    ///
    /// The corresponding C function is `chmod`.
    static func setPermissions(_ path: FilePath, _ permissions: FilePermissions) throws(Errno) {
        try retrying { path.withPlatformString { chmod($0, permissions.rawValue) } }
    }

    /// Sets the permissions of an open file.
    ///
    /// The corresponding C function is `fchmod`.
    static func setPermissions(_ descriptor: FileDescriptor, _ permissions: FilePermissions) throws(Errno) {
        try retrying { fchmod(descriptor.rawValue, permissions.rawValue) }
    }

    /// Writes the file's data and metadata to its disk.
    ///
    /// The corresponding C function is `fsync`.
    static func synchronize(_ descriptor: FileDescriptor) throws(Errno) {
        try retrying { fsync(descriptor.rawValue) }
    }

    /// Gives the entry at `source` the name `destination`, replacing what has that name.
    ///
    /// The corresponding C
    /// function is `rename`.
    static func rename(_ source: FilePath, to destination: FilePath) throws(Errno) {
        try retrying {
            source.withPlatformString { from in destination.withPlatformString { to in Glibc.rename(from, to) } }
        }
    }

    /// Removes the name `path` (a file or link, never a folder).
    ///
    /// The corresponding C function is `unlink`.
    static func removeName(_ path: FilePath) throws(Errno) {
        try retrying { path.withPlatformString { unlink($0) } }
    }

    /// The target of the symbolic link at `path`, as its bytes with a terminating NUL (never normalized, so the
    /// link can be made again exactly).
    ///
    /// The corresponding C function is `readlink`.
    static func linkTarget(_ path: FilePath) throws(Errno) -> [CChar] {
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = path.withPlatformString { readlink($0, &target, target.count - 1) }
        guard length >= 0 else { throw Errno(rawValue: errno) }
        target.removeSubrange(length...)
        target.append(0)
        return target
    }

    /// Makes a symbolic link at `path` to `target` (bytes with a terminating NUL).
    ///
    /// The corresponding C function is
    /// `symlink`.
    static func makeSymbolicLink(_ path: FilePath, target: [CChar]) throws(Errno) {
        try retrying { path.withPlatformString { symlink(target, $0) } }
    }

    /// Calls `call` until it is not interrupted; throws the error of a failure (a result of -1).
    private static func retrying(_ call: () -> Int32) throws(Errno) {
        while call() != 0 {
            let error = Errno(rawValue: errno)
            if error != .interrupted { throw error }
        }
    }
}

extension Errno {
    /// Runs a swift-system call, whose failures are all `Errno` though its signature leaves the error untyped.
    @inline(__always)
    static func typed<T>(_ call: () throws -> T) throws(Errno) -> T {
        do {
            return try call()
        } catch let error as Errno {
            throw error
        } catch {
            // Not reached: swift-system throws nothing else. Should it one day, the failure still stops the run.
            throw Errno.ioError
        }
    }
}
