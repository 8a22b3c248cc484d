#pragma once
// The change-set encoder, shared by encodeChangeSet (a ChangeSet in memory) and the store (its own rows,
// without materialising a Row per row: docs/ARCHITECTURE.md, "Encoding from the store"). Internal.
//
// A Source describes the change set:
//   const std::vector<SiteId> &sites() const;
//   const std::vector<std::string> &fieldNames() const;
//   size_t parts() const;
//   const std::string &name(size_t p) const;
//   const std::vector<std::string> &docIds(size_t p) const;
//   const std::vector<Range> &ranges(size_t p) const;
//   size_t rowCount(size_t p) const;
//   EncRow row(size_t p, size_t i) const;   // called twice per row: keep it cheap
//   const Cell *value(size_t p, size_t i) const;  // the row's value cell, if it has one (string counting)
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
    void finish() {
        closeRun();
        flushLiterals();
    }

  private:
    void put(uint64_t v) {
        while (v >= 0x80) {
            m_out.push_back(static_cast<uint8_t>(v | 0x80));
            v >>= 7;
        }
        m_out.push_back(static_cast<uint8_t>(v));
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
    uint64_t m_literals[kMaxLiterals];
    size_t m_nLiterals = 0;
    uint64_t m_value = 0;
    uint64_t m_run = 0;
};

/** The deflated form of a plain change set when asked for and worth it (FORMAT.md), else the plain one. */
Bytes finish(Bytes &&plain, bool compress);

