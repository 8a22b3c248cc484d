#pragma once
// The change-set encoder, shared by encodeChangeSet (a ChangeSet in memory) and the store (its own rows,
// without materialising a Row per row: docs/ARCHITECTURE.md, "Encoding from the store"). Internal.
#include <algorithm>
#include <string>
#include <vector>

#include "syncore/cell.hpp"
#include "syncore/changeset.hpp"
#include "syncore/deflate.hpp"

namespace syncore {
namespace enc {

/** A row as the encoder reads it; indexes are the change set's. */
struct EncRow {
    RowKind kind = RowKind::Field;
    uint8_t flags = 0;
    uint32_t doc = 0;
    uint32_t field = 0;
    Stamp stamp;
    uint64_t seq = 0;
    Stamp base;
    const Cell *value = nullptr; // set by the source for every Field row that is not Absent
    double counter = 0;          // Counter rows: the running total
};

constexpr uint8_t kHasBase = 0x10;

inline bool hasField(RowKind k) { return k != RowKind::Cl; }
inline bool hasValue(RowKind k, uint8_t flags) {
    return k == RowKind::Counter || (k == RowKind::Field && !(flags & rowflag::Absent));
}
inline uint8_t kindFlags(const EncRow &r) {
    return static_cast<uint8_t>(static_cast<uint8_t>(r.kind) | (r.flags << 2) | (r.base.isZero() ? 0 : kHasBase));
}

// Column encoder: a sequence of runs and literal groups. Header varint h: h & 1 == 0 -> a run of
// (h >> 1) copies of the next value; h & 1 == 1 -> (h >> 1) literal values follow. Appended to `out`.
class RleWriter {
  public:
    explicit RleWriter(Bytes &out) : m_out(out) {}
    void add(uint64_t v) {
        if (m_run > 0 && v == m_value) {
            ++m_run;
            return;
        }
        closeRun();
        m_value = v;
        m_run = 1;
    }
    /** Writes what is pending: `out` is complete only after this. */
    void finish() {
        closeRun();
        flushLiterals();
        spill();
    }

  private:
    // Varints go to a small buffer first and reach `out` in blocks (a push_back per byte was 8% of a
    // large commit's encoding).
    void put(uint64_t v) {
        if (m_n > sizeof m_buf - 10)
            spill();
        while (v >= 0x80) {
            m_buf[m_n++] = static_cast<uint8_t>(v | 0x80);
            v >>= 7;
        }
        m_buf[m_n++] = static_cast<uint8_t>(v);
    }
    void spill() {
        m_out.insert(m_out.end(), m_buf, m_buf + m_n);
        m_n = 0;
    }
    void closeRun() {
        if (m_run == 0)
            return;
        if (m_run >= 2) {
            flushLiterals();
            put(m_run << 1);
            put(m_value);
        } else {
            if (m_nLiterals == kMaxLiterals)
                flushLiterals(); // a literal group may be split: no allocation
            m_literals[m_nLiterals++] = m_value;
        }
        m_run = 0;
    }
    void flushLiterals() {
        if (m_nLiterals == 0)
            return;
        put((static_cast<uint64_t>(m_nLiterals) << 1) | 1);
        for (size_t i = 0; i < m_nLiterals; ++i)
            put(m_literals[i]);
        m_nLiterals = 0;
    }
    static constexpr size_t kMaxLiterals = 64;
    Bytes &m_out;
    uint8_t m_buf[256];
    size_t m_n = 0;
    uint64_t m_literals[kMaxLiterals];
    size_t m_nLiterals = 0;
    uint64_t m_value = 0;
    uint64_t m_run = 0;
};

/** The deflated form of a plain change set when asked for and worth it (FORMAT.md), else the plain one. */
Bytes finish(Bytes &&plain, bool compress);

/**
 * Arrays and objects (Packed cells) that repeat within one change set, counted and encoded once each
 * (docs/ARCHITECTURE.md, "Repeated arrays and objects"). A change set of 100,000 documents that each
 * hold one of a few hundred tag lists walks each list once, not 200,000 times, for the same bytes.
 */
class PackedMemo {
  public:
    static constexpr size_t kMaxBytes = 64;      // larger values are walked as before
    static constexpr size_t kMaxDistinct = 4096; // then values not seen yet are walked as before
    /** Off: every value is walked (tests compare the two encodings). */
    static inline bool enabled = true;
    void clear();
    /** Counts one occurrence of a packed value; false if the memo does not take it (walk it instead). */
    bool add(std::string_view packed);
    /** Adds every distinct value's strings to the table, as many times as the value occurred. */
    void countInto(StringTable &table) const;
    /** After table.build(): encodes every distinct value once. */
    void encode(const StringTable &table);
    /** Writes a value add() took, as Cell::write would; false if it is not in the memo. */
    bool write(Writer &w, std::string_view packed) const;

  private:
    struct Entry {
        std::string_view bytes; // the cell's own bytes, alive while the change set is encoded
        uint32_t hash;
        uint32_t count;
        uint32_t slot;
        uint32_t out = 0, outSize = 0; // its encoding, in m_out
    };
    static uint32_t hashOf(std::string_view b);
    int32_t lookup(std::string_view b, uint32_t hash) const; // entry index, or -(slot + 1) where it would go
    std::vector<Entry> m_entries;
    std::vector<int32_t> m_slots; // entry index + 1, 0 = empty; 2 x kMaxDistinct (a power of two) once used
    Bytes m_out;
};

// Work buffers kept between calls (a store encodes one small change set per local write).
struct Scratch {
    PackedMemo packed;
    Bytes cols[11]; // ten columns and the values
    std::vector<uint32_t> docOrder, docRank, siteOrder, siteRank;
    struct Key {
        uint64_t seq;
        uint32_t site; // rank of the origin's site id
        uint32_t rank; // rank of the document id
        uint32_t row;
    };
    std::vector<Key> keys;
    void trim();
};
Scratch &scratch();

/** What the encoder reads: a ChangeSet in memory, or the store's own rows. One non-template encoder
 *  behind a small interface: a second instantiation cost about 30 KB of WebAssembly. */
class Source {
  public:
    virtual ~Source() = default;
    virtual const std::vector<SiteId> &sites() const = 0;
    virtual const std::vector<std::string> &fieldNames() const = 0;
    virtual size_t parts() const = 0;
    virtual const std::string &name(size_t p) const = 0;
    virtual const std::vector<std::string> &docIds(size_t p) const = 0;
    virtual const std::vector<Range> &ranges(size_t p) const = 0;
    virtual size_t rowCount(size_t p) const = 0;
    /** Called twice per row: keep it cheap. */
    virtual EncRow row(size_t p, size_t i) const = 0;
    /** The row's value cell, if it has one (string counting). */
    virtual const Cell *value(size_t p, size_t i) const = 0;
    /** True when the part's rows are known to be in the encoder's order already (one origin site, seqs
     *  strictly increasing), with their smallest clock in minHlc: the encoder then skips its first pass. */
    virtual bool inSeqOrder(size_t, uint64_t &) const { return false; }
};

/** Encodes the change set `src` describes (FORMAT.md, "Change set"). */
Bytes encode(const Source &src, bool compress);

} // namespace enc
} // namespace syncore
