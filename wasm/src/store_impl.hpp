#pragma once
// Internal state of a Store (not installed, not part of the API).
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pool.hpp"
#include "syncore/cell.hpp"
#include "syncore/journal.hpp"
#include "syncore/store.hpp"

namespace syncore {

// Stamps inside the store use store site indexes; index 0 is this replica.
struct FieldState {
    uint32_t name = 0;
    uint8_t flags = 0;
    Stamp stamp;
    Stamp base;
    uint64_t seq = 0;
    Cell value;
};

struct CounterState {
    uint32_t name = 0;
    Stamp stamp; // stamp.site is the contributing site
    Stamp base;  // register stamp this total builds on (hlc 0 = no register in that epoch)
    uint64_t seq = 0;
    double total = 0;
};

// A document's rows: small arrays, so they come from the size-class pool (pool.hpp).
using FieldVec = std::vector<FieldState, pool::Allocator<FieldState>>;
using CounterVec = std::vector<CounterState, pool::Allocator<CounterState>>;

struct DocState {
    std::string id;
    uint32_t epoch = 0; // effective causal length: max of the Cl row and every live row's epoch
    Stamp cl;           // the Cl row (epoch = causal length); zero if none seen
    uint64_t clSeq = 0;
    FieldVec fields;
    CounterVec counters;
    uint64_t txnMark = 0;  // the local transaction that last touched this document (undo bookkeeping)
    uint64_t copyMark = 0; // the local transaction that saved a whole copy of it for undo

    bool present() const { return epoch % 2 == 1; }
    FieldState *field(uint32_t name) {
        for (auto &f : fields)
            if (f.name == name)
                return &f;
        return nullptr;
    }
    const FieldState *field(uint32_t name) const { return const_cast<DocState *>(this)->field(name); }
    bool hasCounter(uint32_t name) const {
        for (const auto &c : counters)
            if (c.name == name)
                return true;
        return false;
    }
};

/**
 * Document id -> position in CollectionState::docs. Open addressing with linear probing over one array
 * of (32-bit hash, position + 1) slots; the ids themselves live only in the documents. Replaces an
 * unordered_map<string, uint32_t>, which cost a node and a second copy of every id (~70 B a document)
 * and a cache miss per hop (docs/ARCHITECTURE.md, "Memory layout").
 */
class DocIndex {
  public:
    static constexpr uint32_t kNone = UINT32_MAX;
    /** Position of the document with this id, or kNone. */
    uint32_t find(const std::vector<DocState> &docs, std::string_view id) const {
        uint32_t hash;
        return find(docs, id, hash);
    }
    /** The same, also handing out the id's hash for an insert that follows a miss. */
    uint32_t find(const std::vector<DocState> &docs, std::string_view id, uint32_t &hash) const;
    /** Adds the document at position di, whose id (not present yet) hashes to `hash` (from find). */
    void insert(uint32_t di, uint32_t hash);
    /** Adds docs[from..] (none present yet) at once: a bulk load hashes them all, then fills the slots
     *  with each slot prefetched a few inserts ahead (one cache miss each, overlapped). */
    void insertFrom(const std::vector<DocState> &docs, uint32_t from);
    /** Removes docs[di]'s entry (it must be present). */
    void erase(const std::vector<DocState> &docs, uint32_t di);
    void reserve(size_t n);
    size_t size() const { return m_count; }

  private:
    static uint32_t hashOf(std::string_view id);
    void grow(size_t capacity);
    std::vector<uint64_t> m_slots; // (hash << 32) | (position + 1); 0 = empty. Size is a power of two.
    size_t m_count = 0;
};

struct CollectionState {
    std::string name;
    ConflictPolicy policy = ConflictPolicy::Lww;
    std::vector<DocState> docs;
    DocIndex index;
    std::vector<uint64_t> vv; // by store site index
    size_t present = 0;

    /** Position of the document with this id, or DocIndex::kNone. */
    uint32_t find(std::string_view id) const { return index.find(docs, id); }
    /** The document if it exists and is present (not deleted), else null. */
    const DocState *live(std::string_view id) const {
        uint32_t di = find(id);
        return di != DocIndex::kNone && docs[di].present() ? &docs[di] : nullptr;
    }

    uint64_t vvAt(uint32_t site) const { return site < vv.size() ? vv[site] : 0; }
    void raiseVv(uint32_t site, uint64_t seq) {
        if (site >= vv.size())
            vv.resize(site + 1, 0);
        if (seq > vv[site])
            vv[site] = seq;
    }
};

struct ConflictState {
    std::string collection, doc, field;
    Value localValue, remoteValue;
    bool localAbsent = false, remoteAbsent = false;
    Stamp localStamp, remoteStamp;
    bool localWins = false;
};

struct NamedSnapshot {
    SnapshotInfo info;
    Bytes state; // encoded change set of the whole store when it was taken

