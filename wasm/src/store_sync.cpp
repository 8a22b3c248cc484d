// Store: delta sync. changesSince answers from current state in (origin, seq) order with coverage
// ranges; applyChanges merges a validated change set atomically. See docs/ARCHITECTURE.md, "Sync".
#include <algorithm>
#include <unordered_map>

#include "changeset_decoder.hpp"
#include "changeset_encoder.hpp"
#include "store_impl.hpp"

namespace syncore {

namespace {

// Collects store rows for one change set, translating store site/field/doc indexes to change-set ones
// in first-seen order, and encodes them straight from the store: no Row is materialised (the encoder
// reads each row through row(); the store must not change until encode() returns).
class Builder final : public enc::Source {
  public:
    explicit Builder(const Store::Impl &m) : m_(&m) {}

    /** Empties the builder for another change set of `m`, keeping small buffers (commits reuse one). */
    void reset(const Store::Impl &m) {
        m_ = &m;
        cs.sites.clear();
        cs.fieldNames.clear();
        std::fill(m_sites.begin(), m_sites.end(), UINT32_MAX);
        std::fill(m_fields.begin(), m_fields.end(), UINT32_MAX);
        for (size_t p = 0; p < m_parts; ++p) {
            auto &c = cs.collections[p];
            c.name.clear();
            c.docIds.clear();
            c.ranges.clear();
            m_rows[p].clear();
            m_docs[p].clear();
            m_small[p].clear();
            m_dense[p].clear();
            if (c.docIds.capacity() > 4096 || m_rows[p].capacity() > 16384 || m_dense[p].capacity() > 16384 ||
                m_docs[p].bucket_count() > 4096) { // a large change set: do not keep its buffers
                std::vector<std::string>().swap(c.docIds);
                std::vector<StoreRow>().swap(m_rows[p]);
                std::vector<uint32_t>().swap(m_dense[p]);
                std::unordered_map<uint32_t, uint32_t>().swap(m_docs[p]);
            }
        }
        m_parts = 0;
    }

    size_t partIndex(const std::string &name) {
        for (size_t i = 0; i < m_parts; ++i)
            if (cs.collections[i].name == name)
                return i;
        if (m_parts == cs.collections.size()) {
            cs.collections.emplace_back();
            m_rows.emplace_back();
            m_order.emplace_back();
            m_docs.emplace_back();
            m_small.emplace_back();
            m_dense.emplace_back();
        }
        cs.collections[m_parts].name = name;
        return m_parts++;
    }
    // Sites and field names are few: a lookup table by store index, grown on demand.
    uint32_t site(uint32_t s) {
        if (s >= m_sites.size())
            m_sites.resize(s + 1, UINT32_MAX);
        if (m_sites[s] == UINT32_MAX) {
            m_sites[s] = static_cast<uint32_t>(cs.sites.size());
            cs.sites.push_back(m_->sites[s]);
        }
        return m_sites[s];
    }
    uint32_t field(uint32_t f) {
        if (f >= m_fields.size())
            m_fields.resize(f + 1, UINT32_MAX);
        if (m_fields[f] == UINT32_MAX) {
            m_fields[f] = static_cast<uint32_t>(cs.fieldNames.size());
            cs.fieldNames.push_back(m_->fieldNames[f]);
        }
        return m_fields[f];
    }
    /** Large change sets (a whole state) map documents through a vector instead of a hash map. */
    void dense(size_t partIdx, size_t docs) { m_dense[partIdx].assign(docs, UINT32_MAX); }

    uint32_t doc(size_t partIdx, uint32_t storeDoc, const std::string &id) {
        auto &dense = m_dense[partIdx];
        if (!dense.empty()) {
            uint32_t &slot = dense[storeDoc];
            if (slot == UINT32_MAX) {
                slot = static_cast<uint32_t>(cs.collections[partIdx].docIds.size());
                cs.collections[partIdx].docIds.push_back(id);
            }
            return slot;
        }
        auto &docIds = cs.collections[partIdx].docIds;
        auto &small = m_small[partIdx];
        auto &map = m_docs[partIdx];
        if (map.empty()) {
            // A small transaction touches a few documents: a linear scan beats a hash map's allocations.
            for (size_t k = 0; k < small.size(); ++k)
                if (small[k] == storeDoc)
                    return static_cast<uint32_t>(k);
            if (small.size() < 16) {
                small.push_back(storeDoc);
                docIds.push_back(id);
                return static_cast<uint32_t>(docIds.size() - 1);
            }
            for (size_t k = 0; k < small.size(); ++k)
                map.emplace(small[k], static_cast<uint32_t>(k));
        }
        auto it = map.find(storeDoc);
        if (it != map.end())
            return it->second;
        uint32_t idx = static_cast<uint32_t>(docIds.size());
        docIds.push_back(id);
        map.emplace(storeDoc, idx);
        return idx;
    }
    Stamp stamp(const Stamp &s) { return Stamp{s.hlc, s.epoch, site(s.site)}; }
    Stamp base(const Stamp &s) {
        if (s.isZero())
            return s;
        if (s.hlc == 0)
            return Stamp{0, s.epoch, 0}; // "no register in this epoch": the site is meaningless
        return stamp(s);
    }

