/// What an entry is, from `lstat` (nothing is followed or opened).
public enum EntryKind: Sendable, Equatable {
    /// A regular file with one name.
    case regular
    /// A regular file with more than one name: its bytes may belong to a file elsewhere, so it is never read.
    case hardLink
    /// A symbolic link (never followed).
    case symbolicLink
    /// A directory.
    case directory
    /// A FIFO (named pipe).
    case fifo
    /// A socket.
    case socket
    /// A block or character device.
    case device
    /// Nothing by that name.
    case missing

    /// Words for a provider: what was found instead of a file.
    public var description: String {
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
