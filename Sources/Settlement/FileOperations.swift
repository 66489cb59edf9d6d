import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Durable file operations: atomic writes (temporary name, fsync, rename, fsync of the folder) and moves.
enum FileOperations {
    /// Creates a folder and its parents.
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SettlementError(code: .io, message: "cannot create the folder \(path): \(error.localizedDescription)")
        }
    }

    /// Writes `bytes` to `path` atomically: readers see the old file or the whole new one, never a part.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("cannot create \(temporary)") }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
        guard ok, fsync(fd) == 0 else {
            let error = ioError("cannot write \(temporary)")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = ioError("cannot rename \(temporary) to \(path)")
            unlink(temporary)
            throw error
        }
        syncDirectory(directory)
    }

    /// Moves a file, replacing the destination; nothing to do when the source is gone (moved before).
    /// Returns true when it moved something.
    @discardableResult
    static func move(_ source: String, to destination: String) throws -> Bool {
        guard FileManager.default.fileExists(atPath: source) else { return false }
        if rename(source, destination) == 0 {
            syncDirectory((destination as NSString).deletingLastPathComponent)
            syncDirectory((source as NSString).deletingLastPathComponent)
            return true
        }
        guard errno == EXDEV else { throw ioError("cannot move \(source) to \(destination)") }
        // Another file system: copy durably, then remove the source.
        guard let data = FileManager.default.contents(atPath: source) else { throw ioError("cannot read \(source)") }
        try writeAtomically(Array(data), to: destination)
        guard unlink(source) == 0 else { throw ioError("cannot remove \(source) after copying it") }
        return true
    }

    /// True when the file at `path` has exactly these bytes.
    static func hasContents(_ path: String, _ bytes: [UInt8]) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return data.count == bytes.count && data.elementsEqual(bytes)
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    private static func ioError(_ what: String) -> SettlementError {
        SettlementError(
            code: .io, message: "\(what): \(String(cString: strerror(errno))); check the folder's space and permissions"
        )
    }
}