    // Adds the row (kind, sub) of document d: registers its site, field and document, in that order.
    void addRow(size_t partIdx, uint32_t storeDoc, const DocState &d, RowKind kind, size_t sub) {
        if (kind == RowKind::Cl) {
            stamp(d.cl);
            push(partIdx, &d, doc(partIdx, storeDoc, d.id), kind, d.cl, d.clSeq);
        } else if (kind == RowKind::Field) {
            addRegister(partIdx, storeDoc, d, d.fields[sub], kind);
        } else {
            addRegister(partIdx, storeDoc, d, d.counters[sub], kind);
        }
    }
    /**
     * A local commit's rows of document d: those this replica (site 0, registered first) wrote after
     * minSeq, in forEachRow's order, registered as addRow would (field, base site, document): the same
     * change set, with the document looked up once and no per-row dispatch.
     */
    void addLocal(size_t partIdx, uint32_t storeDoc, const DocState &d, uint64_t minSeq) {
        uint32_t di = UINT32_MAX;
        auto docIndex = [&] { return di != UINT32_MAX ? di : (di = doc(partIdx, storeDoc, d.id)); };
        if (!d.cl.isZero() && d.cl.site == 0 && d.clSeq > minSeq)
            push(partIdx, &d, docIndex(), RowKind::Cl, d.cl, d.clSeq);
        auto addAll = [&](const auto &list, RowKind kind) { // field rows, then counter rows
            for (const auto &r : list) {
                if (r.stamp.site != 0 || r.seq <= minSeq)
                    continue;
                field(r.name);
                base(r.base);
                push(partIdx, &r, docIndex(), kind, r.stamp, r.seq);
            }
        };
        addAll(d.fields, RowKind::Field);
        addAll(d.counters, RowKind::Counter);
    }
    bool inSeqOrder(size_t p, uint64_t &minHlc) const override {
        if (m_rows[p].empty() || !m_order[p].inOrder)
            return false;
        minHlc = m_order[p].minHlc;
        return true;
    }

    void reserve(size_t partIdx, size_t rows) { m_rows[partIdx].reserve(rows); }
    bool empty() const {
        for (size_t p = 0; p < m_parts; ++p)
            if (!m_rows[p].empty() || !cs.collections[p].ranges.empty())
                return false;
        return true;
    }
    Bytes encode(bool compress) const { return enc::encode(*this, compress); }

    // The encoder's Source (changeset_encoder.hpp).
    const std::vector<SiteId> &sites() const override { return cs.sites; }
    const std::vector<std::string> &fieldNames() const override { return cs.fieldNames; }
    size_t parts() const override { return m_parts; }
    const std::string &name(size_t p) const override { return cs.collections[p].name; }
    const std::vector<std::string> &docIds(size_t p) const override { return cs.collections[p].docIds; }
    const std::vector<Range> &ranges(size_t p) const override { return cs.collections[p].ranges; }
    size_t rowCount(size_t p) const override { return m_rows[p].size(); }
    const Cell *value(size_t p, size_t i) const override {
        const StoreRow &s = m_rows[p][i];
        if (s.kind != RowKind::Field)
            return nullptr;
        const FieldState &f = *static_cast<const FieldState *>(s.row);
        return f.flags & rowflag::Absent ? nullptr : &f.value;
    }
    enc::EncRow row(size_t p, size_t i) const override {
        const StoreRow &s = m_rows[p][i];
        enc::EncRow e;
        e.kind = s.kind;
        e.doc = s.doc;
        if (s.kind == RowKind::Cl) {
            const DocState &d = *static_cast<const DocState *>(s.row);
            e.stamp = mapped(d.cl);
            e.seq = d.clSeq;
        } else if (s.kind == RowKind::Field) {
            const FieldState &f = *static_cast<const FieldState *>(s.row);
            e.stamp = mapped(f.stamp);
            e.field = m_fields[f.name];
            e.flags = f.flags;
            e.seq = f.seq;
            e.base = mappedBase(f.base);
            if (!(f.flags & rowflag::Absent))
                e.value = &f.value;
        } else {
            const CounterState &c = *static_cast<const CounterState *>(s.row);
            e.stamp = mapped(c.stamp);
            e.field = m_fields[c.name];
            e.seq = c.seq;
            e.base = mappedBase(c.base);
            e.counter = c.total;
        }
        return e;
    }

    ChangeSet cs; // sites, field names, and per part: name, document ids and ranges (rows stay in the store)

