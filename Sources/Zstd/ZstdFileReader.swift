#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a `.zst` file in fixed-size pieces and decompresses it in the same pass, optionally showing every
/// compressed piece to an observer (to hash the file's bytes while decompressing them).
public struct ZstdFileReader: Sendable {
    /// The file to read.
    public let path: String
    /// Bytes per `read` of the compressed file.
    public let readSize: Int

    /// Creates a reader of the file at `path` that reads `readSize` compressed bytes at a time.
    public init(path: String, readSize: Int = 1 << 18) {
        precondition(readSize > 0, "readSize must be positive")
        self.path = path
        self.readSize = readSize
    }

    /// Decompresses the whole file with `decompressor` (reset first, so one serves many files), calling
    /// `compressedObserver` with every compressed piece in file order and `body` with every decompressed chunk
    /// (at most ``ZstdDecompressor/maxChunkSize`` bytes, valid only during the call).
    ///
    /// Errors: a ``ZstdError`` with ``ZstdError/path`` set for a file that cannot be opened or read
    /// (``ZstdError/Code/io``) or is not one complete, valid zstd stream; or the error `body` threw.
    ///
    /// When decompression fails (zstd's error or `body`'s) and `observeWholeFileOnError` is true, the reader keeps
    /// reading to the end of the file, feeding only the observer, and then throws the first error: the observer
    /// has seen exactly the file's bytes whenever the error is not ``ZstdError/Code/io``, so a caller can still
    /// compare the file's SHA-256. With `observeWholeFileOnError` false, or no observer, it throws at once.
    public func forEachChunk(
        decompressor: ZstdDecompressor,
        compressedObserver: ((UnsafeRawBufferPointer) -> Void)? = nil,
        observeWholeFileOnError: Bool = true,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        decompressor.reset()
        let file = try ReadOnlyFile(path: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
        defer { buffer.deallocate() }
        var firstError: (any Error)?
        while true {
            let count = try file.readChunk(into: buffer)
            if count == 0 { break }
            let piece = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            compressedObserver?(piece)
            guard firstError == nil else { continue }
            var bodyFailed = false
            do {
                try decompressor.decompress(piece) { chunk in
                    do {
                        try body(chunk)
                    } catch {
                        bodyFailed = true
                        throw error
                    }
                }
            } catch {
                let failure = bodyFailed ? error : withPath(error)
                guard observeWholeFileOnError, compressedObserver != nil else { throw failure }
                firstError = failure
            }
        }
        if let firstError { throw firstError }
        do {
            try decompressor.finish()
        } catch {
            throw withPath(error)
        }
    }

    private func withPath(_ error: any Error) -> any Error {
        guard var zstdError = error as? ZstdError else { return error }
        zstdError.path = path
        return zstdError
    }
}

/// An open, read-only file descriptor, closed in `deinit`.
private struct ReadOnlyFile: ~Copyable {
    let path: String
    let descriptor: Int32

    /// The corresponding C function is `open`.
    init(path: String) throws(ZstdError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            throw Self.ioError(errno, "open", path)
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        // A read-only descriptor has nothing to flush, so close's result carries no information.
        _ = close(descriptor)
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file. The corresponding C function is `read`.
    func readChunk(into buffer: UnsafeMutableRawBufferPointer) throws(ZstdError) -> Int {
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let code = errno
            if code != EINTR {
                throw Self.ioError(code, "read", path)
            }
        }
    }

    private static func ioError(_ code: Int32, _ call: String, _ path: String) -> ZstdError {
        ZstdError(code: .io, message: "\(call) failed: \(String(cString: strerror(code))) (errno \(code))", path: path)
    }
}