// Work buffers kept between calls (a store encodes one small change set per local write).
struct Scratch {
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

template <class Source> Bytes encode(const Source &src, bool compress) {
    Scratch &work = scratch();
    struct Trim { // also when encoding throws
        Scratch &w;
        ~Trim() { w.trim(); }
    } trimAfter{work};
    Writer w;
    size_t approx = 64;
    for (size_t p = 0; p < src.parts(); ++p)
        approx += src.rowCount(p) * 8 + src.docIds(p).size() * 8;
    w.bytes().reserve(approx);
    w.u8(kChangeSetVersion);
    w.u8(0); // flags: plain (finish() may deflate the body)

    StringTable table;
    for (size_t p = 0; p < src.parts(); ++p)
        for (size_t i = 0, n = src.rowCount(p); i < n; ++i)
            if (const Cell *v = src.value(p, i))
                v->countStrings(table); // (counter totals are numbers: no strings)
    table.build();

    const auto &sites = src.sites();
    w.varint(sites.size());
    for (const auto &s : sites)
        w.raw(s.bytes.data(), 16);
    w.varint(table.strings().size());
    for (const auto &s : table.strings())
        w.str(s);
    w.varint(src.fieldNames().size());
    for (const auto &f : src.fieldNames())
        w.str(f);
    // Rows go in (origin site id, seq, document id) order: rank the sites by their bytes once.
    std::vector<uint32_t> &siteRank = work.siteRank, &siteOrder = work.siteOrder;
    siteRank.assign(sites.size(), 0);
    siteOrder.resize(sites.size());
    for (uint32_t i = 0; i < siteOrder.size(); ++i)
        siteOrder[i] = i;
    std::sort(siteOrder.begin(), siteOrder.end(), [&](uint32_t a, uint32_t b) { return sites[a] < sites[b]; });
    for (uint32_t i = 0; i < siteOrder.size(); ++i)
        siteRank[siteOrder[i]] = i;
    w.varint(src.parts());
    std::vector<uint32_t> &docOrder = work.docOrder, &docRank = work.docRank;
    for (size_t p = 0; p < src.parts(); ++p) {
        w.str(src.name(p));
        // Document ids sorted and front coded: shared prefix with the previous id, then the rest.
        const std::vector<std::string> &ids = src.docIds(p);
        docOrder.resize(ids.size());
        for (uint32_t i = 0; i < docOrder.size(); ++i)
            docOrder[i] = i;
        std::sort(docOrder.begin(), docOrder.end(), [&](uint32_t x, uint32_t y) { return ids[x] < ids[y]; });
        docRank.assign(ids.size(), 0);
        for (uint32_t i = 0; i < docOrder.size(); ++i)
            docRank[docOrder[i]] = i;
        w.varint(ids.size());
        const std::string *prev = nullptr;
        for (uint32_t di : docOrder) {
            const std::string &id = ids[di];
            size_t shared = 0;
            if (prev)
                while (shared < prev->size() && shared < id.size() && (*prev)[shared] == id[shared])
                    ++shared;
            w.varint(shared);
            w.varint(id.size() - shared);
            w.raw(id.data() + shared, id.size() - shared);
            prev = &id;
        }
        w.varint(src.ranges(p).size());
        for (const auto &g : src.ranges(p)) {
            w.varint(g.site);
            w.varint(g.from);
            w.varint(g.to - g.from);
        }
        const size_t n = src.rowCount(p);
        w.varint(n);
        // Rows in (origin, seq) order: a transaction's rows share a stamp and count up in seq, so the
        // clock and seq columns collapse into runs. (Measured against document order on the benchmark
        // workload: smaller for whole states and for scattered-update deltas alike.) The decoder does
        // not depend on the order. One sort key per row, then one pass that feeds every column.
        auto &keys = work.keys;
        keys.resize(n);
        uint64_t minHlc = n ? UINT64_MAX : 0;
        for (size_t i = 0; i < n; ++i) {
            EncRow r = src.row(p, i);
            keys[i] = {r.seq, siteRank[r.stamp.site], docRank[r.doc], static_cast<uint32_t>(i)};
            minHlc = std::min(minHlc, r.stamp.hlc);
        }
        auto less = [](const Scratch::Key &x, const Scratch::Key &y) {
            if (x.site != y.site)
                return x.site < y.site;
            if (x.seq != y.seq)
                return x.seq < y.seq;
            return x.rank < y.rank;
        };
        if (!std::is_sorted(keys.begin(), keys.end(), less))
            std::sort(keys.begin(), keys.end(), less);
        w.varint(minHlc);
        for (auto &c : work.cols)
            c.clear();
        RleWriter kind(work.cols[0]), doc(work.cols[1]), field(work.cols[2]), epoch(work.cols[3]), hlc(work.cols[4]),
            site(work.cols[5]), seq(work.cols[6]), bEpoch(work.cols[7]), bHlc(work.cols[8]), bSite(work.cols[9]);
        Writer values;
        values.bytes().swap(work.cols[10]);
        int64_t prevDoc = 0;
        uint64_t prevHlc = minHlc, prevSeq = 0;
        for (const auto &k : keys) {
            EncRow r = src.row(p, k.row);
            kind.add(kindFlags(r));
            doc.add(zigzag(static_cast<int64_t>(k.rank) - prevDoc));
            prevDoc = k.rank;
            if (hasField(r.kind))
                field.add(r.field);
            epoch.add(r.stamp.epoch);
            hlc.add(zigzag(static_cast<int64_t>(r.stamp.hlc - prevHlc)));
            prevHlc = r.stamp.hlc;
            site.add(r.stamp.site);
            seq.add(zigzag(static_cast<int64_t>(r.seq - prevSeq)));
            prevSeq = r.seq;
            if (!r.base.isZero()) {
                bEpoch.add(r.base.epoch);
                bHlc.add(zigzag(static_cast<int64_t>(r.stamp.hlc - r.base.hlc)));
                bSite.add(r.base.site);
            }
            if (r.kind == RowKind::Counter)
                Cell::ofNumber(r.counter).write(values, table);
            else if (hasValue(r.kind, r.flags))
                r.value->write(values, table);
        }
        for (RleWriter *c : {&kind, &doc, &field, &epoch, &hlc, &site, &seq, &bEpoch, &bHlc, &bSite})
            c->finish();
        values.bytes().swap(work.cols[10]);
        for (const auto &c : work.cols) {
            w.varint(c.size());
            w.raw(c.data(), c.size());
        }
    }
    return finish(std::move(w.bytes()), compress);
}

} // namespace enc
} // namespace syncore
