// Store: tables, documents, local writes and transactions. Sync is in store_sync.cpp, conflicts and
// snapshots in store_conflicts.cpp, persistence in store_storage.cpp, invariants in store_check.cpp.
#include <algorithm>
#include <cmath>

#include "store_impl.hpp"
#include "syncore/json_text.hpp"
#include "syncore/msgpack.hpp"

namespace syncore {

ConflictPolicy parseConflictPolicy(const std::string &name) {
    if (name == "lww")
        return ConflictPolicy::Lww;
    if (name == "manual")
        return ConflictPolicy::Manual;
    if (name == "custom")
        return ConflictPolicy::Custom;
    fail(ErrorCode::InvalidArgument, "unknown conflict policy '" + name + "' (expected 'lww', 'manual' or 'custom')");
}

const char *conflictPolicyName(ConflictPolicy p) {
    switch (p) {
    case ConflictPolicy::Manual:
        return "manual";
    case ConflictPolicy::Custom:
        return "custom";
    default:
        return "lww";
    }
}

Value StampInfo::toJson() const { return Value{{"epoch", epoch}, {"hlc", hlc}, {"site", site.hex()}}; }

namespace {
std::string typeName(const Value &v) {
    switch (v.type()) {
    case Value::value_t::null:
        return "null";
    case Value::value_t::boolean:
        return "a boolean";
    case Value::value_t::string:
        return "a string";
    case Value::value_t::array:
        return "an array";
    case Value::value_t::object:
        return "an object";
    default:
        return v.is_number() ? "a number" : "a non-JSON value";
    }
}

/** "null" stays "null"; any other JSON type name gets its article ("an array", "a string"). */
std::string articled(const std::string &type) {
    if (type == "null")
        return type;
    return (type[0] == 'a' || type[0] == 'o' ? "an " : "a ") + type;
}

void checkCollectionName(const std::string &name) {
    if (name.empty())
        fail(ErrorCode::InvalidArgument, "collection name must be a non-empty string");
    if (name.size() > 256)
        fail(ErrorCode::InvalidArgument, "collection name is longer than 256 bytes");
    if (!isValidUtf8(name))
        fail(ErrorCode::InvalidArgument, "collection name is not valid UTF-8");
}

void checkDocId(const std::string &id) {
    if (id.empty())
        fail(ErrorCode::InvalidArgument, "document id must be a non-empty string");
    if (id.size() > 1024)
        fail(ErrorCode::InvalidArgument, "document id is longer than 1024 bytes");
    if (!isValidUtf8(id))
        fail(ErrorCode::InvalidArgument, "document id is not valid UTF-8");
}

// name == "id" without libstdc++'s out-of-line compare(const char *) (a strlen and a call per field).
bool isIdKey(const std::string &name) { return name.size() == 2 && name[0] == 'i' && name[1] == 'd'; }

void checkFieldName(const std::string &name) {
    if (!isValidUtf8(name))
        fail(ErrorCode::InvalidArgument, "a field name is not valid UTF-8");
    if (isIdKey(name))
        fail(ErrorCode::InvalidArgument, "'id' is the document id, not a field that can be changed");
}
} // namespace

// ---------------------------------------------------------------------------------------------------
// Tables

// ---------------------------------------------------------------------------------------------------
// Document index

uint32_t DocIndex::hashOf(std::string_view id) {
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a, then a murmur3 finaliser so the low bits mix well
    for (unsigned char ch : id)
        h = (h ^ ch) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return static_cast<uint32_t>(h);
}

uint32_t DocIndex::find(const std::vector<DocState> &docs, std::string_view id, uint32_t &hash) const {
    const uint32_t h = hash = hashOf(id);
    if (m_slots.empty())
        return kNone;
    const size_t mask = m_slots.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint64_t s = m_slots[i];
        if (s == 0)
            return kNone;
        if (static_cast<uint32_t>(s >> 32) == h) {
            uint32_t di = static_cast<uint32_t>(s) - 1;
            if (docs[di].id == id)
                return di;
        }
    }
}

void DocIndex::grow(size_t capacity) { // slots carry their hashes: rehashing needs no ids
    size_t size = 16;
    while (size < 2 * capacity + 1) // load factor at most 1/2: a miss probes ~2.5 slots (at 3/4, ~8.5)
        size *= 2;
    if (size <= m_slots.size())
        return;
    std::vector<uint64_t> old;
    old.swap(m_slots);
    m_slots.assign(size, 0);
    const size_t mask = size - 1;
    for (uint64_t s : old) {
        if (s == 0)
            continue;
        size_t i = static_cast<uint32_t>(s >> 32) & mask;
        while (m_slots[i] != 0)
            i = (i + 1) & mask;
        m_slots[i] = s;
    }
}