  private:
    // A row of the change set: the store's Cl row (its DocState), field or counter row, read in place
    // (no indirection through the document: the encoder reads every row twice).
    struct StoreRow {
        const void *row;
        uint32_t doc; // change-set document index
        RowKind kind;
    };
    // A field or counter row of document d: registers its site, field and document, in that order.
    template <typename R>
    void addRegister(size_t partIdx, uint32_t storeDoc, const DocState &d, const R &r, RowKind kind) {
        stamp(r.stamp);
        field(r.name);
        base(r.base);
        push(partIdx, &r, doc(partIdx, storeDoc, d.id), kind, r.stamp, r.seq);
    }
    // Appends a row, noting whether the part's rows stay in the encoder's order (inSeqOrder: one origin,
    // seqs increasing) and their smallest clock.
    void push(size_t partIdx, const void *row, uint32_t di, RowKind kind, const Stamp &st, uint64_t sq) {
        auto &rows = m_rows[partIdx];
        Order &o = m_order[partIdx];
        if (rows.empty()) {
            o = Order{true, st.site, sq, st.hlc};
        } else {
            o.inOrder = o.inOrder && st.site == o.site && sq > o.lastSeq;
            o.lastSeq = sq;
            o.minHlc = std::min(o.minHlc, st.hlc);
        }
        rows.push_back(StoreRow{row, di, kind});
    }
    // Lookups of what addRow registered.
    Stamp mapped(const Stamp &s) const { return Stamp{s.hlc, s.epoch, m_sites[s.site]}; }
    Stamp mappedBase(const Stamp &s) const {
        if (s.isZero())
            return s;
        if (s.hlc == 0)
            return Stamp{0, s.epoch, 0};
        return mapped(s);
    }
    struct Order {
        bool inOrder = false;
        uint32_t site = 0; // store site index of the rows' origin
        uint64_t lastSeq = 0;
        uint64_t minHlc = 0;
    };
    std::vector<std::vector<StoreRow>> m_rows;
    std::vector<Order> m_order; // per part
    const Store::Impl *m_;
    size_t m_parts = 0; // parts in use (cs.collections may hold more, kept for reuse)
    std::vector<uint32_t> m_sites, m_fields;
    std::vector<std::unordered_map<uint32_t, uint32_t>> m_docs; // store doc -> change-set doc, once past 16
    std::vector<std::vector<uint32_t>> m_small;                 // the first 16 store docs of each part
    std::vector<std::vector<uint32_t>> m_dense;
};

struct RowRef {
    uint32_t site;
    uint64_t seq;
    uint32_t doc;
    RowKind kind;
    uint32_t sub;
};

template <typename F> void forEachRow(const DocState &d, uint32_t docIdx, F &&f) {
    if (!d.cl.isZero())
        f(RowRef{d.cl.site, d.clSeq, docIdx, RowKind::Cl, 0});
    for (uint32_t i = 0; i < d.fields.size(); ++i)
        f(RowRef{d.fields[i].stamp.site, d.fields[i].seq, docIdx, RowKind::Field, i});
    for (uint32_t i = 0; i < d.counters.size(); ++i)
        f(RowRef{d.counters[i].stamp.site, d.counters[i].seq, docIdx, RowKind::Counter, i});
}

size_t approxRowBytes(const DocState &d, const RowRef &r) {
    size_t n = 12 + d.id.size() / 2;
    if (r.kind == RowKind::Field)
        n += d.fields[r.sub].value.approxSize();
    return n;
}

} // namespace

Bytes Store::Impl::buildChanges(const std::vector<std::pair<uint32_t, uint32_t>> &docs, uint64_t minSeq,
                                const std::vector<uint64_t> &vvBefore) const {
    // One builder reused by every commit of this thread: a single-field update allocates next to nothing.
    static thread_local Builder reused(*this);
    Builder &b = reused;
    b.reset(*this);
    b.site(0); // this replica is site 0 of its own change sets
    // Rows per touched collection, collections in index order (as the encoder's part order expects),
    // added straight from the documents (no list of row references in between).
    static thread_local std::vector<uint32_t> touchedColls; // reused, like the builder
    touchedColls.clear();
    for (const auto &touched : docs)
        if (std::find(touchedColls.begin(), touchedColls.end(), touched.first) == touchedColls.end())
            touchedColls.push_back(touched.first);
    std::sort(touchedColls.begin(), touchedColls.end());
    // Every touched collection gets its range, even with no surviving rows (a put then a delete of a
    // new document): "nothing else from me up to seq". Row order is the encoder's business.
    for (const uint32_t ci : touchedColls) {
        const CollectionState &c = colls[ci];
        size_t pi = b.partIndex(c.name);
        size_t nDocs = 0, nRows = 0; // rows at most: a bulk insert's would otherwise grow the vector ~20 times
        for (const auto &touched : docs)
            if (touched.first == ci) {
                const DocState &d = c.docs[touched.second];
                ++nDocs;
                nRows += 1 + d.fields.size() + d.counters.size();
            }
        if (nDocs > 256)
            b.dense(pi, c.docs.size());
        b.reserve(pi, nRows);
        for (const auto &touched : docs) {
            if (touched.first != ci)
                continue;
            b.addLocal(pi, touched.second, c.docs[touched.second], minSeq);
        }
        b.cs.collections[pi].ranges.push_back(Range{0, vvBefore[ci], seq});
    }
    return b.encode(false); // a local transaction's change set stays plain (FORMAT.md)
}

std::vector<Bytes> Store::changesSince(const SyncVector &have, const std::vector<std::string> &collections,
                                       size_t maxBatchBytes) const {
    std::vector<uint32_t> order;
    if (collections.empty()) {
        for (uint32_t i = 0; i < m->colls.size(); ++i)
            order.push_back(i);
    } else {
        for (const auto &name : collections) {
            auto it = m->collIndex.find(name);
            if (it != m->collIndex.end())
                order.push_back(it->second);
        }
    }
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return m->colls[a].name < m->colls[b].name; });
    order.erase(std::unique(order.begin(), order.end()), order.end());

    std::vector<Bytes> out;
    Builder *b = nullptr;
    std::unique_ptr<Builder> holder;
    size_t batchBytes = 0;
    auto newBatch = [&] {
        holder = std::make_unique<Builder>(*m);
        b = holder.get();
        batchBytes = 0;
    };
    auto flush = [&] {
        if (b && !b->empty())
            out.push_back(b->encode(true));
        holder.reset();
        b = nullptr;
    };

    for (uint32_t ci : order) {
        const CollectionState &c = m->colls[ci];
        // What the peer has, in store site indexes (sites we never heard of cannot be below our rows).
        std::vector<uint64_t> haveVv(m->sites.size(), 0);
        auto hit = have.find(c.name);
        if (hit != have.end())
            for (const auto &[site, s] : hit->second) {
                auto si = m->siteIndex.find(site);
                if (si != m->siteIndex.end())
                    haveVv[si->second] = s;
            }
        std::vector<RowRef> rows;
        for (uint32_t di = 0; di < c.docs.size(); ++di)
            forEachRow(c.docs[di], di, [&](const RowRef &r) {
                if (r.seq > haveVv[r.site])
                    rows.push_back(r);
            });
        std::sort(rows.begin(), rows.end(),
                  [](const RowRef &a, const RowRef &x) { return a.site != x.site ? a.site < x.site : a.seq < x.seq; });

        // Coverage bookkeeping per origin: `from` is what the receiver holds after the previous batch.
        std::vector<uint64_t> from = haveVv;
        std::vector<char> inBatch(m->sites.size(), 0);
        std::vector<uint64_t> maxInBatch(m->sites.size(), 0);
        std::vector<uint32_t> batchSites;
        size_t pi = 0;
        auto closeRanges = [&](bool last, uint32_t current) {
            // Sites whose rows all went out get their full vector entry; the site still being sent
            // gets what this batch holds.
            // A range never reaches past this replica's own vector: holding a row that arrived out of
            // order (seq 123 without 100) is no proof of holding everything below it.
            for (uint32_t s : batchSites) {
                bool done = last || s != current;
                uint64_t to = done ? c.vvAt(s) : std::min(maxInBatch[s], c.vvAt(s));
                if (to > from[s]) {
                    b->cs.collections[pi].ranges.push_back(Range{b->site(s), from[s], to});
                    from[s] = to;
                }
                inBatch[s] = 0;
            }
            batchSites.clear();
        };
        auto ensureBatch = [&] {
            if (!b)
                newBatch();
            pi = b->partIndex(c.name);
            if (rows.size() > 1024)
                b->dense(pi, c.docs.size());
        };
        ensureBatch();
        for (size_t i = 0; i < rows.size(); ++i) {
            const RowRef &r = rows[i];
            const DocState &d = c.docs[r.doc];
            const size_t rowBytes = approxRowBytes(d, r);
            if (maxBatchBytes && batchBytes > 0 && batchBytes + rowBytes > maxBatchBytes) {
                closeRanges(false, r.site);
                flush();
                ensureBatch();
            }
            if (!inBatch[r.site]) {
                inBatch[r.site] = 1;
                batchSites.push_back(r.site);
            }
            maxInBatch[r.site] = r.seq;
            b->addRow(pi, r.doc, d, r.kind, r.sub);
            batchBytes += rowBytes;
        }
        closeRanges(true, UINT32_MAX);
        // Origins with nothing left to send (all overwritten) still let the receiver catch up its vector.
        for (uint32_t s = 0; s < c.vv.size(); ++s)
            if (c.vv[s] > from[s])
                b->cs.collections[pi].ranges.push_back(Range{b->site(s), from[s], c.vv[s]});
    }
    flush();
    return out;
}

