#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who this process runs as, for the audit log (settlement spec §11.6): the effective user, named by the password
/// database, and the host name.
///
/// Only the kernel and the password database count: environment variables such as `USER` or `LOGNAME` are set by
/// whoever starts the process, so they could name anyone.
public struct OperatingSystemIdentity: Sendable, Equatable, CustomStringConvertible {
    /// The effective user id.
    public var userID: UInt32
    /// The user's name in the password database; nil when the id has no entry (a container's arbitrary uid).
    public var userName: String?
    /// The host name.
    public var host: String

    /// Creates an identity.
    public init(userID: UInt32, userName: String?, host: String) {
        self.userID = userID
        self.userName = userName
        self.host = host
    }

    /// The identity of this process, asked of the operating system now.
    public static func current() -> OperatingSystemIdentity {
        let uid = geteuid()
        return OperatingSystemIdentity(userID: UInt32(uid), userName: passwordDatabaseName(of: uid), host: hostName())
    }

    /// `name@host`, or `uid 1234@host` when the user id has no entry in the password database.
    public var description: String { "\(userName ?? "uid \(userID)")@\(host)" }

    /// The name of `uid` in the password database (files, LDAP, … as NSS is configured), or nil when it has none.
    ///
    /// The corresponding C function is `getpwuid_r`.
    static func passwordDatabaseName(of uid: uid_t) -> String? {
        let suggested = sysconf(Int32(_SC_GETPW_R_SIZE_MAX))
        var size = suggested > 0 ? Int(suggested) : 1024
        // A directory service may hold entries longer than the suggestion: grow on ERANGE, up to 1 MiB.
        while size <= 1 << 20 {
            var buffer = [CChar](repeating: 0, count: size)
            // The entry's strings live in `buffer`: read the name before the pointer goes out of scope.
            let (status, name) = buffer.withUnsafeMutableBufferPointer { storage -> (Int32, String?) in
                guard let base = storage.baseAddress else { return (ERANGE, nil) }
                var entry = passwd()
                var found: UnsafeMutablePointer<passwd>?
                let status = getpwuid_r(uid, &entry, base, storage.count, &found)
                guard status == 0, found != nil, let name = entry.pw_name else { return (status, nil) }
                return (status, String(cString: name))
            }
            if status == ERANGE {
                size *= 2
                continue
            }
            return name?.isEmpty == false ? name : nil
        }
        return nil
    }

    /// The host name the kernel holds, or `unknown-host` when it cannot be read.
    ///
    /// The corresponding C function is `gethostname`.
    static func hostName() -> String {
        // 255 is the longest host name POSIX allows; one more byte keeps room for the terminating NUL.
        var buffer = [CChar](repeating: 0, count: 257)
        let status = buffer.withUnsafeMutableBufferPointer { storage in
            storage.baseAddress.map { gethostname($0, storage.count - 1) } ?? -1
        }
        guard status == 0 else { return "unknown-host" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "unknown-host" : name
    }
}
