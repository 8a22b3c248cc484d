#pragma once
// MessagePack <-> Value for the protocol frames and the storage records (docs/FORMAT.md,
// docs/PROTOCOL.md). Our own small reader and writer instead of nlohmann's to_msgpack/from_msgpack:
// those were about 3 KB gzip of the package's WebAssembly (ours about 2 KB), and the reader's error
// messages were the last use of snprintf, so printf's formatter left the module with it. Same bytes out,
// same inputs accepted: tests/core/test_msgpack.cpp and fuzz_msgpack check both against nlohmann.
#include <cstddef>
#include <cstdint>

#include "syncore/bytes.hpp"
#include "syncore/value.hpp"

namespace syncore {

/**
 * The bytes nlohmann's Value::to_msgpack writes: the smallest int/uint format for integers (positive
 * ones as unsigned), float32 for a double a float holds exactly, else float64; the smallest str/bin/
 * array/map header; binary with a subtype as (fix)ext; object members in key order.
 */
Bytes toMsgpack(const Value &v);

/**
 * What nlohmann's Value::from_msgpack(data, data + size, strict = true, allow_exceptions = false)
 * returns: one value and nothing after it, else a discarded Value. Map keys must be strings (a repeated
 * key keeps its last value), ext types become binary with a subtype, float32 becomes a double.
 * Iterative: any nesting depth, no recursion.
 */
Value fromMsgpack(const uint8_t *data, size_t size);

} // namespace syncore