Bytes Store::encodeState() const {
    auto batches = changesSince({}, {}, 0);
    if (batches.empty())
        return encodeChangeSet(ChangeSet());
    return std::move(batches.front());
}

ApplyResult Store::apply(const Bytes &batch) {
    if (m->txn.active)
        fail(ErrorCode::InvalidArgument, "cannot apply remote changes inside a transaction");
    if (m->noDocuments()) // a first load (a whole state, usually): decoded straight into the store
        return m->loadChanges(batch.data(), batch.size(), true);
    ChangeSet cs = decodeChangeSet(batch);
    return m->applyChanges(cs, true, &batch);
}

ApplyResult Store::apply(const ChangeSet &batch) {
    if (m->txn.active)
        fail(ErrorCode::InvalidArgument, "cannot apply remote changes inside a transaction");
    validateChangeSet(batch);
    ChangeSet copy = batch;
    return m->applyChanges(copy, true, nullptr);
}

void Store::Impl::clearResolved(const CollectionState &c, const DocState &d, uint32_t name, const Stamp &base,
                                ApplyResult *res) {
    if (conflicts.empty())
        return;
    std::string id = conflictId(c.name, d.id, fieldNames[name]);
    auto it = conflicts.find(id);
    if (it == conflicts.end())
        return;
    const Stamp &top =
        cmp(it->second.localStamp, it->second.remoteStamp) >= 0 ? it->second.localStamp : it->second.remoteStamp;
    if (cmp(base, top) < 0)
        return; // the resolver had not seen this conflict's winner
    if (txn.active)
        txn.undo.conflictsRemoved.push_back({id, it->second});
    conflicts.erase(it);
    if (res)
        res->clearedConflicts.push_back(id);
}

