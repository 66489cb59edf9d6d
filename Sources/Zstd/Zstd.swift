import CZstd

/// Whole-buffer zstd compression and decompression, for tests and small files; streaming inside.
public enum Zstd {
    /// Compresses `bytes` into one zstd frame with a content checksum, at compression `level`.
    ///
    /// Throws `usage` for a level outside zstd's range and `outOfMemory` when zstd cannot allocate its context.
    public static func compress(_ bytes: [UInt8], level: Int32 = 3) throws(ZstdError) -> [UInt8] {
        let compressor = try ZstdCompressor(level: level, checksum: true)
        var result: [UInt8] = []
        result.reserveCapacity(ZSTD_compressBound(bytes.count))
        // `withUnsafeBytes` rethrows untyped errors, so the typed error travels out as a `Result`.
        let outcome = bytes.withUnsafeBytes { raw in
            Result { () throws(ZstdError) in
                var input = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
                var remaining = 1
                while remaining != 0 {
                    let chunk: UnsafeRawBufferPointer
                    (chunk, remaining) = try compressor.step(&input, ZSTD_e_end)
                    result.append(contentsOf: chunk)
                }
            }
        }
        try outcome.get()
        return result
    }

    /// Decompresses a complete zstd stream (one or more frames), verifying frame checksums when present.
    ///
    /// The whole result is held in memory; large files go through `ZstdDecompressor` or `ZstdFileReader`. Throws
    /// as ``ZstdDecompressor/finish()`` does for a stream that is cut short, corrupt or fails its checksum.
    public static func decompress(_ bytes: [UInt8]) throws(ZstdError) -> [UInt8] {
        let decompressor = try ZstdDecompressor()
        var result: [UInt8] = []
        let outcome = bytes.withUnsafeBytes { raw in
            Result { () throws(ZstdError) in
                var input = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
                while let chunk = try decompressor.nextChunk(&input) {
                    result.append(contentsOf: chunk)
                }
            }
        }
        try outcome.get()
        try decompressor.finish()
        return result
    }
}
