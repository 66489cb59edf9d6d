import CZstd

/// A streaming zstd compressor for result files: bounded memory, one reused output buffer.
///
/// Each ``finish(sink:)`` ends a frame; feeding more input afterwards starts the next frame of the same stream.
/// After any error the compressor keeps throwing that error until ``reset()``.
///
/// Not `Sendable`: a `ZSTD_CCtx` must not be used by two threads at once, so each thread creates its own
/// (or receives one with `sending`).
public final class ZstdCompressor {
    /// The largest chunk handed to a sink: zstd's recommended output size (`ZSTD_CStreamOutSize`).
    public static var maxChunkSize: Int { ZSTD_CStreamOutSize() }

    /// The `ZSTD_CCtx`, owned by this object alone.
    private let context: OpaquePointer
    /// Reused for every call; a sink sees a view of it that is valid only during its call.
    private let output: UnsafeMutableRawBufferPointer
    /// The first error, repeated until `reset()`.
    private var failure: ZstdError?

    /// Creates a compressor at `level` that writes a content checksum into each frame when `checksum` is true.
    ///
    /// `level` is one of zstd's levels, `ZSTD_minCLevel()` to `ZSTD_maxCLevel()`, with 0 meaning zstd's default;
    /// another level throws `usage`. `compressLiterals` Huffman-codes the literals at every level: zstd leaves them
    /// raw at its negative (fast) levels, and data whose literals are most of it (random identifiers) then compresses
    /// far less. The corresponding C function is `ZSTD_createCCtx`.
    public init(level: Int32 = 3, checksum: Bool = true, compressLiterals: Bool = false) throws(ZstdError) {
        guard level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel() else {
            throw ZstdError(
                code: .usage,
                message: "compression level \(level) is outside \(ZSTD_minCLevel())...\(ZSTD_maxCLevel())"
            )
        }
        guard let context = ZSTD_createCCtx() else {
            throw ZstdError(code: .outOfMemory, message: "ZSTD_createCCtx failed")
        }
        var parameters = [(ZSTD_c_compressionLevel, level), (ZSTD_c_checksumFlag, checksum ? 1 : 0)]
        if compressLiterals {
            parameters.append((CZstd_literalCompressionMode, Int32(ZSTD_ps_enable.rawValue)))
        }
        for (parameter, value) in parameters {
            let result = ZSTD_CCtx_setParameter(context, parameter, value)
            if ZSTD_isError(result) != 0 {
                // No deinit runs for an object that never finished initializing, so the context is freed here.
                ZSTD_freeCCtx(context)
                throw ZstdError.fromZstd(result, otherwise: .usage, context: "(ZSTD_CCtx_setParameter)")
            }
        }
        self.context = context
        self.output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
    }

    /// Compresses `input` into the current frame, calling `sink` with each compressed chunk (valid only during
    /// the call); zstd may keep some output until more input or ``finish(sink:)``.
    ///
    /// An error `sink` throws is rethrown, and leaves the compressor failing until ``reset()``: the frame has lost
    /// that chunk. The corresponding C function is `ZSTD_compressStream2`.
    public func compress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        repeat {
            let (chunk, _) = try step(&buffer, ZSTD_e_continue)
            try emit(chunk, to: sink)
        } while buffer.pos < buffer.size
    }

    /// Ends the current frame (writing its checksum), calling `sink` with the remaining compressed chunks.
    ///
    /// Afterwards the compressor is ready for the next frame of the same stream.
    public func finish(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        var remaining = 1
        while remaining != 0 {
            let chunk: UnsafeRawBufferPointer
            (chunk, remaining) = try step(&buffer, ZSTD_e_end)
            try emit(chunk, to: sink)
        }
    }

    /// Drops the current frame (and any error) so the next call starts a new frame.
    ///
    /// The level and checksum setting stay. The corresponding C function is `ZSTD_CCtx_reset`.
    public func reset() {
        // Resetting only the session cannot fail, and keeps the level and checksum parameters.
        _ = ZSTD_CCtx_reset(context, ZSTD_reset_session_only)
        failure = nil
    }

    private func emit(_ chunk: UnsafeRawBufferPointer, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !chunk.isEmpty else { return }
        do {
            try sink(chunk)
        } catch {
            // The chunk is lost to the stream: continuing would write a corrupt frame.
            failure = ZstdError(code: .usage, message: "the output sink threw; reset() before reuse")
            throw error
        }
    }

    /// Runs one `ZSTD_compressStream2` step; returns the bytes it produced and zstd's count of bytes still to
    /// flush (0 once an ended frame is complete).
    func step(
        _ input: inout ZSTD_inBuffer,
        _ directive: ZSTD_EndDirective
    ) throws(ZstdError) -> (UnsafeRawBufferPointer, Int) {
        if let failure { throw failure }
        var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let result = ZSTD_compressStream2(context, &out, &input, directive)
        if ZSTD_isError(result) != 0 {
            let error = ZstdError.fromZstd(result, otherwise: .usage, context: "(ZSTD_compressStream2)")
            failure = error
            throw error
        }
        return (UnsafeRawBufferPointer(start: output.baseAddress, count: out.pos), result)
    }
}