void Store::Impl::detectConflict(CollectionState &c, DocState &d, const FieldState *cur, const Row &row,
                                 const Cell &rowValue, const Stamp &st, const Stamp &base, ApplyResult &res) {
    if (c.policy == ConflictPolicy::Lww || !cur)
        return;
    bool rowAbsent = row.flags & rowflag::Absent;
    bool curAbsent = cur->flags & rowflag::Absent;
    if (rowAbsent == curAbsent && (rowAbsent || rowValue == cur->value))
        return; // same outcome: nothing to choose
    int order = cmp(st, cur->stamp);
    bool concurrent;
    if (order > 0) {
        // The incoming write wins. Its base older than ours: its writer never saw our value.
        // Base newer: its writer saw a value we never received, which is no evidence against ours.
        concurrent = cmp(base, cur->stamp) < 0;
    } else {
        // Ours wins. Concurrent if our writer had not seen the incoming value.
        concurrent = cmp(cur->base, st) < 0;
    }
    if (!concurrent)
        return;
    ConflictState rec;
    rec.collection = c.name;
    rec.doc = d.id;
    rec.field = fieldNames[cur->name];
    rec.localValue = cur->value.toValue();
    rec.localAbsent = curAbsent;
    rec.localStamp = cur->stamp;
    rec.remoteValue = rowValue.toValue();
    rec.remoteAbsent = rowAbsent;
    rec.remoteStamp = st;
    rec.localWins = order < 0;
    std::string id = conflictId(c.name, d.id, rec.field);
    conflicts[id] = std::move(rec);
    res.newConflicts.push_back(id);
}

// Applies the rows of one change-set part to its collection. applyChanges runs one per part of a change
// set in memory; the streaming load (StoreSink) runs one per part as the decoder hands the rows out.
class Store::Impl::PartApplier {
  public:
    PartApplier(Store::Impl &m, ApplyResult &res, const std::vector<uint32_t> &siteMap,
                const std::vector<uint32_t> &fieldMap, const CollectionChanges &part,
                const std::vector<uint32_t> &fieldRows)
        : m(m), res(res), siteMap(siteMap), fieldMap(fieldMap), part(part), fieldRows(fieldRows),
          ci(m.collectionIndex(part.name)) {
        // change-set doc -> store doc, found lazily (-1: not looked up yet; -2: known to be absent, as every
        // document is when a state loads into an empty collection: no lookups at all then)
        CollectionState &c = m.colls[ci];
        const bool fresh = c.docs.empty();
        docMap.assign(part.docIds.size(), fresh ? -2 : -1);
        changedDoc.assign(part.docIds.size(), 0);
        if (fresh) { // a whole state into an empty collection sizes the collection once
            c.docs.reserve(part.docIds.size());
            c.index.reserve(part.docIds.size());
            unindexed = 0; // its new documents are indexed together in finish()
            res.changed.reserve(res.changed.size() + part.docIds.size());
        }
    }

