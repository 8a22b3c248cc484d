#pragma once
// Decimal text <-> double without the C library's strtod and printf: in the package's WebAssembly those
// two pulled in musl's scanner, printf's formatter and 128-bit soft float, about 11 KB gzip
// (docs/ARCHITECTURE.md, "Module size"). Both are exact (big-integer arithmetic where the double fast
// path cannot decide) and give the same results as a correctly rounding C library.
#include <cstddef>
#include <string>

namespace syncore {

/**
 * Reads a number in JSON's grammar (`-?digits[.digits][(e|E)[+-]digits]`, already checked by the
 * caller) as the nearest double, ties to even, like strtod: values too small for a denormal become
 * (signed) zero. Returns false, leaving `out` alone, when the value rounds past DBL_MAX (where strtod
 * returns HUGE_VAL).
 */
bool decimalToDouble(const char *text, size_t size, double &out);

/**
 * Appends a finite d exactly as `printf("%.*g", p, d)` does for the smallest p of 15, 16, 17 whose text
 * reads back as d (17 always does). Negative zero is "-0".
 */
void appendShortestDouble(std::string &out, double d);

} // namespace syncore
