import Foundation
public import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A suite trait giving the suite the vpcd readers alone: suites in this process and in other test processes on
/// the machine (there is one pcscd) that carry it run one after another.
///
/// It takes an exclusive `flock` on a file in the temporary directory around the whole suite: Swift Testing calls
/// the scope of a suite trait that is not recursive once, for the suite, with all of the suite's tests inside it,
/// and the suite's tests do not inherit the trait. flock locks belong to an open file description and every
/// acquisition opens the file anew, so two suites of one process exclude each other as two processes do.
///
/// The trait does not order the suite's own tests: the suite needs `.serialized` as well, or its tests, and the
/// cases of a parameterised test, would use the readers at the same time.
public struct VirtualReaderLock: SuiteTrait, TestScoping {
    /// The lock file every process agrees on.
    public static let path = "/tmp/mynapoint-virtual-readers.lock"

    /// Runs the suite holding the lock.
    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let descriptor = try await Self.acquire()
        defer { close(descriptor) }  // closing the descriptor releases the lock
        try await function()
    }

    /// Opens the lock file and waits for the lock on a dedicated thread, keeping the cooperative pool free.
    private static func acquire() async throws -> Int32 {
        let outcome: Result<Int32, any Error> = await withCheckedContinuation { continuation in
            Thread {
                let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
                guard descriptor >= 0 else {
                    let reason = String(cString: strerror(errno))
                    continuation.resume(
                        returning: .failure(VirtualCardError(message: "cannot open \(path): \(reason)")))
                    return
                }
                while flock(descriptor, LOCK_EX) != 0 {
                    guard errno == EINTR else {
                        let reason = String(cString: strerror(errno))
                        close(descriptor)
                        continuation.resume(returning: .failure(VirtualCardError(message: "flock \(path): \(reason)")))
                        return
                    }
                }
                continuation.resume(returning: .success(descriptor))
            }.start()
        }
        return try outcome.get()
    }
}

extension Trait where Self == VirtualReaderLock {
    /// The suite uses the vpcd readers: run it alone among suites that say so (see `VirtualReaderLock`).
    public static var virtualReaders: Self { VirtualReaderLock() }
}
