import CZstd

/// A streaming zstd decompressor with bounded memory: one reused output buffer of one block, no whole-file buffers.
///
/// A stream is one or more frames (zstd or skippable) back to back; content checksums are verified when a frame
/// has one. Feed the stream with ``decompress(_:sink:)`` in pieces of any size, then call ``finish()``, which
/// rejects a stream that ends inside a frame or holds no frame. After any error the decompressor keeps throwing
/// that error until ``reset()``.
///
/// Memory: the output buffer (``maxChunkSize`` bytes) plus zstd's window, at most zstd's default limit of
/// 128 MiB (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`); frames that need more are rejected as ``ZstdError/Code/corrupt``.
///
/// Not `Sendable`: a `ZSTD_DCtx` must not be used by two threads at once, so each thread creates its own
/// (or receives one with `sending`).
public final class ZstdDecompressor {
    /// The largest chunk handed to a sink: zstd's recommended output size, one full block (`ZSTD_DStreamOutSize`).
    public static var maxChunkSize: Int { ZSTD_DStreamOutSize() }

    /// The `ZSTD_DCtx`, owned by this object alone.
    private let context: OpaquePointer
    /// Reused for every call; a sink sees a view of it that is valid only during its call.
    private let output: UnsafeMutableRawBufferPointer
    /// The first error, repeated until `reset()`: after a failure zstd's context is in no defined state.
    private var failure: ZstdError?
    /// A full output buffer means zstd may hold more output, so it must be called again even without input.
    private var outputWasFull = false
    /// Whether a frame has ended since the stream began; a stream without a frame is not valid.
    private var sawFrameEnd = false
    /// Compressed bytes consumed since the last frame ended: non-zero at `finish()` means a cut frame.
    private var bytesSinceFrameEnd = 0
    /// The first (up to 4) bytes since the last frame ended, to tell a cut frame from trailing garbage.
    private var frameHead: (count: Int, bytes: UInt32) = (0, 0)
    /// Compressed bytes consumed since the stream began, for error messages.
    private var consumedTotal = 0

    /// Creates a decompressor with its own zstd context and output buffer.
    ///
    /// Throws `outOfMemory` when zstd cannot allocate the context. The corresponding C function is `ZSTD_createDCtx`.
    public init() throws(ZstdError) {
        guard let context = ZSTD_createDCtx() else {
            throw ZstdError(code: .outOfMemory, message: "ZSTD_createDCtx failed")
        }
        self.context = context
        self.output = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(context)
        output.deallocate()
    }

    /// Feeds compressed bytes and calls `sink` with each decompressed chunk (at most ``maxChunkSize`` bytes,
    /// valid only during the call).
    ///
    /// Throws a ``ZstdError`` for a corrupt stream or a checksum mismatch, or the error `sink` threw; either way
    /// the decompressor then needs ``reset()``. The corresponding C function is `ZSTD_decompressStream`.
    public func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while let chunk = try nextChunk(&buffer) {
            guard !chunk.isEmpty else { continue }
            do {
                try sink(chunk)
            } catch {
                // zstd has consumed input whose output the sink did not take: the stream cannot continue.
                failure = ZstdError(code: .usage, message: "the output sink threw; reset() before reuse")
                throw error
            }
        }
    }

    /// Ends the stream: throws ``ZstdError/Code/truncated`` if it ends inside a frame or holds no frame at all,
    /// ``ZstdError/Code/corrupt`` if the bytes after the last frame cannot start one.
    ///
    /// On success the decompressor is ready for the next stream.
    public func finish() throws(ZstdError) {
        if let failure { throw failure }
        if sawFrameEnd && bytesSinceFrameEnd == 0 {
            resetStreamState()
            return
        }
        let error: ZstdError
        if bytesSinceFrameEnd == 0 {
            error = ZstdError(code: .truncated, message: "empty stream: no zstd frame")
        } else if frameHead.count < 4 && !Self.canStartFrame(frameHead) {
            // Recent libzstd rejects such a tail itself at its first byte; older ones wait for a whole frame
            // header, so a tail shorter than a magic number that cannot begin one is judged here.
            error = ZstdError(
                code: .corrupt,
                message: "\(bytesSinceFrameEnd) trailing bytes after \(consumedTotal - bytesSinceFrameEnd) "
                    + "compressed bytes are not a zstd frame"
            )
        } else {
            error = ZstdError(
                code: .truncated,
                message: "stream ends inside a frame after \(consumedTotal) compressed bytes"
            )
        }
        failure = error
        throw error
    }

    /// Forgets the current stream (and any error) so the next call starts a new one.
    ///
    /// The corresponding C function is `ZSTD_DCtx_reset`.
    public func reset() {
        // Resetting only the session cannot fail (it keeps the parameters, which are the defaults).
        _ = ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        resetStreamState()
    }

    private func resetStreamState() {
        failure = nil
        outputWasFull = false
        sawFrameEnd = false
        bytesSinceFrameEnd = 0
        frameHead = (0, 0)
        consumedTotal = 0
    }

    /// Runs one `ZSTD_decompressStream` step and returns the bytes it produced (possibly none), or nil once the
    /// input is consumed and zstd holds no more output.
    func nextChunk(_ input: inout ZSTD_inBuffer) throws(ZstdError) -> UnsafeRawBufferPointer? {
        if let failure { throw failure }
        guard input.pos < input.size || outputWasFull else { return nil }
        var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let start = input.pos
        let result = ZSTD_decompressStream(context, &out, &input)
        if ZSTD_isError(result) != 0 {
            let error = ZstdError.fromZstd(
                result,
                otherwise: .corrupt,
                context: "(after \(consumedTotal) compressed bytes)"
            )
            failure = error
            throw error
        }
        let consumed = input.pos - start
        consumedTotal += consumed
        if result == 0 {
            // zstd returns 0 only when a frame is complete and flushed, and never reads past a frame's end in the
            // same call, so every byte consumed so far belongs to finished frames.
            sawFrameEnd = true
            bytesSinceFrameEnd = 0
            frameHead = (0, 0)
        } else {
            bytesSinceFrameEnd += consumed
            var index = start
            while frameHead.count < 4 && index < input.pos, let base = input.src {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                frameHead.bytes |= UInt32(byte) << (8 * frameHead.count)
                frameHead.count += 1
                index += 1
            }
        }
        outputWasFull = out.pos == out.size
        return UnsafeRawBufferPointer(start: output.baseAddress, count: out.pos)
    }

    /// Whether the first `head.count` bytes of a frame (little-endian in `head.bytes`) can begin a zstd frame or
    /// a skippable frame.
    private static func canStartFrame(_ head: (count: Int, bytes: UInt32)) -> Bool {
        let mask: UInt32 = head.count >= 4 ? .max : (1 << (8 * UInt32(head.count))) - 1
        let skippableMask = mask & UInt32(ZSTD_MAGIC_SKIPPABLE_MASK)
        return head.bytes & mask == UInt32(ZSTD_MAGICNUMBER) & mask
            || head.bytes & skippableMask == UInt32(ZSTD_MAGIC_SKIPPABLE_START) & skippableMask
    }
}