void DocIndex::reserve(size_t n) { grow(n); }

void DocIndex::insert(uint32_t di, uint32_t h) {
    if ((m_count + 1) * 2 > m_slots.size())
        grow(std::max<size_t>(m_count + 1, m_count * 2));
    const size_t mask = m_slots.size() - 1;
    size_t i = h & mask;
    while (m_slots[i] != 0)
        i = (i + 1) & mask;
    m_slots[i] = (static_cast<uint64_t>(h) << 32) | (static_cast<uint64_t>(di) + 1);
    ++m_count;
}

void DocIndex::insertFrom(const std::vector<DocState> &docs, uint32_t from) {
    if (from >= docs.size())
        return;
    grow(m_count + (docs.size() - from));
    std::vector<uint32_t> hashes(docs.size() - from);
    for (size_t k = 0; k < hashes.size(); ++k)
        hashes[k] = hashOf(docs[from + k].id);
    const size_t mask = m_slots.size() - 1;
    constexpr size_t kAhead = 16;
    for (size_t k = 0; k < hashes.size(); ++k) {
        if (k + kAhead < hashes.size())
            __builtin_prefetch(&m_slots[hashes[k + kAhead] & mask], 1);
        size_t i = hashes[k] & mask;
        while (m_slots[i] != 0)
            i = (i + 1) & mask;
        m_slots[i] = (static_cast<uint64_t>(hashes[k]) << 32) | (static_cast<uint64_t>(from + k) + 1);
    }
    m_count += hashes.size();
}

void DocIndex::erase(const std::vector<DocState> &docs, uint32_t di) {
    const uint64_t want = (static_cast<uint64_t>(hashOf(docs[di].id)) << 32) | (static_cast<uint64_t>(di) + 1);
    const size_t mask = m_slots.size() - 1;
    size_t i = static_cast<uint32_t>(want >> 32) & mask;
    while (m_slots[i] != want) {
        if (m_slots[i] == 0)
            fail(ErrorCode::Internal, "document index: erasing a missing entry");
        i = (i + 1) & mask;
    }
    // Backward-shift deletion: pull later entries of the probe run into the hole.
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; m_slots[j] != 0; j = (j + 1) & mask) {
        size_t home = static_cast<uint32_t>(m_slots[j] >> 32) & mask;
        // j's entry may move to the hole if its home is not in (hole, j] (cyclically).
        bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            m_slots[hole] = m_slots[j];
            hole = j;
        }
    }
    m_slots[hole] = 0;
    --m_count;
}

uint32_t Store::Impl::internSite(const SiteId &s) {
    auto it = siteIndex.find(s);
    if (it != siteIndex.end())
        return it->second;
    uint32_t idx = static_cast<uint32_t>(sites.size());
    sites.push_back(s);
    siteIndex.emplace(s, idx);
    return idx;
}

uint32_t Store::Impl::internField(const std::string &name) {
    auto it = fieldIndex.find(name);
    if (it != fieldIndex.end())
        return it->second;
    uint32_t idx = static_cast<uint32_t>(fieldNames.size());
    fieldNames.push_back(name);
    fieldIndex.emplace(name, idx);
    return idx;
}

uint32_t Store::Impl::putFieldName(size_t pos, const std::string &key) {
    if (pos < lastPutFields.size()) {
        uint32_t name = lastPutFields[pos];
        if (name < fieldNames.size() && fieldNames[name] == key)
            return name;
    } else {
        lastPutFields.resize(pos + 1, UINT32_MAX);
    }
    checkFieldName(key);
    return lastPutFields[pos] = internField(key);
}

void Store::Impl::checkPutCollection(const std::string &name) const {
    if (!isLastPutCollection(name))
        checkCollectionName(name);
}

uint32_t Store::Impl::putCollection(const std::string &name) {
    return isLastPutCollection(name) ? lastPutCollection : (lastPutCollection = collectionIndex(name));
}

uint32_t Store::Impl::collectionIndex(const std::string &name) {
    auto it = collIndex.find(name);
    if (it != collIndex.end())
        return it->second;
    uint32_t idx = static_cast<uint32_t>(colls.size());
    colls.emplace_back();
    colls.back().name = name;
    collIndex.emplace(name, idx);
    return idx;
}

CollectionState &Store::Impl::collection(const std::string &name) { return colls[collectionIndex(name)]; }

CollectionState *Store::Impl::findCollection(const std::string &name) {
    auto it = collIndex.find(name);
    return it == collIndex.end() ? nullptr : &colls[it->second];
}

