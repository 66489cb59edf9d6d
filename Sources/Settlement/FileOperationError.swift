import DropFormat
import SystemPackage

/// A file-system call of settlement that failed: what was being done, on which path, and the system's error.
///
/// Always on the operator's side (settlement spec §11.3): it stops the run and never reaches a provider's file, so
/// its sentence may name server paths and the system's words, and ends with what the operator can do.
struct FileOperationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the run was doing.
    enum Operation: Sendable, Equatable {
        /// Listing a folder's entries.
        case readFolder
        /// Looking at an entry without opening it (`lstat`, `fstat`).
        case examine
        case open
        case read
        /// Creating a new file.
        case create
        case createFolder
        /// Creating a private folder for `pack`'s files before they get their names.
        case createStagingFolder
        case write
        case setMode
        /// Renaming a written temporary file over its final name.
        case rename(to: String)
        case move(to: String)
        /// Moving an entry to another file system, where only plain files and symbolic links can follow.
        case moveAcrossFileSystems(EntryKind, to: String)
        /// Removing an entry once its copy on another file system is complete.
        case removeMoved
        case readLink
        case makeLink
    }

    /// What the run was doing.
    var operation: Operation
    /// The file or folder, as the operator's messages show it.
    var path: String
    /// The system's error.
    var errno: Errno

    /// The failure of `operation` on `path`.
    init(_ operation: Operation, _ path: String, _ errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// The failure of `operation` on an entry of a drop folder.
    init(_ operation: Operation, _ path: EntryPath, _ errno: Errno) {
        self.init(operation, path.display, errno)
    }

    /// One sentence: what failed and where, the system's words, what to do.
    var description: String {
        if case .moveAcrossFileSystems(let kind, let destination) = operation {
            return
                "cannot move \(path) (\(kind.description)) to \(destination) on another file system; keep the drop folders on one file system"
        }
        return "\(what): \(errno); \(advice)"
    }

    /// What failed, and where.
    private var what: String {
        switch operation {
        case .readFolder: "cannot read the folder \(path)"
        case .examine: "cannot examine \(path)"
        case .open: "cannot open \(path)"
        case .read: "cannot read \(path)"
        case .create: "cannot create \(path)"
        case .createFolder: "cannot create the folder \(path)"
        case .createStagingFolder: "cannot create a staging folder in \(path)"
        case .write: "cannot write \(path)"
        case .setMode: "cannot set the mode of \(path)"
        case .rename(let destination): "cannot rename \(path) to \(destination)"
        case .move(let destination), .moveAcrossFileSystems(_, let destination):
            "cannot move \(path) to \(destination)"
        case .removeMoved: "cannot remove \(path) after moving it"
        case .readLink: "cannot read the link \(path)"
        case .makeLink: "cannot make the link \(path)"
        }
    }

    /// What the operator can do: first what the error itself points to, else what the operation needs.
    private var advice: String {
        switch errno {
        case .noSpace, .diskQuotaExceeded: return "free space on that file system, then run again"
        case .readOnlyFileSystem: return "that file system is mounted read-only; choose folders on a writable one"
        case .permissionDenied, .notPermitted: return "check the owner and mode of the file and its folder"
        case .ioError: return "the disk reported an error; check it before running again"
        case .isDirectory: return "name a file, not a folder"
        case .fileExists where operation == .createFolder:
            return "something that is not a folder has that name; move it away"
        default: break
        }
        switch operation {
        case .readFolder, .createStagingFolder: return "check the path and its permissions"
        case .open: return "check the path, the file's owner and its mode"
        case .examine, .read, .readLink: return "check the file's permissions and the disk it is on"
        default: return "check the folder's space and permissions"
        }
    }
}

extension SettlementError {
    /// A file operation that failed: an operator-side `.io` failure that stops the run (settlement spec §11.3).
    init(_ error: FileOperationError) {
        self.init(code: .io, message: error.description)
    }
}
