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
/// It takes an exclusive `flock` on a file in the temporary directory for the whole suite. flock locks belong
/// to an open file description, so two suites of one process exclude each other as two processes do.
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