const CollectionState *Store::Impl::findCollection(const std::string &name) const {
    auto it = collIndex.find(name);
    return it == collIndex.end() ? nullptr : &colls[it->second];
}

int Store::Impl::cmp(const Stamp &a, const Stamp &b) const {
    if (a.epoch != b.epoch)
        return a.epoch < b.epoch ? -1 : 1;
    if (a.hlc != b.hlc)
        return a.hlc < b.hlc ? -1 : 1;
    if (a.hlc == 0 || a.site == b.site)
        return 0;
    return sites[a.site] < sites[b.site] ? -1 : 1;
}

// ---------------------------------------------------------------------------------------------------
// Documents

Cell Store::Impl::counterValue(const DocState &d, uint32_t name, const FieldState *reg) const {
    Stamp r = reg ? reg->stamp : Stamp{0, d.epoch, 0};
    // Sum the contributions that build on the current register, in site-id order so every replica
    // adds the same doubles in the same order.
    std::vector<const CounterState *> parts;
    for (const auto &c : d.counters)
        if (c.name == name && c.base.epoch == r.epoch && c.base.hlc == r.hlc && (r.hlc == 0 || c.base.site == r.site))
            parts.push_back(&c);
    double total = 0;
    if (reg && !(reg->flags & rowflag::Absent)) {
        if (parts.empty())
            return reg->value;
        if (reg->value.isNumber())
            total = reg->value.number();
    } else if (parts.empty()) {
        return Cell(); // caller checks for "no value"
    }
    std::sort(parts.begin(), parts.end(), [&](const CounterState *a, const CounterState *b) {
        return sites[a->stamp.site] < sites[b->stamp.site];
    });
    for (auto *p : parts)
        total += p->total;
    return Cell::ofNumber(total);
}

Value Store::Impl::materialize(const CollectionState &, const DocState &d) const {
    Value out = Value::object();
    out["id"] = d.id;
    for (const auto &f : d.fields) {
        if (f.flags & rowflag::Absent)
            continue;
        out[fieldNames[f.name]] = d.counters.empty() ? f.value.toValue() : counterValue(d, f.name, &f).toValue();
    }
    for (const auto &c : d.counters) {
        const std::string &n = fieldNames[c.name];
        if (out.contains(n))
            continue;
        const FieldState *reg = d.field(c.name);
        Cell v = counterValue(d, c.name, reg);
        if (!v.isNull())
            out[n] = v.toValue();
    }
    return out;
}

void Store::Impl::raiseEpochTo(CollectionState &c, DocState &d, uint32_t epoch) {
    bool was = d.present();
    // Conflict records of a dead epoch are moot: the document was deleted since. Dropping them here is
    // deterministic, so every replica (and a journal replay) does the same. A record is keyed by
    // (collection, document, field) and is made against a field row the document holds, which only
    // this function removes: the document's records are looked up from its rows, not found by scanning
    // every record (which made creating 20,000 documents beside 5,000 records take 2.5 s, not 75 ms).
    if (!conflicts.empty())
        for (const FieldState &f : d.fields) {
            auto it = conflicts.find(conflictId(c.name, d.id, fieldNames[f.name]));
            if (it == conflicts.end() || std::max(it->second.localStamp.epoch, it->second.remoteStamp.epoch) >= epoch)
                continue;
            if (txn.active)
                txn.undo.conflictsRemoved.push_back({it->first, it->second});
            clearedByEpoch.push_back(it->first);
            conflicts.erase(it);
        }
    d.epoch = epoch;
    d.fields.erase(
        std::remove_if(d.fields.begin(), d.fields.end(), [&](const FieldState &f) { return f.stamp.epoch < epoch; }),
        d.fields.end());
    d.counters.erase(std::remove_if(d.counters.begin(), d.counters.end(),
                                    [&](const CounterState &x) { return x.stamp.epoch < epoch; }),
                     d.counters.end());
    bool now = d.present();
    if (was && !now)
        --c.present;
    if (!was && now)
        ++c.present;
}

DocState &Store::Impl::docForWrite(uint32_t coll, const std::string &id, bool *created) {
    CollectionState &c = colls[coll];
    uint32_t hash;
    uint32_t di = c.index.find(c.docs, id, hash);
    if (di != DocIndex::kNone) {
        *created = false;
        return c.docs[di];
    }
    *created = true;
    c.docs.emplace_back();
    c.docs.back().id = id;
    c.index.insert(static_cast<uint32_t>(c.docs.size() - 1), hash);
    return c.docs.back();
}

