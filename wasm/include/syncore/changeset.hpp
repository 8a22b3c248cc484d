#pragma once
// A change set is the one unit that moves state between replicas and onto disk: a sync batch, a local
// transaction's output, a journal record and a full state are all change sets.
//
// It is a flat list of rows per collection, in (origin site, seq) order. Each row is the current winning
// value of one key, never a history: state-based delta sync ships only winners.
//   Cl row      key (doc)                       the document's causal length (odd present, even deleted),
//                                               carried in stamp.epoch
//   Field row   key (doc, field)                a top-level field's value or its absence (put removed it)
//   Counter row key (doc, field, stamp.site)    one site's running total of increments on a counter field,
//                                               valid on top of the register value stamped `base`
// Each collection part also carries coverage ranges (origin, from, to]: "these rows are all the sender
// had from `origin` with seq in (from, to]". A receiver whose version vector already reaches `from` may
// raise it to `to`; otherwise it applies the rows and leaves the vector alone. This keeps a split,
// interrupted or forwarded batch from ever claiming more than the receiver holds (docs/ARCHITECTURE.md).
#include <cstdint>
#include <string>
#include <vector>

#include "syncore/bytes.hpp"
#include "syncore/cell.hpp"
#include "syncore/site_id.hpp"
#include "syncore/stamp.hpp"
#include "syncore/value.hpp"

namespace syncore {

enum class RowKind : uint8_t { Cl = 0, Field = 1, Counter = 2 };

namespace rowflag {
constexpr uint8_t Absent = 1;   // Field row: the field was removed
constexpr uint8_t Resolves = 2; // Field row: this write resolves the conflicts on its field (base = winner seen)
constexpr uint8_t All = Absent | Resolves;
} // namespace rowflag

struct Row {
    RowKind kind = RowKind::Field;
    uint8_t flags = 0;
    uint32_t doc = 0;   // index into CollectionChanges::docIds
    uint32_t field = 0; // index into ChangeSet::fieldNames (Field and Counter rows)
    Stamp stamp;        // site indexes ChangeSet::sites; for Cl rows epoch = the causal length
    uint64_t seq = 0;   // the origin site's (stamp.site's) sequence number for this write
    Stamp base;         // Field: stamp of the value it replaced (zero = none); Counter: the register stamp
    Cell value;         // Field: the value (null when Absent); Counter: the running total (a number)
    const Cell &val() const { return value; }
};

struct Range {
    uint32_t site = 0; // index into ChangeSet::sites
    uint64_t from = 0;
    uint64_t to = 0;
};

struct CollectionChanges {
    std::string name;
    std::vector<std::string> docIds;
    std::vector<Row> rows;
    std::vector<Range> ranges;
};

struct ChangeSet {
    std::vector<SiteId> sites;
    std::vector<std::string> fieldNames;
    std::vector<CollectionChanges> collections;

    bool empty() const;
    size_t rowCount() const;
};

/** Bounds a valid change set respects, so a hostile one cannot make the next local write wrap around. */
constexpr uint64_t kMaxSeq = 1ull << 53; // sequence numbers (and range ends)
constexpr uint64_t kMaxHlc = 1ull << 62; // packed clock values (physical ms < 2^46, far past year 3000)

/** Current change-set encoding version (docs/FORMAT.md, "Change set"). */
constexpr uint8_t kChangeSetVersion = 1;
/** Header flag: the body is raw DEFLATE, preceded by its uncompressed size. */
constexpr uint8_t kChangeSetDeflated = 1;
/** Bodies smaller than this are never compressed (a local transaction's change set stays plain). */
constexpr size_t kCompressMinBytes = 4096;
/** Match-search effort for compressed change sets (1..9, as zlib's levels). */
constexpr int kCompressEffort = 2;
/** Largest body a compressed change set may claim (what one decode may allocate for it). */
constexpr uint64_t kMaxInflatedBytes = 512ull << 20;

/**
 * Encodes a change set. With `compress`, a body of kCompressMinBytes or more is deflated when that makes
 * it smaller (whole states, catch-up batches); local transactions are encoded plain.
 */
Bytes encodeChangeSet(const ChangeSet &cs, bool compress = false);
/**
 * Decodes and validates structure: every index in range, every value valid, kinds and flags known.
 * Throws Error(Decode) naming the problem; allocations are bounded by the input size.
 */
ChangeSet decodeChangeSet(const uint8_t *data, size_t size);
inline ChangeSet decodeChangeSet(const Bytes &b) { return decodeChangeSet(b.data(), b.size()); }

/** Checks the structural rules the decoder enforces, for change sets built in memory. */
void validateChangeSet(const ChangeSet &cs);

} // namespace syncore
