#pragma once
// A stamp orders writes to one key: (epoch, hlc, site). The epoch is the document's causal length at
// the time of the write, so any write made after a delete (higher epoch) beats every write made before
// it, whatever the clocks say. `site` is an index into a site table (the store's or a change set's);
// comparing two stamps with equal epoch and hlc needs that table.
#include <cstdint>

namespace syncore {

struct Stamp {
    uint64_t hlc = 0;
    uint32_t epoch = 0;
    uint32_t site = 0;

    bool isZero() const { return hlc == 0 && epoch == 0; }
    friend bool operator==(const Stamp &a, const Stamp &b) {
        return a.hlc == b.hlc && a.epoch == b.epoch && a.site == b.site;
    }
    friend bool operator!=(const Stamp &a, const Stamp &b) { return !(a == b); }
};

} // namespace syncore