std::optional<Value> Store::Impl::get(const std::string &coll, const std::string &id) const {
    const CollectionState *c = findCollection(coll);
    if (!c)
        return std::nullopt;
    const DocState *d = c->live(id);
    if (!d)
        return std::nullopt;
    return materialize(*c, *d);
}

// ---------------------------------------------------------------------------------------------------
// Transactions

void Store::Impl::begin() {
    if (txn.active)
        fail(ErrorCode::InvalidArgument, "a transaction is already running; write through its Txn");
    txn.reset();
    txn.active = true;
    txn.id = ++txnCounter;
    clearedByEpoch.clear();
    txn.undo.collections = colls.size();
    txn.seqBefore = seq;
    txn.hlc = clock.next(); // one stamp for the whole transaction: its rows are one atomic write
}

void Store::Impl::touchFields(uint32_t coll, uint32_t doc) {
    CollectionState &c = colls[coll];
    if (c.docs[doc].txnMark == txn.id)
        return;
    txn.touched.push_back({coll, doc});
    if (txn.collVvBefore.size() <= coll)
        txn.collVvBefore.resize(coll + 1, UINT64_MAX);
    if (txn.collVvBefore[coll] == UINT64_MAX) {
        txn.collVvBefore[coll] = c.vvAt(0);
        txn.undo.vvs.push_back({coll, c.vv});
        txn.undo.presentCounts.push_back({coll, c.present});
    }
    c.docs[doc].txnMark = txn.id;
}

void Store::Impl::touch(uint32_t coll, uint32_t doc, bool created) {
    touchFields(coll, doc);
    DocState &d = colls[coll].docs[doc];
    if (d.copyMark == txn.id)
        return;
    d.copyMark = txn.id;
    if (created) {
        for (const auto &cr : txn.undo.created)
            if (cr.first == coll)
                return;
        txn.undo.created.push_back({coll, doc}); // created documents are appended: doc was the count before
        return;
    }
    UndoLog::DocUndo u;
    u.coll = coll;
    u.doc = doc;
    u.before = std::make_unique<DocState>(d);
    txn.undo.docs.push_back(std::move(u));
}

void Store::Impl::rollback() {
    auto &u = txn.undo;
    for (auto it = u.docs.rbegin(); it != u.docs.rend(); ++it) {
        CollectionState &c = colls[it->coll];
        if (it->fieldOnly) {
            DocState &d = c.docs[it->doc];
            if (it->hadField) {
                *d.field(it->field) = std::move(u.fields[it->fieldBefore]);
            } else {
                auto f = std::find_if(d.fields.begin(), d.fields.end(),
                                      [&](const FieldState &x) { return x.name == it->field; });
                d.fields.erase(f);
            }
        } else {
            c.docs[it->doc] = std::move(*it->before);
        }
    }
    for (const auto &[coll, before] : u.created) {
        CollectionState &c = colls[coll];
        for (size_t di = c.docs.size(); di-- > before;)
            c.index.erase(c.docs, static_cast<uint32_t>(di));
        c.docs.resize(before);
    }
    for (auto &[id, rec] : u.conflictsRemoved)
        conflicts[id] = std::move(rec);
    for (auto &[coll, vv] : u.vvs)
        colls[coll].vv = std::move(vv);
    for (auto &[coll, n] : u.presentCounts)
        colls[coll].present = n;
    while (colls.size() > u.collections) {
        collIndex.erase(colls.back().name);
        colls.pop_back();
    }
    seq = txn.seqBefore;
    txn.reset();
}

CommitResult Store::Impl::commit() {
    CommitResult out;
    if (txn.touched.empty()) {
        txn.reset();
        return out;
    }
    try {
        out.changes = buildChanges(txn.touched, txn.seqBefore, txn.collVvBefore);
        for (uint32_t ci = 0; ci < txn.collVvBefore.size(); ++ci) // the collections the transaction touched
            if (txn.collVvBefore[ci] != UINT64_MAX)
                colls[ci].raiseVv(0, seq);
        journalRecord(RecordType::Changes, out.changes);
    } catch (...) {
        rollback();
        throw;
    }
    out.changed.reserve(txn.touched.size());
    for (auto &[c, d] : txn.touched)
        out.changed.push_back({colls[c].name, colls[c].docs[d].id});
    txn.reset();
    maybeCompact();
    return out;
}

