#pragma once
// The Store: one replica of a set of collections of JSON documents. Local writes, queries, conflict
// records, named snapshots, delta sync (changesSince / apply) and persistence in a directory.
// See docs/ARCHITECTURE.md for the merge rules and docs/FORMAT.md for the bytes.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "syncore/bytes.hpp"
#include "syncore/changeset.hpp"
#include "syncore/hlc.hpp"
#include "syncore/query.hpp"
#include "syncore/site_id.hpp"
#include "syncore/value.hpp"

namespace syncore {

enum class ConflictPolicy : uint8_t { Lww = 0, Manual = 1, Custom = 2 };
/** "lww" | "manual" | "custom"; anything else throws Error(InvalidArgument) naming it. */
ConflictPolicy parseConflictPolicy(const std::string &name);
const char *conflictPolicyName(ConflictPolicy p);

/** A stamp with the site spelled out, for the API and for conflict records. */
struct StampInfo {
    uint32_t epoch = 0;
    uint64_t hlc = 0;
    SiteId site;
    Value toJson() const;
};

struct Conflict {
    std::string id; // stable for (collection, doc, field) on every replica
    std::string collection;
    std::string doc;
    std::string field;
    Value localValue; // null + localAbsent when the field had been removed
    bool localAbsent = false;
    StampInfo localStamp;
    Value remoteValue;
    bool remoteAbsent = false;
    StampInfo remoteStamp;
    bool localWins = false; // which value is current (LWW picked it on every replica)
    Value toJson() const;
};

enum class ResolveMode : uint8_t { KeepLocal, KeepRemote, Merge, Value };
/** "keep_local" | "keep_remote" | "merge"; throws Error(InvalidArgument) otherwise. */
ResolveMode parseResolveMode(const std::string &name);

struct SnapshotInfo {
    std::string id;
    std::string label;
    std::string author;
    uint64_t createdAt = 0; // ms since epoch
    uint64_t docCount = 0;
    uint64_t bytes = 0;
    Value toJson() const;
};

struct DocRef {
    std::string collection;
    std::string id;
    friend bool operator==(const DocRef &a, const DocRef &b) { return a.collection == b.collection && a.id == b.id; }
};

/** What a local transaction did: the change set to send to peers, and the documents it touched. */
struct CommitResult {
    Bytes changes; // encoded change set (empty when nothing changed)
    std::vector<DocRef> changed;
};

/** What applying a remote change set did. */
struct ApplyResult {
    std::vector<DocRef> changed; // documents whose visible content may have changed
    std::vector<std::string> newConflicts;
    std::vector<std::string> clearedConflicts;
    size_t rowsApplied = 0; // rows that won and were stored
    /** Version vector entries this batch raised (collection, site, new seq): what a sync client knows
     *  its peer holds without reading the whole vector again. */
    struct Raised {
        std::string collection;
        SiteId site;
        uint64_t seq = 0;
    };
    std::vector<Raised> raised;
};

using VersionVector = std::map<SiteId, uint64_t>;
/** Per collection version vectors: what a replica has seen, the "have" of a sync request. */
using SyncVector = std::map<std::string, VersionVector>;

struct StoreOptions {
    std::string directory;         // empty: in memory only
    std::optional<SiteId> siteId;  // site id of a new store (random if absent); ignored when loading
    Clock::Source clock;           // ms since epoch; system clock if empty
    size_t segmentBytes = 1 << 20; // journal segment size before a new segment starts
    size_t compactBytes = 8 << 20; // journal size that triggers compaction (at least the state's size)
    bool fsync = false;            // fsync each journal record (the relay's durability)
    size_t maxDocumentBytes = 1 << 20;
};

/** What open() found on disk. */
struct OpenReport {
    bool created = false; // the directory held no store
    bool damaged = false; // something was cut off or skipped
    std::string message;  // what was damaged and what was kept
    uint64_t droppedBytes = 0;
    uint64_t records = 0; // journal records replayed
};

class Txn;

class Store {
  public:
    /** Opens (or creates) a store. Damage on disk is cut off and reported in `report`, not thrown. */
    static std::unique_ptr<Store> open(const StoreOptions &options = {}, OpenReport *report = nullptr);
    ~Store();
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    const SiteId &siteId() const;

    // --- configuration (persisted) ---
    void configureCollection(const std::string &collection, ConflictPolicy policy);
    ConflictPolicy policy(const std::string &collection) const;
    uint32_t schemaVersion() const;
    void setSchemaVersion(uint32_t version);