    void row(Row &row) {
        CollectionState &c = m.colls[ci];
        Stamp st = mapStamp(row.stamp);
        m.clock.observe(st.hlc);
        if (st.site == 0 && row.seq > m.seq)
            m.seq = row.seq; // our own rows coming back (journal replay)
        DocState *d = lookup(row.doc);
        bool won = false;
        switch (row.kind) {
        case RowKind::Cl:
            if (!d || m.cmp(st, d->cl) > 0) {
                DocState &dd = create(row.doc);
                dd.cl = st;
                dd.clSeq = row.seq;
                m.raiseEpoch(c, dd, st.epoch);
                won = true;
            }
            break;
        case RowKind::Field: {
            if (d && st.epoch < d->epoch)
                break; // written before a delete this replica has seen
            uint32_t name = fieldMap[row.field];
            Stamp base = mapStamp(row.base);
            FieldState *cur = d ? d->field(name) : nullptr;
            int order = cur ? m.cmp(st, cur->stamp) : 1;
            if (order != 0 && cur)
                m.detectConflict(c, *d, cur, row, row.value, st, base, res);
            if (order > 0) {
                DocState &dd = create(row.doc);
                m.raiseEpoch(c, dd, st.epoch);
                cur = dd.field(name);
                if (!cur) {
                    dd.fields.emplace_back();
                    cur = &dd.fields.back();
                    cur->name = name;
                }
                cur->flags = row.flags;
                cur->stamp = st;
                cur->base = base;
                cur->seq = row.seq;
                cur->value = std::move(row.value); // the row is ours: move, don't copy
                won = true;
                d = &dd;
            }
            if ((row.flags & rowflag::Resolves) && d)
                m.clearResolved(c, *d, name, base, &res);
            break;
        }
        case RowKind::Counter: {
            if (d && st.epoch < d->epoch)
                break;
            uint32_t name = fieldMap[row.field];
            CounterState *cur = nullptr;
            if (d)
                for (auto &x : d->counters)
                    if (x.name == name && x.stamp.site == st.site)
                        cur = &x;
            if (cur && m.cmp(st, cur->stamp) <= 0)
                break;
            DocState &dd = create(row.doc);
            m.raiseEpoch(c, dd, st.epoch); // may prune dd.counters: find the contribution again
            cur = nullptr;
            for (auto &x : dd.counters)
                if (x.name == name && x.stamp.site == st.site)
                    cur = &x;
            if (!cur) {
                dd.counters.emplace_back();
                cur = &dd.counters.back();
                cur->name = name;
            }
            cur->stamp = st;
            cur->base = mapStamp(row.base);
            cur->seq = row.seq;
            cur->total = row.value.number();
            won = true;
            break;
        }
        }
        if (won) {
            ++res.rowsApplied;
            if (!changedDoc[row.doc]) {
                changedDoc[row.doc] = 1;
                res.changed.push_back({part.name, part.docIds[row.doc]});
            }
        }
    }

    /** Applies rows in order. The rows of a state or a delta hit documents all over the store (they come in
     *  seq order), so each row's slot in docMap, and the document and fields once it is known, are
     *  prefetched a few rows ahead. */
    void rows(Row *rows, size_t n) {
        constexpr size_t kAhead = 4;
        for (size_t i = 0; i < n; ++i) {
            if (i + 3 * kAhead < n)
                __builtin_prefetch(&docMap[rows[i + 3 * kAhead].doc]);
            if (i + 2 * kAhead < n)
                if (const DocState *d = known(rows[i + 2 * kAhead].doc)) {
                    __builtin_prefetch(d);
                    __builtin_prefetch(reinterpret_cast<const char *>(d) + 64);
                }
            if (i + kAhead < n)
                if (const DocState *d = known(rows[i + kAhead].doc))
                    __builtin_prefetch(d->fields.data());
            row(rows[i]);
        }
    }

    /** The part's coverage ranges, after its rows. */
    void finish() {
        CollectionState &c = m.colls[ci];
        if (unindexed != UINT32_MAX)
            c.index.insertFrom(c.docs, unindexed);
        for (const Range &g : part.ranges) {
            uint32_t s = siteMap[g.site];
            if (c.vvAt(s) >= g.from && g.to > c.vvAt(s)) {
                c.raiseVv(s, g.to);
                res.raised.push_back({c.name, m.sites[s], g.to});
            }
            if (s == 0 && g.to > m.seq && c.vvAt(0) >= g.to)
                m.seq = g.to;
        }
    }

