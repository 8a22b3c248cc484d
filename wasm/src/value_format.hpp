#pragma once
// The value encoding's tags (docs/FORMAT.md, "Values"), shared by value.cpp and cell.cpp. Internal.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "syncore/bytes.hpp"
#include "syncore/value.hpp"

namespace syncore {

// Value encoding tags (docs/FORMAT.md, "Values").
enum ValueTag : uint8_t {
    TNull = 0,
    TFalse = 1,
    TTrue = 2,
    TInt = 3,         // zigzag varint
    TUint = 4,        // varint, for integers above INT64_MAX
    TDouble = 5,      // 8 bytes little endian
    TStr = 6,         // varint length + bytes
    TStrRef = 7,      // varint index into the string table
    TArray = 8,       // varint count + values
    TObject = 9,      // varint count + (key, value); a key is a TStr/TStrRef/short string without its tag byte rules
    TSmallInt = 0x10, // 0x10..0x3f: integers 0..47
    TShortStr = 0x40, // 0x40..0x7f: strings of 0..63 bytes, bytes follow
};
constexpr int kSmallIntCount = 0x40 - 0x10;
constexpr size_t kShortStrMax = 0x40 - 1;

/** Integral doubles below this magnitude are integers: written as integers and hashed as integers. */
constexpr double kIntegralDoubleMax = 9.0e15;
inline bool integralDouble(double d) { return d == std::floor(d) && std::fabs(d) < kIntegralDoubleMax; }

/** Canonical number writers: the smallest tag; an integral double as its integer. */
void writeInt(Writer &w, int64_t i);
void writeUint(Writer &w, uint64_t u);
void writeDouble(Writer &w, double d);

/** An empty table: strings are written inline (canonical encodings, cells). */
const StringTable &noStringTable();

/** A string value: a table reference if the table holds it, else inline (short or long form). */
void writeString(Writer &w, std::string_view s, const StringTable &table);

} // namespace syncore
