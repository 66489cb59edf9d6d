import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `.virtualReaders` holds its lock while the suite's tests run, against this process and against others.
@Suite(.serialized, .virtualReaders, .enabled(if: ProcessInfo.processInfo.environment["MYNAPOINT_SKIP_PCSC"] != "1"))
struct VirtualReaderLockTests {
    @Test func anotherSuiteOfThisProcessWouldWait() throws {
        // Another suite opens the file anew, as here: its lock request must be refused while this suite runs.
        let descriptor = open(VirtualReaderLock.path, O_RDWR | O_CLOEXEC)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let result = flock(descriptor, LOCK_EX | LOCK_NB)
        let error = errno
        #expect(result == -1)
        #expect(error == EWOULDBLOCK)
    }

    @Test func anotherProcessWouldWait() throws {
        // flock(1) with -n exits 1 when it cannot take the lock at once.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["flock", "-n", VirtualReaderLock.path, "true"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
    }
}
