// The experimental parameters (literal compression at negative levels) are part of the header only with this
// macro; they are enum values, not symbols, so the shared library links as usual.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

// zstd names this parameter with a macro, which Swift does not import.
static const ZSTD_cParameter CZstd_literalCompressionMode = ZSTD_c_literalCompressionMode;
