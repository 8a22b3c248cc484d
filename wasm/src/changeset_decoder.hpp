#pragma once
// The change-set decoder as a stream (docs/ARCHITECTURE.md, "Loading a state"). decodeChangeSet feeds a
// sink that collects a ChangeSet; the store feeds rows straight into an empty replica, so a whole state
// never exists twice in memory (once as 72-byte Rows, once in the store). Internal.
#include <cstdint>
#include <string>
#include <vector>

#include "syncore/changeset.hpp"

namespace syncore {
namespace dec {

/**
 * What the decoder hands out, in order: header, then per collection part(), rows() in chunks until its
 * rows are out, and endPart(). Everything handed out is validated as decodeChangeSet validates (indexes in range,
 * values, kinds, flags, stamps, ids, ranges), but the decoder may still fail later in the input: a
 * sink that changes something must be able to undo it.
 */
class Sink {
  public:
    virtual ~Sink() = default;
    /** The sites (none zero, none repeated) and field names (none repeated, none 'id'); may be moved from. */
    virtual void header(std::vector<SiteId> &sites, std::vector<std::string> &fieldNames) = 0;
    /** A collection part before its rows: name, document ids and ranges (`part.rows` is empty). It stays
     *  alive and unchanged until endPart(). fieldRows[i] is how many Field rows document i has; `rows` in all. */
    virtual void part(CollectionChanges &part, const std::vector<uint32_t> &fieldRows, size_t rows) = 0;
    /** The next rows of the current part, in order (a few hundred at a time); they may be moved from. */
    virtual void rows(Row *rows, size_t n) = 0;
    virtual void endPart() = 0;
};

/** Decodes an encoded change set (version, flags, inflation, body) into `sink`; throws Error(Decode). */
void decode(const uint8_t *data, size_t size, Sink &sink);

} // namespace dec
} // namespace syncore
