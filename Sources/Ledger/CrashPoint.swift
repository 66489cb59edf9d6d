import Foundation
import Synchronization

/// Named moments of a run where the fault tests kill the process (`SIGKILL`, as `kill -9` would), to prove
/// that a crash at any of them leaves the database and the files recoverable.
///
/// Inactive unless `MYNAPOINT_CRASH_AT` names a point (`name` or `name#n` for its n-th time); costs one
/// comparison per point otherwise. `MYNAPOINT_PAUSE_AT` names a point to wait at instead, for the tests that
/// start a second process while the first is there: the process creates the file `MYNAPOINT_PAUSE_FILE` + `.paused`
/// and waits until `MYNAPOINT_PAUSE_FILE` exists. Compiled only into builds with `MYNAPOINT_FAULT_INJECTION` (debug builds, which
/// the tests run): in a release build `reach` is empty and the environment variable does nothing.
public enum CrashPoint {
    #if MYNAPOINT_FAULT_INJECTION
    private static let target: (name: String, hit: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["MYNAPOINT_CRASH_AT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: "#", maxSplits: 1)
        return (String(parts[0]), parts.count == 2 ? Int(parts[1]) ?? 1 : 1)
    }()
    private static let pause: (name: String, file: String)? = {
        let environment = ProcessInfo.processInfo.environment
        guard let name = environment["MYNAPOINT_PAUSE_AT"], let file = environment["MYNAPOINT_PAUSE_FILE"] else {
            return nil
        }
        return (name, file)
    }()
    private static let hits = Mutex<[String: Int]>([:])

    /// Kills the process here when this point is the one named in `MYNAPOINT_CRASH_AT`, or waits here when it is
    /// the one named in `MYNAPOINT_PAUSE_AT`.
    @inline(__always)
    public static func reach(_ name: StaticString) {
        if let pause, pause.name == String(describing: name) { wait(releasedBy: pause.file) }
        guard let target else { return }
        check(String(describing: name), target)
    }

    /// Says it is waiting, then waits until the test creates `file`.
    private static func wait(releasedBy file: String) {
        FileManager.default.createFile(atPath: file + ".paused", contents: Data())
        while !FileManager.default.fileExists(atPath: file) { usleep(10_000) }
    }

    private static func check(_ name: String, _ target: (name: String, hit: Int)) {
        guard name == target.name else { return }
        let count = hits.withLock { hits -> Int in
            hits[name, default: 0] += 1
            return hits[name]!
        }
        if count == target.hit { kill(getpid(), SIGKILL) }
    }
    #else
    /// Does nothing: this build has no fault injection.
    @inline(__always)
    public static func reach(_ name: StaticString) {}
    #endif
}