void Store::Impl::writeField(CollectionState &c, DocState &d, uint32_t name, Cell v, bool absent, uint8_t flags) {
    FieldState *cur = d.field(name);
    if (d.copyMark != txn.id) { // no whole copy of this document in the undo log: save just this field
        UndoLog::DocUndo u;
        u.coll = static_cast<uint32_t>(&c - colls.data());
        u.doc = static_cast<uint32_t>(&d - c.docs.data());
        u.fieldOnly = true;
        u.field = name;
        u.hadField = cur != nullptr;
        if (cur) {
            u.fieldBefore = static_cast<uint32_t>(txn.undo.fields.size());
            txn.undo.fields.push_back(*cur);
        }
        txn.undo.docs.push_back(std::move(u));
    }
    const uint8_t rowFlags = static_cast<uint8_t>((absent ? rowflag::Absent : 0) | flags);
    if (!cur) {
        appendField(d, name, rowFlags, absent ? Cell() : std::move(v));
        return;
    }
    // Written twice in one transaction: keep the base of the value the transaction replaced.
    bool sameTxn = cur->stamp.hlc == txn.hlc && cur->stamp.site == 0 && cur->stamp.epoch == d.epoch;
    if (!sameTxn)
        cur->base = cur->stamp;
    cur->stamp = localStamp(d.epoch);
    cur->seq = ++seq;
    cur->flags = rowFlags;
    cur->value = absent ? Cell() : std::move(v);
}

void Store::Impl::setField(CollectionState &c, DocState &d, const std::string &key, Cell v) {
    setField(c, d, internField(key), std::move(v));
}

void Store::Impl::setField(CollectionState &c, DocState &d, uint32_t name, Cell v) {
    const FieldState *cur = d.field(name);
    // An unchanged value is not written again: no new row, and no false conflict elsewhere.
    if (cur && !(cur->flags & rowflag::Absent) && !d.hasCounter(name) && cur->value == v)
        return;
    writeField(c, d, name, std::move(v), false, 0);
}

void Store::Impl::txPut(const std::string &coll, Value &&doc) {
    checkPutCollection(coll);
    if (!doc.is_object())
        fail(ErrorCode::InvalidArgument, "document must be a JSON object, got " + typeName(doc));
    static const std::string kId = "id"; // find(const char *) would strlen at every step
    auto idIt = doc.find(kId);
    if (idIt == doc.end() || !idIt->is_string())
        fail(ErrorCode::InvalidArgument, "document has no 'id' (it must be a non-empty string)");
    std::vector<NewField> &fields = scratchFields();
    size_t pos = 0;
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it != idIt) // name order: Value's own
            fields.push_back({putFieldName(pos++, it.key()), 0, Cell::ofChecked(it.value(), it.key())});
    putCells(coll, idIt->get_ref<const std::string &>(), fields);
}

void Store::Impl::txPutJson(const std::string &coll, const char *json, size_t size) {
    checkPutCollection(coll);
    std::vector<NewField> &fields = scratchFields();
    std::string id;
    bool hasId = false;
    uint32_t pos = 0;
    forEachJsonMember(json, size, "document", [&](const std::string &key, const JsonSpan &v) {
        if (isIdKey(key)) {
            if (!v.plainString && (v.size == 0 || v.data[0] != '"'))
                fail(ErrorCode::InvalidArgument, "document has no 'id' (it must be a non-empty string)");
            id = v.plainString ? std::string(v.data + 1, v.size - 2)
                               : parseJsonText(v.data, v.size, "document id").get<std::string>();
            hasId = true;
            return;
        }
        const uint32_t name = putFieldName(pos, key);
        if (v.plainString) {
            fields.push_back({name, pos, Cell::ofString(std::string_view(v.data + 1, v.size - 2))});
        } else {
            fields.push_back({name, pos, Cell::ofChecked(parseJsonText(v.data, v.size, "document"), key)});
        }
        ++pos;
    });
    if (!hasId)
        fail(ErrorCode::InvalidArgument, "document has no 'id' (it must be a non-empty string)");
    // Fields in name order, as put() of a Value has them (equal documents, equal rows and seqs); a
    // repeated key keeps its last value, as JSON.parse does.
    std::sort(fields.begin(), fields.end(), [&](const NewField &x, const NewField &y) {
        return x.name == y.name ? x.pos < y.pos : fieldNames[x.name] < fieldNames[y.name];
    });
    size_t kept = 0;
    for (size_t i = 0; i < fields.size(); ++i) {
        if (kept > 0 && fields[kept - 1].name == fields[i].name)
            fields[kept - 1].value = std::move(fields[i].value);
        else if (kept++ != i)
            fields[kept - 1] = std::move(fields[i]);
    }
    fields.resize(kept);
    putCells(coll, id, fields);
}

std::vector<Store::Impl::NewField> &Store::Impl::scratchFields() {
    static thread_local std::vector<NewField> fields;
    fields.clear();
    return fields;
}

