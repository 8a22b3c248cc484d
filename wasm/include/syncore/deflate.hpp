#pragma once
// Raw DEFLATE (RFC 1951), our own implementation: large change sets (whole states, catch-up batches) are
// compressed with it (docs/FORMAT.md, "Change set"). Emscripten's zlib port cannot be downloaded on
// the build machines, and this is all the core needs of zlib: about 500 lines, no dependency, and the
// output is standard, so any inflater (zlib, the browser's DecompressionStream) reads it. The tests
// check it against the system zlib both ways.
#include <cstddef>
#include <cstdint>

#include "syncore/bytes.hpp"

namespace syncore {

/** Compresses `data` as raw DEFLATE. `effort` 1..9 bounds the match search (like zlib's level). */
Bytes deflateRaw(const uint8_t *data, size_t size, int effort = 6);
inline Bytes deflateRaw(const Bytes &b, int effort = 6) { return deflateRaw(b.data(), b.size(), effort); }

/**
 * Decompresses raw DEFLATE. Throws Error(Decode) naming the problem for malformed input, for output
 * beyond `maxOutput` bytes, and for bytes left over after the final block.
 */
Bytes inflateRaw(const uint8_t *data, size_t size, size_t maxOutput);

} // namespace syncore
