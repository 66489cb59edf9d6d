public import Localization

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

    /// Words for a provider in English: what was found instead of a file.
    public var description: String { ProviderMessage.entry(entry).english }

    /// The entry kind in the provider messages' terms.
    public var entry: ProviderMessage.Entry {
        switch self {
        case .regular: .regular
        case .hardLink: .hardLink
        case .symbolicLink: .symbolicLink
        case .directory: .directory
        case .fifo: .fifo
        case .socket: .socket
        case .device: .device
        case .missing: .missing
        }
    }
}