void Store::Impl::putCells(const std::string &coll, const std::string &id, std::vector<NewField> &fields) {
    checkDocId(id);
    size_t bytes = 2 + 4 + id.size() + 2; // {"id":"..."}, then each field, as approxValueSize counts
    for (const auto &f : fields)
        bytes += fieldNames[f.name].size() + 2 + f.value.approxSize();
    if (bytes > options.maxDocumentBytes)
        fail(ErrorCode::LimitExceeded, "document '" + id + "' is larger than the limit of " +
                                           std::to_string(options.maxDocumentBytes) + " bytes");
    uint32_t ci = putCollection(coll);
    bool created;
    uint32_t di = static_cast<uint32_t>(&docForWrite(ci, id, &created) - colls[ci].docs.data());
    touch(ci, di, created);
    CollectionState &c = colls[ci];
    DocState &d = c.docs[di];
    d.fields.reserve(d.fields.size() + fields.size());
    if (!d.present()) {
        uint32_t epoch = d.epoch + 1; // 0 -> 1 (new), even -> odd (brought back after a delete)
        raiseEpoch(c, d, epoch);
        d.cl = localStamp(epoch);
        d.clSeq = ++seq;
    }
    if (created) { // no field to compare with, to save for undo or to remove: the rows are appended
        for (auto &f : fields)
            appendField(d, f.name, 0, std::move(f.value));
        return;
    }
    for (auto &f : fields)
        setField(c, d, f.name, std::move(f.value));
    // Fields the new document no longer has are removed (counters included).
    std::vector<uint32_t> kept;
    kept.reserve(fields.size());
    for (const auto &f : fields)
        kept.push_back(f.name);
    std::sort(kept.begin(), kept.end());
    auto inNew = [&](uint32_t name) { return std::binary_search(kept.begin(), kept.end(), name); };
    std::vector<uint32_t> gone;
    for (const auto &f : d.fields)
        if (!(f.flags & rowflag::Absent) && !inNew(f.name))
            gone.push_back(f.name);
    for (const auto &x : d.counters)
        if (!inNew(x.name) && !d.field(x.name) && std::find(gone.begin(), gone.end(), x.name) == gone.end())
            gone.push_back(x.name);
    for (uint32_t name : gone)
        writeField(c, d, name, Cell(), true, 0);
}

void Store::Impl::txUpdate(const std::string &coll, const std::string &id, const Value &fields) {
    checkCollectionName(coll);
    checkDocId(id);
    if (!fields.is_object())
        fail(ErrorCode::InvalidArgument, "update of '" + id + "' needs an object of fields, got " + typeName(fields));
    for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (it.key() == "id") {
            if (it.value() != Value(id))
                fail(ErrorCode::InvalidArgument, "update cannot change a document's 'id'");
            continue;
        }
        checkFieldName(it.key());
        validateValue(it.value(), it.key());
    }
    CollectionState *cp = findCollection(coll);
    uint32_t di = cp ? cp->find(id) : DocIndex::kNone;
    if (di == DocIndex::kNone || !cp->docs[di].present())
        fail(ErrorCode::NotFound, "no document '" + id + "' in collection '" + coll + "'");
    const uint32_t ci = static_cast<uint32_t>(cp - colls.data());
    size_t extra = approxValueSize(fields);
    if (extra > 1024) {
        Value merged = materialize(colls[ci], colls[ci].docs[di]);
        for (auto it = fields.begin(); it != fields.end(); ++it)
            merged[it.key()] = it.value();
        if (approxValueSize(merged) > options.maxDocumentBytes)
            fail(ErrorCode::LimitExceeded, "document '" + id + "' would be larger than the limit of " +
                                               std::to_string(options.maxDocumentBytes) + " bytes");
    }
    touchFields(ci, di); // only fields change: each write saves its own undo entry
    CollectionState &c = colls[ci];
    DocState &d = c.docs[di];
    for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (it.key() == "id")
            continue;
        setField(c, d, it.key(), Cell::of(it.value()));
    }
}

void Store::Impl::txRemove(const std::string &coll, const std::string &id) {
    checkCollectionName(coll);
    checkDocId(id);
    CollectionState *cp = findCollection(coll);
    if (!cp)
        return;
    uint32_t di = cp->find(id);
    if (di == DocIndex::kNone || !cp->docs[di].present())
        return; // already gone: nothing to do
    uint32_t ci = collIndex.at(coll);
    touch(ci, di, false);
    CollectionState &c = colls[ci];
    DocState &d = c.docs[di];
    uint32_t epoch = d.epoch + 1; // odd -> even: deleted, and every write made before is dead
    raiseEpoch(c, d, epoch);
    d.cl = localStamp(epoch);
    d.clSeq = ++seq;
}

