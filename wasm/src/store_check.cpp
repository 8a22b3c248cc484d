// Store::checkInvariants: what must hold between any two public calls. Tests and fuzzers call it.
#include <algorithm>
#include <cmath>
#include <set>

#include "store_impl.hpp"

namespace syncore {

namespace {
[[noreturn]] void broken(const std::string &what) { fail(ErrorCode::Internal, "invariant broken: " + what); }
} // namespace

void Store::checkInvariants() const {
    const Impl &s = *m;
    if (s.txn.active)
        broken("a transaction is left open");
    if (s.sites.empty() || s.siteIndex.size() != s.sites.size())
        broken("site table and its index disagree");
    for (uint32_t i = 0; i < s.sites.size(); ++i) {
        auto it = s.siteIndex.find(s.sites[i]);
        if (it == s.siteIndex.end() || it->second != i)
            broken("site index out of step at " + std::to_string(i));
    }
    if (s.fieldIndex.size() != s.fieldNames.size())
        broken("field table and its index disagree");
    if (s.collIndex.size() != s.colls.size())
        broken("collection table and its index disagree");
    uint64_t maxHlc = 0, maxOwnSeq = 0;
    auto checkStamp = [&](const Stamp &st, const std::string &where) {
        if (st.hlc && st.site >= s.sites.size())
            broken(where + ": stamp site out of range");
        if (st.hlc > maxHlc)
            maxHlc = st.hlc;
    };
    for (uint32_t ci = 0; ci < s.colls.size(); ++ci) {
        const CollectionState &c = s.colls[ci];
        if (s.collIndex.at(c.name) != ci)
            broken("collection index of '" + c.name + "'");
        if (c.index.size() != c.docs.size())
            broken("document index size of '" + c.name + "'");
        if (c.vv.size() > s.sites.size())
            broken("version vector longer than the site table");
        size_t present = 0;
        for (uint32_t di = 0; di < c.docs.size(); ++di) {
            const DocState &d = c.docs[di];
            const std::string where = c.name + "/" + d.id;
            if (c.find(d.id) != di)
                broken(where + ": index out of step");
            if (d.present())
                ++present;
            uint32_t epoch = d.cl.epoch;
            checkStamp(d.cl, where);
            if (d.cl.site == 0 && !d.cl.isZero() && d.clSeq > maxOwnSeq)
                maxOwnSeq = d.clSeq;
            std::set<uint32_t> names;
            for (const auto &f : d.fields) {
                if (f.name >= s.fieldNames.size())
                    broken(where + ": field name out of range");
                if (!names.insert(f.name).second)
                    broken(where + ": field '" + s.fieldNames[f.name] + "' twice");
                if (f.stamp.epoch != d.epoch)
                    broken(where + ": field from a dead epoch kept");
                if (f.stamp.epoch % 2 == 0)
                    broken(where + ": field written at a deleted epoch");
                if ((f.flags & rowflag::Absent) && !f.value.isNull())
                    broken(where + ": removed field holds a value");
                if (f.seq == 0)
                    broken(where + ": field without a sequence number");
                checkStamp(f.stamp, where);
                checkStamp(f.base, where);
                if (f.stamp.site == 0 && f.seq > maxOwnSeq)
                    maxOwnSeq = f.seq;
                if (f.stamp.epoch > epoch)
                    epoch = f.stamp.epoch;
            }
            std::set<std::pair<uint32_t, uint32_t>> keys;
            for (const auto &k : d.counters) {
                if (k.name >= s.fieldNames.size())
                    broken(where + ": counter name out of range");
                if (!keys.insert({k.name, k.stamp.site}).second)
                    broken(where + ": counter contribution twice");
                if (k.stamp.epoch != d.epoch)
                    broken(where + ": counter from a dead epoch kept");
                if (!std::isfinite(k.total))
                    broken(where + ": counter total not finite");
                checkStamp(k.stamp, where);
                if (k.stamp.site == 0 && k.seq > maxOwnSeq)
                    maxOwnSeq = k.seq;
                if (k.stamp.epoch > epoch)
                    epoch = k.stamp.epoch;
            }
            if (epoch != d.epoch)
                broken(where + ": effective causal length out of step (stored " + std::to_string(d.epoch) +
                       ", rows say " + std::to_string(epoch) + ")");
        }
        if (present != c.present)
            broken("present count of '" + c.name + "'");
    }
    if (maxOwnSeq > s.seq)
        broken("a row of this replica is numbered above its sequence counter");
    if (maxHlc > s.clock.last())
        broken("a stamp is ahead of the clock (local writes could lose to it)");
    for (const auto &[id, c] : s.conflicts) {
        if (id != s.conflictId(c.collection, c.doc, c.field))
            broken("conflict id out of step");
        checkStamp(c.localStamp, "conflict " + id);
        checkStamp(c.remoteStamp, "conflict " + id);
    }
}

std::string Store::debugDump() const {
    const Impl &s = *m;
    std::string out;
    auto stamp = [&](const Stamp &st) {
        return std::to_string(st.epoch) + ":" + std::to_string(st.hlc) + ":" +
               (st.hlc ? s.sites[st.site].hex().substr(0, 4) : std::string("-"));
    };
    std::vector<std::string> lines;
    for (const auto &c : s.colls)
        for (const auto &d : c.docs) {
            std::string k = c.name + "/" + d.id;
            lines.push_back(k + " epoch=" + std::to_string(d.epoch) + " cl=" + stamp(d.cl) + "#" +
                            std::to_string(d.clSeq));
            for (const auto &f : d.fields)
                lines.push_back(k + "." + s.fieldNames[f.name] + " " + stamp(f.stamp) + "#" + std::to_string(f.seq) +
                                " base=" + stamp(f.base) + " flags=" + std::to_string(f.flags) + " " +
                                f.value.toValue().dump());
            for (const auto &x : d.counters)
                lines.push_back(k + "." + s.fieldNames[x.name] + "+" + s.sites[x.stamp.site].hex().substr(0, 4) + " " +
                                stamp(x.stamp) + "#" + std::to_string(x.seq) + " base=" + stamp(x.base) +
                                " total=" + std::to_string(x.total));
        }
    std::sort(lines.begin(), lines.end());
    for (auto &l : lines)
        out += l + "\n";
    return out;
}

} // namespace syncore
