#pragma once
// Document values are JSON (nlohmann::json). This file holds what the core needs of them beyond the
// library: validation (no NaN/Infinity, bounded depth), a total order for queries, a compact binary
// encoding with a string dictionary for change sets, and hashing for state hashes.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "syncore/bytes.hpp"

namespace syncore {

using Value = nlohmann::json;

constexpr int kMaxValueDepth = 64;

/** True if the bytes are well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
bool isValidUtf8(const char *s, size_t n);
inline bool isValidUtf8(const std::string &s) { return isValidUtf8(s.data(), s.size()); }

/** Throws Error(InvalidArgument) naming `path` if v holds NaN/Infinity, binary data, a string or key
 *  that is not UTF-8, or nests too deep. */
void validateValue(const Value &v, const std::string &path);

/** Total order over JSON: null < bool < number < string < array < object, then by value. */
int compareValues(const Value &a, const Value &b);
/** Rank of a JSON type in that order (0..5). */
int typeRank(const Value &v);

/** Approximate encoded size, for batch splitting and document size limits. */
size_t approxValueSize(const Value &v);

/** Adds a canonical form of v to a hash. Equal JSON (1 and 1.0 included) hashes equal. */
void hashValue(Fnv64 &h, const Value &v);

/** Strings seen twice or more in a change set are written once, in a table, and referenced by index. */
class StringTable {
  public:
    /** Longest string the table considers. Long repeated strings are rare inside one transaction, and a
     *  large change set is deflated, which shares them anyway; counting every title cost a hash insert
     *  per document. */
    static constexpr size_t kMaxLength = 16;
    /** Counts a string; it must stay alive until build() (the table keeps a view of it until then). */
    void count(std::string_view s, uint32_t times = 1) {
        if (s.size() >= 2 && s.size() <= kMaxLength)
            slot(s).count += times;
    }
    void countValue(const Value &v);
    /** Freezes the table: strings seen at least twice get an index. */
    void build();
    /** Index of s, or -1 when it is written inline. */
    int64_t find(std::string_view s) const;
    bool empty() const { return m_strings.empty(); }
    const std::vector<std::string> &strings() const { return m_strings; }

  private:
    // Open addressing with linear probing over a power-of-two array (a change set counts a string per
    // short value: std::unordered_map cost a node allocation per distinct string and a murmur hash each).
    struct Slot {
        const char *p = nullptr;
        uint32_t n = 0; // 0: empty (counted strings have at least 2 bytes)
        uint32_t hash = 0;
        uint32_t count = 0;
        int32_t index = -1;
    };
    static uint32_t hashOf(std::string_view s);
    /** The slot holding s, inserted (count 0) if it is not there yet. */
    Slot &slot(std::string_view s);
    void grow();
    std::vector<Slot> m_slots;
    size_t m_used = 0;
    std::vector<std::string> m_strings;
};

void writeValue(Writer &w, const Value &v, const StringTable &table);
Value readValue(Reader &r, const std::vector<std::string> &table, int depth = 0);

} // namespace syncore