void Store::Impl::txIncrement(const std::string &coll, const std::string &id, const std::string &field, double by) {
    checkCollectionName(coll);
    checkDocId(id);
    checkFieldName(field);
    if (!std::isfinite(by))
        fail(ErrorCode::InvalidArgument, "increment of '" + field + "' must be a finite number");
    CollectionState *cp = findCollection(coll);
    uint32_t di = cp ? cp->find(id) : DocIndex::kNone;
    if (di == DocIndex::kNone || !cp->docs[di].present())
        fail(ErrorCode::NotFound, "no document '" + id + "' in collection '" + coll + "'");
    uint32_t ci = collIndex.at(coll);
    uint32_t name = internField(field);
    {
        const DocState &d = colls[ci].docs[di];
        const FieldState *reg = d.field(name);
        if (reg && !(reg->flags & rowflag::Absent) && !reg->value.isNumber())
            fail(ErrorCode::InvalidArgument,
                 "field '" + field + "' of '" + id + "' holds " + articled(reg->value.typeName()) + ", not a number");
        Cell cur = counterValue(d, name, reg);
        if (cur.isNumber() && !std::isfinite(cur.number() + by))
            fail(ErrorCode::OutOfRange, "increment of '" + field + "' would overflow");
    }
    touch(ci, di, false);
    DocState &d = colls[ci].docs[di];
    const FieldState *reg = d.field(name);
    Stamp r = reg ? reg->stamp : Stamp{0, d.epoch, 0};
    CounterState *own = nullptr;
    for (auto &x : d.counters)
        if (x.name == name && x.stamp.site == 0)
            own = &x;
    if (!own) {
        d.counters.emplace_back();
        own = &d.counters.back();
        own->name = name;
    }
    bool sameBase = own->seq != 0 && own->base.epoch == r.epoch && own->base.hlc == r.hlc &&
                    (r.hlc == 0 || own->base.site == r.site);
    own->total = sameBase ? own->total + by : by;
    own->base = r;
    own->stamp = localStamp(d.epoch);
    own->seq = ++seq;
}

// ---------------------------------------------------------------------------------------------------
// Public API

Store::Store(std::unique_ptr<Impl> impl) : m(std::move(impl)) {}
Store::~Store() = default;

const SiteId &Store::siteId() const { return m->sites[0]; }

void Store::configureCollection(const std::string &collection, ConflictPolicy policy) {
    checkCollectionName(collection);
    if (m->txn.active)
        fail(ErrorCode::InvalidArgument, "cannot configure a collection inside a transaction");
    CollectionState *c = m->findCollection(collection);
    if (c && c->policy == policy)
        return;
    Value rec{{"collection", collection}, {"policy", conflictPolicyName(policy)}};
    m->journalRecord(RecordType::Config, toMsgpack(rec));
    m->collection(collection).policy = policy;
}

ConflictPolicy Store::policy(const std::string &collection) const {
    const CollectionState *c = m->findCollection(collection);
    return c ? c->policy : ConflictPolicy::Lww;
}

uint32_t Store::schemaVersion() const { return m->schemaVersion; }

void Store::setSchemaVersion(uint32_t version) {
    if (version == m->schemaVersion)
        return;
    Value rec{{"schemaVersion", version}};
    m->journalRecord(RecordType::Config, toMsgpack(rec));
    m->schemaVersion = version;
}

namespace {
template <typename F> CommitResult runTxn(Store::Impl &m, F &&f) {
    m.begin();
    try {
        f();
    } catch (...) {
        m.rollback();
        throw;
    }
    return m.commit();
}
} // namespace

CommitResult Store::put(const std::string &collection, Value doc) {
    return runTxn(*m, [&] { m->txPut(collection, std::move(doc)); });
}

CommitResult Store::update(const std::string &collection, const std::string &id, const Value &fields) {
    return runTxn(*m, [&] { m->txUpdate(collection, id, fields); });
}

CommitResult Store::remove(const std::string &collection, const std::string &id) {
    return runTxn(*m, [&] { m->txRemove(collection, id); });
}

CommitResult Store::increment(const std::string &collection, const std::string &id, const std::string &field,
                              double by) {
    return runTxn(*m, [&] { m->txIncrement(collection, id, field, by); });
}

CommitResult Store::transaction(const std::function<void(Txn &)> &fn) {
    Txn tx(*m);
    return runTxn(*m, [&] { fn(tx); });
}