    /** The MessagePack map a snapshot is stored as, in the journal and in the state file. */
    Value toJson() const;
    static NamedSnapshot fromJson(const Value &v);
};

// Undo log of one transaction, so a failing transaction leaves the store unchanged.
struct UndoLog {
    // Entries are undone in reverse order. A whole-document entry restores the document; a field entry restores one
    // field, so a plain update does not copy the whole document with every value in it.
    struct DocUndo {
        uint32_t coll;
        uint32_t doc;
        std::unique_ptr<DocState> before; // whole-document entry: the document as it was
        bool fieldOnly = false;
        bool hadField = false;    // fieldOnly: whether the field existed before this write
        uint32_t field = 0;       // fieldOnly: the field's name
        uint32_t fieldBefore = 0; // fieldOnly && hadField: index into UndoLog::fields, the field as it was
    };
    std::vector<DocUndo> docs; // 32 bytes an entry
    // Documents a transaction creates are appended to their collection: undone by cutting the collection
    // back to its size before the first of them (one entry per collection, not one per document).
    std::vector<std::pair<uint32_t, uint32_t>> created; // (collection, document count before)
    std::vector<FieldState> fields;
    std::vector<std::pair<std::string, ConflictState>> conflictsRemoved;
    std::vector<std::pair<uint32_t, std::vector<uint64_t>>> vvs;
    std::vector<std::pair<uint32_t, size_t>> presentCounts;
    size_t collections = 0;
};

struct Store::Impl {
    StoreOptions options;
    Clock clock;
    std::vector<SiteId> sites; // sites[0] = this replica
    std::unordered_map<SiteId, uint32_t, SiteIdHash> siteIndex;
    std::vector<std::string> fieldNames;
    std::unordered_map<std::string, uint32_t> fieldIndex;
    std::vector<CollectionState> colls;
    std::unordered_map<std::string, uint32_t> collIndex;
    std::map<std::string, ConflictState> conflicts;
    std::vector<NamedSnapshot> snapshots;
    uint32_t schemaVersion = 0;
    uint64_t seq = 0; // highest sequence number this replica has used
    uint64_t txnCounter = 0;
    std::vector<std::string> clearedByEpoch; // conflict ids dropped by raiseEpoch, drained by apply

    Store *owner = nullptr;

    // Persistence
    Journal journal;
    bool persistent = false;
    bool replaying = false;
    uint64_t stateBytes = 0;

    // The transaction being built (local writes)
    struct TxnState {
        bool active = false;
        UndoLog undo;
        uint64_t hlc = 0;
        uint64_t seqBefore = 0;
        std::vector<uint64_t> collVvBefore; // vv[self] of each touched collection before, by collection index
        std::vector<std::pair<uint32_t, uint32_t>> touched; // (collection, doc) in first-touch order
        uint64_t id = 0;

        /** Back to idle, keeping the containers' capacity for the next transaction. */
        void reset() {
            active = false;
            undo.docs.clear();
            undo.created.clear();
            undo.fields.clear();
            undo.conflictsRemoved.clear();
            undo.vvs.clear();
            undo.presentCounts.clear();
            undo.collections = 0;
            hlc = 0;
            seqBefore = 0;
            collVvBefore.clear();
            touched.clear();
            id = 0;
        }
    } txn;

    // --- tables ---
    uint32_t internSite(const SiteId &s);
    uint32_t internField(const std::string &name);
    // A bulk put repeats one collection and the same field names: the last put's are compared first,
    // before hashing the names into collIndex and fieldIndex and checking them again (both are checked
    // names). Indexes are checked against the tables, which a rollback or a reset may shrink.
    uint32_t lastPutCollection = UINT32_MAX;
    std::vector<uint32_t> lastPutFields; // by position in the put
    bool isLastPutCollection(const std::string &name) const {
        return lastPutCollection < colls.size() && colls[lastPutCollection].name == name;
    }
    /** Checks the name of the collection a put writes to. */
    void checkPutCollection(const std::string &name) const;
    /** The collection a put writes to (its name checked), created if need be. */
    uint32_t putCollection(const std::string &name);
    /** The interned name of a put's field at `pos` (in name order), checked. */
    uint32_t putFieldName(size_t pos, const std::string &key);
    CollectionState &collection(const std::string &name); // creates
    CollectionState *findCollection(const std::string &name);
    const CollectionState *findCollection(const std::string &name) const;
    uint32_t collectionIndex(const std::string &name); // creates
    int cmp(const Stamp &a, const Stamp &b) const;