    // --- local writes: each is one transaction ---
    /** Takes the document by value: pass a temporary (or std::move) and its values move into the store. */
    CommitResult put(const std::string &collection, Value doc);
    CommitResult update(const std::string &collection, const std::string &id, const Value &fields);
    CommitResult remove(const std::string &collection, const std::string &id);
    CommitResult increment(const std::string &collection, const std::string &id, const std::string &field, double by);
    /** Runs fn; its writes commit together, or none of them if fn throws (the exception is rethrown). */
    CommitResult transaction(const std::function<void(Txn &)> &fn);

    // --- reads ---
    std::optional<Value> get(const std::string &collection, const std::string &id) const;
    std::vector<Value> find(const std::string &collection, const Query &query) const;
    size_t count(const std::string &collection) const;
    std::vector<std::string> collections() const;

    // --- sync ---
    VersionVector versionVector(const std::string &collection) const;
    SyncVector syncVector() const;
    /** collection -> this replica's own seq there (collections it never wrote are absent): what a
     *  local commit raised, in O(collections) whatever the number of sites. */
    std::map<std::string, uint64_t> ownVector() const;
    /**
     * Everything this replica holds that `have` lacks, for `collections` (empty = all), answered from
     * current state, in encoded batches of about `maxBatchBytes` (0 = one batch). Apply them in order.
     * Returns no batch when there is nothing to send.
     */
    std::vector<Bytes> changesSince(const SyncVector &have, const std::vector<std::string> &collections = {},
                                    size_t maxBatchBytes = 0) const;
    /** Validates the whole batch first, then applies it atomically. Idempotent and order-independent. */
    ApplyResult apply(const Bytes &batch);
    ApplyResult apply(const ChangeSet &batch);
    /** The full state as one change set (what a fresh replica loads). */
    Bytes encodeState() const;
    /** Equal on two replicas exactly when they hold the same content, stamps and conflicts aside. */
    uint64_t stateHash() const;

    // --- conflicts (manual and custom collections) ---
    std::vector<Conflict> conflicts() const;
    std::optional<Conflict> conflict(const std::string &id) const;
    /** Writes the chosen value as a new change that clears this record here and on other replicas. */
    CommitResult resolveConflict(const std::string &id, ResolveMode mode, const Value &value = Value());
    /** Drops the record locally without writing anything. */
    void dismissConflict(const std::string &id);

    // --- named snapshots ---
    SnapshotInfo createSnapshot(const std::string &label, const std::string &author);
    std::vector<SnapshotInfo> snapshots() const;
    /** Writes the changes that make the current state equal to the snapshot's (an ordinary transaction). */
    CommitResult restoreSnapshot(const std::string &id);

    // --- storage ---
    /** Rewrites the state file and drops the journal segments (no-op in memory). */
    void compact();
    /** Bytes in the journal since the last compaction. */
    uint64_t journalBytes() const;

    /** Every stored row in canonical order, one per line: what stateHash() hashes, for diffs in tests. */
    std::string debugDump() const;

    /** Throws Error(Internal) describing the first broken invariant. Used by tests and fuzzers. */
    void checkInvariants() const;

    struct Impl;

  private:
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m;
    friend class Txn;
};

/** The writes of one transaction; reads see the transaction's own earlier writes. */
class Txn {
  public:
    void put(const std::string &collection, Value doc);
    /** put() of a document given as JSON text, read straight into stored values (no JSON DOM): what
     *  the JS bindings use for bulk writes. Same checks and errors as put(). */
    void putJson(const std::string &collection, const char *json, size_t size);
    void update(const std::string &collection, const std::string &id, const Value &fields);
    void remove(const std::string &collection, const std::string &id);
    void increment(const std::string &collection, const std::string &id, const std::string &field, double by);
    std::optional<Value> get(const std::string &collection, const std::string &id) const;

  private:
    friend class Store;
    explicit Txn(Store::Impl &impl) : m(impl) {}
    Store::Impl &m;
};

/** Throws Error(ClockSkew) if any row is stamped more than maxSkewMs ahead of nowMs. */
void checkClockSkew(const ChangeSet &cs, uint64_t nowMs, uint64_t maxSkewMs);

/** merge of a conflict: objects key by key (winner's value on shared keys), arrays unioned, else winner. */
Value mergeValues(const Value &winner, const Value &loser);

} // namespace syncore
