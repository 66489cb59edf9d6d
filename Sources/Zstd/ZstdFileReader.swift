import SystemPackage

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
        let file = try ReadOnlyFile(path: path)
        do {
            try Self.decompress(
                reading: { buffer throws(ZstdError) in try file.readChunk(into: buffer) }, readSize: readSize,
                decompressor: decompressor, compressedObserver: compressedObserver,
                observeWholeFileOnError: observeWholeFileOnError, body)
        } catch {
            throw withPath(error)
        }
    }

    /// Decompresses what `reading` delivers (it fills the buffer it is given and returns the byte count, 0 at the
    /// end), with the same contract as ``forEachChunk(decompressor:compressedObserver:observeWholeFileOnError:_:)``.
    ///
    /// Errors `reading` throws end the call at once, whatever `observeWholeFileOnError` says: the observer cannot
    /// have seen the whole input.
    public static func decompress(
        reading: (UnsafeMutableRawBufferPointer) throws -> Int,
        readSize: Int = 1 << 18,
        decompressor: ZstdDecompressor,
        compressedObserver: ((UnsafeRawBufferPointer) -> Void)? = nil,
        observeWholeFileOnError: Bool = true,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        decompressor.reset()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
        defer { buffer.deallocate() }
        var firstError: (any Error)?
        while true {
            let count = try reading(buffer)
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
                guard observeWholeFileOnError, compressedObserver != nil else { throw error }
                firstError = bodyFailed ? BodyError(error) : error
            }
        }
        if let firstError {
            if let wrapped = firstError as? BodyError { throw wrapped.error }
            throw firstError
        }
        try decompressor.finish()
    }

    /// An error the caller's body threw, kept apart so that no path is attached to it.
    private struct BodyError: Error {
        let error: any Error
        init(_ error: any Error) { self.error = error }
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
    let descriptor: FileDescriptor

    /// The corresponding C function is `open`.
    init(path: String) throws(ZstdError) {
        do {
            // The path as given, not normalized as a `FilePath` would be.
            descriptor = try path.withCString { try FileDescriptor.open($0, .readOnly, options: .closeOnExec) }
        } catch {
            throw Self.ioError(error, "open", path)
        }
        self.path = path
    }

    deinit {
        // A read-only descriptor has nothing to flush, so close's result carries no information.
        try? descriptor.close()
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    ///
    /// The corresponding C function is `read`.
    func readChunk(into buffer: UnsafeMutableRawBufferPointer) throws(ZstdError) -> Int {
        do {
            return try descriptor.read(into: buffer)
        } catch {
            throw Self.ioError(error, "read", path)
        }
    }

    /// The system's error (swift-system throws only `Errno`), in the wrapper's type, naming the call and the file.
    private static func ioError(_ error: any Error, _ call: String, _ path: String) -> ZstdError {
        guard let errno = error as? Errno else {
            return ZstdError(code: .io, message: "\(call) failed: \(error)", path: path)
        }
        return ZstdError(code: .io, message: "\(call) failed: \(errno) (errno \(errno.rawValue))", path: path)
    }
}