    // --- documents ---
    Value materialize(const CollectionState &c, const DocState &d) const;
    Cell counterValue(const DocState &d, uint32_t name, const FieldState *reg) const;
    /** Raises the document's epoch (dropping rows of older epochs): a no-op, inline, unless it rises. */
    void raiseEpoch(CollectionState &c, DocState &d, uint32_t epoch) {
        if (epoch > d.epoch)
            raiseEpochTo(c, d, epoch);
    }
    void raiseEpochTo(CollectionState &c, DocState &d, uint32_t epoch);
    DocState &docForWrite(uint32_t coll, const std::string &id, bool *created);

    // --- local writes (inside a transaction) ---
    void begin();
    CommitResult commit();
    void rollback();
    /** Registers a document as touched by the transaction and saves a whole copy of it for undo. */
    void touch(uint32_t coll, uint32_t doc, bool created);
    /** Registers a document as touched without copying it: its field writes save undo entries one by one. */
    void touchFields(uint32_t coll, uint32_t doc);
    Stamp localStamp(uint32_t epoch) const { return Stamp{txn.hlc, epoch, 0}; }
    void writeField(CollectionState &c, DocState &d, uint32_t name, Cell v, bool absent, uint8_t flags);
    /** Appends a row for a field the document does not have yet, written by this transaction. */
    void appendField(DocState &d, uint32_t name, uint8_t flags, Cell &&v) {
        FieldState &f = d.fields.emplace_back();
        f.name = name;
        f.flags = flags;
        f.stamp = localStamp(d.epoch);
        f.seq = ++seq;
        f.value = std::move(v);
    }
    /** Writes a plain value to a field unless it already holds exactly that value. */
    void setField(CollectionState &c, DocState &d, const std::string &key, Cell v);
    void setField(CollectionState &c, DocState &d, uint32_t name, Cell v);
    struct NewField {
        uint32_t name;    // interned field name
        uint32_t pos = 0; // position in the document's text (a repeated key keeps its last value)
        Cell value;
    };
    /** A put's fields (names checked, values validated, in name order, no repeats): checks the id and the
     *  document's size, then writes them into the document (created, or brought back). */
    void putCells(const std::string &coll, const std::string &id, std::vector<NewField> &fields);
    static std::vector<NewField> &scratchFields(); // reused between puts
    void txPut(const std::string &coll, Value &&doc);
    void txPutJson(const std::string &coll, const char *json, size_t size);
    void txUpdate(const std::string &coll, const std::string &id, const Value &fields);
    void txRemove(const std::string &coll, const std::string &id);
    void txIncrement(const std::string &coll, const std::string &id, const std::string &field, double by);
    std::optional<Value> get(const std::string &coll, const std::string &id) const;

    // --- remote ---
    ApplyResult applyChanges(ChangeSet &cs, bool journal, const Bytes *encoded);
    class PartApplier; // the per-row merge shared by applyChanges and loadChanges
    /** A change set's sites and field names as this store's indexes (interned: both apply paths). */
    void internHeader(const std::vector<SiteId> &sites, const std::vector<std::string> &fieldNames,
                      std::vector<uint32_t> &siteMap, std::vector<uint32_t> &fieldMap);
    /** After applying: hands out the conflicts raiseEpoch cleared, and compacts if the journal grew. */
    void endApply(ApplyResult &res, bool journal);
    /** No collection holds a document and there is no conflict record: loadChanges may be used. */
    bool noDocuments() const;
    /** Decodes an encoded change set straight into the store (no ChangeSet in memory). With noDocuments(),
     *  an error leaves the store as it was; otherwise the caller must reset it. Journals after applying. */
    ApplyResult loadChanges(const uint8_t *data, size_t size, bool journal);
    void detectConflict(CollectionState &c, DocState &d, const FieldState *cur, const Row &row, const Cell &rowValue,
                        const Stamp &rowStamp, const Stamp &rowBase, ApplyResult &res);
    void clearResolved(const CollectionState &c, const DocState &d, uint32_t name, const Stamp &base, ApplyResult *res);
    /** The encoded change set of a local transaction: the rows of `docs` written after minSeq. */
    Bytes buildChanges(const std::vector<std::pair<uint32_t, uint32_t>> &docs, uint64_t minSeq,
                       const std::vector<uint64_t> &vvBefore) const;

    // --- conflicts ---
    std::string conflictId(const std::string &coll, const std::string &doc, const std::string &field) const;
    Conflict publicConflict(const std::string &id, const ConflictState &c) const;
    StampInfo stampInfo(const Stamp &s) const { return StampInfo{s.epoch, s.hlc, sites[s.site]}; }

    // --- persistence ---
    void journalRecord(RecordType type, const Bytes &payload);
    void maybeCompact();
    void compactNow();
    Bytes encodeMeta() const;
    /** Loads the state file's metadata; returns its journalStart. */
    uint32_t loadMeta(const Bytes &payload);
    void applyConfigRecord(const Bytes &payload);
    void load(OpenReport &report);
    void resetState();
    void replayRecord(RecordType type, const Bytes &payload);
};

} // namespace syncore