void Txn::put(const std::string &collection, Value doc) { m.txPut(collection, std::move(doc)); }

void Txn::putJson(const std::string &collection, const char *json, size_t size) { m.txPutJson(collection, json, size); }
void Txn::update(const std::string &collection, const std::string &id, const Value &fields) {
    m.txUpdate(collection, id, fields);
}
void Txn::remove(const std::string &collection, const std::string &id) { m.txRemove(collection, id); }
void Txn::increment(const std::string &collection, const std::string &id, const std::string &field, double by) {
    m.txIncrement(collection, id, field, by);
}
std::optional<Value> Txn::get(const std::string &collection, const std::string &id) const {
    return m.get(collection, id);
}

std::optional<Value> Store::get(const std::string &collection, const std::string &id) const {
    return m->get(collection, id);
}

size_t Store::count(const std::string &collection) const {
    const CollectionState *c = m->findCollection(collection);
    return c ? c->present : 0;
}

std::vector<std::string> Store::collections() const {
    std::vector<std::string> out;
    for (const auto &c : m->colls)
        out.push_back(c.name);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<Value> Store::find(const std::string &collection, const Query &query) const {
    std::vector<Value> out;
    const CollectionState *c = m->findCollection(collection);
    if (!c)
        return out;
    // Conditions are checked against stored field values, so only matching documents are built.
    std::vector<const DocState *> hits;
    Cell scratch;
    // Field names are resolved once per query, not once per document.
    constexpr uint32_t kIdField = UINT32_MAX - 1, kNoField = UINT32_MAX;
    auto resolve = [&](const std::string &name) {
        if (name == "id")
            return kIdField;
        auto fi = m->fieldIndex.find(name);
        return fi == m->fieldIndex.end() ? kNoField : fi->second;
    };
    std::vector<uint32_t> whereFields, orderFields;
    for (const auto &cond : query.where)
        whereFields.push_back(resolve(cond.field));
    for (const auto &o : query.orderBy)
        orderFields.push_back(resolve(o.field));
    auto fieldValue = [&](const DocState &d, uint32_t name) -> const Cell * {
        if (name == kIdField) {
            scratch = Cell::ofString(d.id);
            return &scratch;
        }
        if (name == kNoField)
            return nullptr;
        const FieldState *f = d.field(name);
        if (!d.hasCounter(name))
            return f && !(f->flags & rowflag::Absent) ? &f->value : nullptr;
        scratch = m->counterValue(d, name, f);
        return scratch.isNull() && !(f && !(f->flags & rowflag::Absent)) ? nullptr : &scratch;
    };
    for (const auto &d : c->docs) {
        if (!d.present())
            continue;
        bool ok = true;
        for (size_t i = 0; i < query.where.size(); ++i) {
            if (!evalCondition(query.where[i], fieldValue(d, whereFields[i]))) {
                ok = false;
                break;
            }
        }
        if (ok)
            hits.push_back(&d);
    }
    if (!query.orderBy.empty()) {
        // Extract sort keys once, then sort; ties broken by id so results are deterministic.
        struct Keyed {
            const DocState *d;
            std::vector<Value> keys;
        };
        std::vector<Keyed> keyed;
        keyed.reserve(hits.size());
        for (auto *d : hits) {
            Keyed k{d, {}};
            for (uint32_t f : orderFields) {
                const Cell *v = fieldValue(*d, f);
                k.keys.push_back(v ? v->toValue() : Value());
            }
            keyed.push_back(std::move(k));
        }
        auto less = [&](const Keyed &a, const Keyed &b) {
            for (size_t i = 0; i < query.orderBy.size(); ++i) {
                int c2 = compareValues(a.keys[i], b.keys[i]);
                if (c2)
                    return query.orderBy[i].descending ? c2 > 0 : c2 < 0;
            }
            return a.d->id < b.d->id;
        };
        if (query.limit && query.limit < keyed.size()) {
            std::partial_sort(keyed.begin(), keyed.begin() + static_cast<long>(query.limit), keyed.end(), less);
            keyed.resize(query.limit);
        } else {
            std::sort(keyed.begin(), keyed.end(), less);
        }
        hits.clear();
        for (auto &k : keyed)
            hits.push_back(k.d);
    } else {
        std::sort(hits.begin(), hits.end(), [](const DocState *a, const DocState *b) { return a->id < b->id; });
        if (query.limit && query.limit < hits.size())
            hits.resize(query.limit);
    }
    out.reserve(hits.size());
    for (auto *d : hits)
        out.push_back(m->materialize(*c, *d));
    return out;
}

} // namespace syncore
