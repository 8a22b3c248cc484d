#pragma once
// Cell: how the store holds one field value (docs/ARCHITECTURE.md, "Memory layout").
//
// 16 bytes. null, booleans and numbers inline; a string as its UTF-8 bytes; an array or object as its
// canonical encoding in the value format of docs/FORMAT.md (no string table, numbers with the smallest
// tag, object keys in byte order). Bytes of up to 8 are held inline, longer ones in one heap block.
// Equal JSON makes equal cells: an integral double is the integer (1.0 is 1), so equality and hashing
// work on the bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "syncore/bytes.hpp"
#include "syncore/value.hpp"

namespace syncore {

class StringTable;

class Cell {
  public:
    enum class Kind : uint8_t { Null, False, True, Int, Uint, Double, Str, Packed };

    Cell() noexcept { m_v.i = 0; }
    ~Cell() {
        if (m_n > kInline) // only Str and Packed have bytes; a moved-from cell has none
            release();
    }
    Cell(const Cell &o);
    Cell &operator=(const Cell &o);
    // Moves are inline: cells move through every put, row and change set.
    Cell(Cell &&o) noexcept : m_v(o.m_v), m_n(o.m_n), m_kind(o.m_kind) {
        o.m_kind = Kind::Null;
        o.m_n = 0;
        o.m_v.i = 0;
    }
    Cell &operator=(Cell &&o) noexcept {
        if (this != &o) {
            if (m_n > kInline)
                release();
            m_v = o.m_v;
            m_n = o.m_n;
            m_kind = o.m_kind;
            o.m_kind = Kind::Null;
            o.m_n = 0;
            o.m_v.i = 0;
        }
        return *this;
    }

    /** The canonical cell of a JSON value (validate it first: NaN/Infinity are not checked here). */
    static Cell of(const Value &v);
    /** validateValue(v, path), then of(v); scalars in one step. Throws Error(InvalidArgument) naming the problem. */
    static Cell ofChecked(const Value &v, const std::string &path);
    static Cell ofNumber(double d);
    static Cell ofString(std::string_view s);
    /**
     * Reads one value in the change-set value format, resolving string-table references and validating
     * as readValue does (tags, UTF-8, depth, NaN, duplicate keys), straight into canonical form.
     */
    static Cell read(Reader &r, const std::vector<std::string> &table);

    Kind kind() const { return m_kind; }
    bool isNull() const { return m_kind == Kind::Null; }
    bool isNumber() const { return m_kind == Kind::Int || m_kind == Kind::Uint || m_kind == Kind::Double; }
    /** The number as a double (isNumber() must hold). */
    double number() const;
    /** Str: the text; Packed: the canonical encoding. */
    std::string_view bytes() const { return {m_n <= kInline ? m_v.inl : m_v.p, m_n}; }

    Value toValue() const;
    /** Rank of the JSON type in compareValues' order (typeRank of the value). */
    int typeRank() const;
    /** JSON type name: "null", "boolean", "number", "string", "array", "object". */
    const char *typeName() const;

    friend bool operator==(const Cell &a, const Cell &b);
    friend bool operator!=(const Cell &a, const Cell &b) { return !(a == b); }
    /** compareValues(toValue(), v), without building the value for scalars and strings. */
    int compare(const Value &v) const;
    /** Adds the cell to a state hash (hashValue is this of Cell::of). Equal JSON hashes equal. */
    void hash(Fnv64 &h) const;
    /** Same as approxValueSize(toValue()). */
    size_t approxSize() const;

    /** Writes the cell as writeValue(w, toValue(), table) would. */
    void write(Writer &w, const StringTable &table) const;
    /** Counts the cell's strings (and keys) into a string table; they must outlive the table's build(). */
    void countStrings(StringTable &table) const;
    /** The same for the canonical bytes of a Packed cell, `times` over. */
    static void countPackedStrings(std::string_view packed, StringTable &table, uint32_t times);
    /** Writes the canonical bytes of a Packed cell, its strings the table holds as references. */
    static void writePacked(Writer &w, std::string_view packed, const StringTable &table);

  private:
    static constexpr uint32_t kInline = 8;
    void setBytes(Kind k, const char *p, size_t n);
    void release() noexcept;

    union {
        int64_t i;
        uint64_t u;
        double d;
        char *p;
        char inl[kInline];
    } m_v;
    uint32_t m_n = 0; // byte length (Str, Packed)
    Kind m_kind = Kind::Null;
};

} // namespace syncore