  private:
    Stamp mapStamp(const Stamp &s) const {
        if (s.isZero())
            return s;
        return Stamp{s.hlc, s.epoch, s.hlc == 0 ? 0u : siteMap[s.site]};
    }
    const DocState *known(uint32_t i) const { // the document if it was looked up or created already
        return docMap[i] >= 0 ? &m.colls[ci].docs[static_cast<size_t>(docMap[i])] : nullptr;
    }
    DocState *lookup(uint32_t i) {
        if (docMap[i] == -2)
            return nullptr;
        if (docMap[i] < 0) {
            uint32_t di = m.colls[ci].find(part.docIds[i]);
            if (di == DocIndex::kNone)
                return nullptr;
            docMap[i] = di;
        }
        return &m.colls[ci].docs[static_cast<size_t>(docMap[i])];
    }
    DocState &create(uint32_t i) {
        if (DocState *d = lookup(i))
            return *d;
        CollectionState &c = m.colls[ci];
        if (docMap[i] == -2) { // known absent: append without looking it up again (indexed in finish())
            c.docs.emplace_back();
            c.docs.back().id = part.docIds[i];
        } else {
            bool created;
            m.docForWrite(ci, part.docIds[i], &created);
        }
        docMap[i] = static_cast<int64_t>(c.docs.size() - 1);
        c.docs.back().fields.reserve(fieldRows[i]); // a new document's fields are allocated once, exactly
        return c.docs.back();
    }

    Store::Impl &m;
    ApplyResult &res;
    const std::vector<uint32_t> &siteMap, &fieldMap;
    const CollectionChanges &part;
    const std::vector<uint32_t> &fieldRows;
    uint32_t ci;
    std::vector<int64_t> docMap;
    std::vector<char> changedDoc;
    uint32_t unindexed = UINT32_MAX; // a fresh collection: its documents are not in its index until finish()
};

void Store::Impl::internHeader(const std::vector<SiteId> &sites, const std::vector<std::string> &fieldNames,
                               std::vector<uint32_t> &siteMap, std::vector<uint32_t> &fieldMap) {
    siteMap.resize(sites.size());
    for (size_t i = 0; i < sites.size(); ++i)
        siteMap[i] = internSite(sites[i]);
    fieldMap.resize(fieldNames.size());
    for (size_t i = 0; i < fieldNames.size(); ++i)
        fieldMap[i] = internField(fieldNames[i]);
}

void Store::Impl::endApply(ApplyResult &res, bool journal) {
    for (auto &id : clearedByEpoch)
        res.clearedConflicts.push_back(std::move(id));
    clearedByEpoch.clear();
    if (journal && persistent && !replaying)
        maybeCompact();
}

ApplyResult Store::Impl::applyChanges(ChangeSet &cs, bool journal, const Bytes *encoded) {
    ApplyResult res;
    // Write ahead: once the record is on disk, applying cannot fail (the batch is validated).
    if (journal && persistent && !replaying)
        journalRecord(RecordType::Changes, encoded ? *encoded : encodeChangeSet(cs));

    std::vector<uint32_t> siteMap, fieldMap;
    internHeader(cs.sites, cs.fieldNames, siteMap, fieldMap);
    std::vector<uint32_t> fieldRows;
    for (auto &part : cs.collections) {
        fieldRows.assign(part.docIds.size(), 0);
        for (const Row &row : part.rows)
            fieldRows[row.doc] += row.kind == RowKind::Field;
        PartApplier apply(*this, res, siteMap, fieldMap, part, fieldRows);
        apply.rows(part.rows.data(), part.rows.size());
        apply.finish();
    }
    endApply(res, journal);
    return res;
}

namespace {

// The streaming load: rows go from the decoder straight into the store (no ChangeSet in memory).
class StoreSink final : public dec::Sink {
  public:
    StoreSink(Store::Impl &m, ApplyResult &res) : m(m), res(res) {}
    void header(std::vector<SiteId> &sites, std::vector<std::string> &fieldNames) override {
        m.internHeader(sites, fieldNames, siteMap, fieldMap);
    }
    void part(CollectionChanges &part, const std::vector<uint32_t> &fieldRows, size_t) override {
        applier = std::make_unique<Store::Impl::PartApplier>(m, res, siteMap, fieldMap, part, fieldRows);
    }
    void rows(Row *rows, size_t n) override { applier->rows(rows, n); }
    void endPart() override {
        applier->finish();
        applier.reset();
    }

  private:
    Store::Impl &m;
    ApplyResult &res;
    std::vector<uint32_t> siteMap, fieldMap;
    std::unique_ptr<Store::Impl::PartApplier> applier;
};

} // namespace

bool Store::Impl::noDocuments() const {
    for (const auto &c : colls)
        if (!c.docs.empty())
            return false;
    return conflicts.empty();
}

