#pragma once
// JSON text <-> Value, for the binding boundary (documents and results cross it as JSON text).
// Our own small parser and writer rather than nlohmann's: nlohmann's parser, serializer and their number
// code were about 60 KB of the package's WebAssembly (docs/ARCHITECTURE.md, "Module size"), and a
// single-pass parser is faster on bulk inserts.
#include <cstddef>
#include <functional>
#include <string>

#include "syncore/value.hpp"

namespace syncore {

/** Deepest nesting the parser accepts (the store's own limit, kMaxValueDepth, is checked later). */
constexpr int kMaxJsonTextDepth = 512;

/**
 * Parses RFC 8259 JSON text (one value, optional surrounding whitespace). Integers without fraction or
 * exponent that fit int64/uint64 stay integers; other numbers are doubles (out-of-range numbers are an
 * error, not Infinity). Strings must be valid UTF-8 and \u escapes valid UTF-16 (no lone surrogates).
 * Throws Error(InvalidArgument) "invalid JSON text: <what> at byte <n>" (`what` names the input).
 */
Value parseJsonText(const char *data, size_t size, const char *what = "JSON text");
inline Value parseJsonText(const std::string &s, const char *what = "JSON text") {
    return parseJsonText(s.data(), s.size(), what);
}

/** A JSON value's text inside a larger text (a document member, an array element), not yet parsed. */
struct JsonSpan {
    const char *data = nullptr;
    size_t size = 0;
    /** True for a string without escapes: its bytes are data[1 .. size-2] (already checked as UTF-8
     *  without control characters), no parse needed. */
    bool plainString = false;
};

/**
 * Walks the members of the JSON object in `data` without building it: fn(key, value) per member, in text
 * order, each value a span checked to be well-formed JSON (parse it with parseJsonText, or read a plain
 * string directly). Throws Error(InvalidArgument) like parseJsonText, also when the text is not an object.
 */
void forEachJsonMember(const char *data, size_t size, const char *what,
                       const std::function<void(const std::string &key, const JsonSpan &value)> &fn);
/** The same over the elements of a JSON array. */
void forEachJsonElement(const char *data, size_t size, const char *what,
                        const std::function<void(const JsonSpan &value)> &fn);

/** Appends v as compact JSON text (object keys in Value's order; doubles in the shortest form that
 *  reads back to the same double). Throws Error(InvalidArgument) for NaN/Infinity or binary values. */
void writeJsonText(std::string &out, const Value &v);
/** Appends s (UTF-8) as a JSON string literal. */
void writeJsonString(std::string &out, const std::string &s);
inline std::string toJsonText(const Value &v) {
    std::string s;
    writeJsonText(s, v);
    return s;
}

} // namespace syncore