ApplyResult Store::Impl::loadChanges(const uint8_t *data, size_t size, bool journal) {
    // What the load may change, so a batch that turns out bad halfway leaves the store as it was: the
    // collections were empty, so undoing is emptying them again and forgetting what was interned.
    const size_t nSites = sites.size(), nFields = fieldNames.size(), nColls = colls.size();
    std::vector<std::vector<uint64_t>> vvs;
    for (const auto &c : colls)
        vvs.push_back(c.vv);
    const Clock clockBefore = clock;
    const uint64_t seqBefore = seq;
    ApplyResult res;
    try {
        StoreSink sink(*this, res);
        dec::decode(data, size, sink);
        if (journal && persistent && !replaying)
            journalRecord(RecordType::Changes, Bytes(data, data + size));
    } catch (...) {
        while (colls.size() > nColls) {
            collIndex.erase(colls.back().name);
            colls.pop_back();
        }
        for (size_t i = 0; i < colls.size(); ++i) {
            colls[i].docs.clear();
            colls[i].index = DocIndex();
            colls[i].vv = std::move(vvs[i]);
            colls[i].present = 0;
        }
        while (fieldNames.size() > nFields) {
            fieldIndex.erase(fieldNames.back());
            fieldNames.pop_back();
        }
        while (sites.size() > nSites) {
            siteIndex.erase(sites.back());
            sites.pop_back();
        }
        clock = clockBefore;
        seq = seqBefore;
        clearedByEpoch.clear();
        throw;
    }
    endApply(res, journal);
    return res;
}

VersionVector Store::versionVector(const std::string &collection) const {
    VersionVector out;
    const CollectionState *c = m->findCollection(collection);
    if (!c)
        return out;
    for (uint32_t s = 0; s < c->vv.size(); ++s)
        if (c->vv[s])
            out[m->sites[s]] = c->vv[s];
    return out;
}

std::map<std::string, uint64_t> Store::ownVector() const {
    std::map<std::string, uint64_t> out;
    for (const auto &c : m->colls)
        if (!c.vv.empty() && c.vv[0]) // sites[0] is this replica
            out[c.name] = c.vv[0];
    return out;
}

SyncVector Store::syncVector() const {
    SyncVector out;
    for (const auto &c : m->colls)
        out[c.name] = versionVector(c.name);
    return out;
}

uint64_t Store::stateHash() const {
    Fnv64 h;
    std::vector<const CollectionState *> cs;
    for (const auto &c : m->colls)
        cs.push_back(&c);
    std::sort(cs.begin(), cs.end(), [](auto *a, auto *b) { return a->name < b->name; });
    auto stamp = [&](const Stamp &s) {
        h.add64(s.epoch);
        h.add64(s.hlc);
        if (s.hlc)
            h.add(m->sites[s.site].bytes.data(), 16);
    };
    for (const CollectionState *c : cs) {
        std::vector<const DocState *> docs;
        for (const auto &d : c->docs)
            if (d.epoch || !d.cl.isZero())
                docs.push_back(&d);
        if (docs.empty())
            continue;
        h.add(c->name);
        std::sort(docs.begin(), docs.end(), [](auto *a, auto *b) { return a->id < b->id; });
        for (const DocState *d : docs) {
            h.add(d->id);
            h.add64(d->epoch);
            stamp(d->cl);
            h.add64(d->clSeq);
            std::vector<const FieldState *> fs;
            for (const auto &f : d->fields)
                fs.push_back(&f);
            std::sort(fs.begin(), fs.end(),
                      [&](auto *a, auto *b) { return m->fieldNames[a->name] < m->fieldNames[b->name]; });
            for (const FieldState *f : fs) {
                h.add(m->fieldNames[f->name]);
                h.add64(f->flags);
                stamp(f->stamp);
                stamp(f->base);
                h.add64(f->seq);
                f->value.hash(h);
            }
            std::vector<const CounterState *> ks;
            for (const auto &k : d->counters)
                ks.push_back(&k);
            std::sort(ks.begin(), ks.end(), [&](auto *a, auto *b) {
                const auto &na = m->fieldNames[a->name];
                const auto &nb = m->fieldNames[b->name];
                return na != nb ? na < nb : m->sites[a->stamp.site] < m->sites[b->stamp.site];
            });
            for (const CounterState *k : ks) {
                h.add(m->fieldNames[k->name]);
                stamp(k->stamp);
                stamp(k->base);
                h.add64(k->seq);
                Cell::ofNumber(k->total).hash(h);
            }
        }
    }
    return h.h;
}

void checkClockSkew(const ChangeSet &cs, uint64_t nowMs, uint64_t maxSkewMs) {
    uint64_t limit = hlc::pack(nowMs + maxSkewMs, 0xffff);
    for (const auto &c : cs.collections)
        for (const auto &r : c.rows)
            if (r.stamp.hlc > limit)
                fail(ErrorCode::ClockSkew, "a change in collection '" + c.name + "' is stamped " +
                                               std::to_string(hlc::physicalMs(r.stamp.hlc) - nowMs) +
                                               " ms in the future (the limit is " + std::to_string(maxSkewMs) +
                                               " ms); check the device clock");
}

} // namespace syncore
