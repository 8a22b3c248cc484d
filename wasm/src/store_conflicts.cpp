// Store: conflict records (manual and custom collections), their resolution, and named snapshots.
#include <algorithm>

#include "store_impl.hpp"
#include "syncore/msgpack.hpp"

namespace syncore {

ResolveMode parseResolveMode(const std::string &name) {
    if (name == "keep_local")
        return ResolveMode::KeepLocal;
    if (name == "keep_remote")
        return ResolveMode::KeepRemote;
    if (name == "merge")
        return ResolveMode::Merge;
    fail(ErrorCode::InvalidArgument,
         "unknown resolution '" + name + "' (expected 'keep_local', 'keep_remote', 'merge' or a value)");
}

Value Conflict::toJson() const {
    Value v{{"id", id},
            {"collection", collection},
            {"doc", doc},
            {"field", field},
            {"local", {{"value", localValue}, {"absent", localAbsent}, {"stamp", localStamp.toJson()}}},
            {"remote", {{"value", remoteValue}, {"absent", remoteAbsent}, {"stamp", remoteStamp.toJson()}}},
            {"winner", localWins ? "local" : "remote"}};
    return v;
}

Value SnapshotInfo::toJson() const {
    return Value{
        {"id", id},      {"label", label}, {"author", author}, {"createdAt", createdAt}, {"docCount", docCount},
        {"bytes", bytes}};
}

Value mergeValues(const Value &winner, const Value &loser) {
    if (winner.is_object() && loser.is_object()) {
        Value out = loser;
        for (auto it = winner.begin(); it != winner.end(); ++it) {
            auto l = loser.find(it.key());
            out[it.key()] = l == loser.end() ? it.value() : mergeValues(it.value(), *l);
        }
        return out;
    }
    if (winner.is_array() && loser.is_array()) {
        Value out = winner;
        for (const auto &x : loser)
            if (std::find(out.begin(), out.end(), x) == out.end())
                out.push_back(x);
        return out;
    }
    return winner;
}

std::string Store::Impl::conflictId(const std::string &coll, const std::string &doc, const std::string &field) const {
    Fnv64 h;
    h.add(coll);
    h.add(doc);
    h.add(field);
    static const char *digits = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 0; i < 16; ++i)
        out[15 - i] = digits[(h.h >> (4 * i)) & 15];
    return out;
}

Conflict Store::Impl::publicConflict(const std::string &id, const ConflictState &c) const {
    Conflict out;
    out.id = id;
    out.collection = c.collection;
    out.doc = c.doc;
    out.field = c.field;
    out.localValue = c.localValue;
    out.localAbsent = c.localAbsent;
    out.localStamp = stampInfo(c.localStamp);
    out.remoteValue = c.remoteValue;
    out.remoteAbsent = c.remoteAbsent;
    out.remoteStamp = stampInfo(c.remoteStamp);
    out.localWins = c.localWins;
    return out;
}

std::vector<Conflict> Store::conflicts() const {
    std::vector<Conflict> out;
    for (const auto &[id, c] : m->conflicts)
        out.push_back(m->publicConflict(id, c));
    std::sort(out.begin(), out.end(), [](const Conflict &a, const Conflict &b) {
        return std::tie(a.collection, a.doc, a.field) < std::tie(b.collection, b.doc, b.field);
    });
    return out;
}

std::optional<Conflict> Store::conflict(const std::string &id) const {
    auto it = m->conflicts.find(id);
    if (it == m->conflicts.end())
        return std::nullopt;
    return m->publicConflict(id, it->second);
}

CommitResult Store::resolveConflict(const std::string &id, ResolveMode mode, const Value &value) {
    auto it = m->conflicts.find(id);
    if (it == m->conflicts.end())
        fail(ErrorCode::NotFound, "no conflict '" + id + "'");
    ConflictState rec = it->second;
    bool absent = false;
    Value chosen;
    switch (mode) {
    case ResolveMode::KeepLocal:
        chosen = rec.localValue;
        absent = rec.localAbsent;
        break;
    case ResolveMode::KeepRemote:
        chosen = rec.remoteValue;
        absent = rec.remoteAbsent;
        break;
    case ResolveMode::Merge: {
        const Value &win = rec.localWins ? rec.localValue : rec.remoteValue;
        const Value &lose = rec.localWins ? rec.remoteValue : rec.localValue;
        bool winAbsent = rec.localWins ? rec.localAbsent : rec.remoteAbsent;
        bool loseAbsent = rec.localWins ? rec.remoteAbsent : rec.localAbsent;
        if (winAbsent && loseAbsent)
            absent = true;
        else if (winAbsent)
            chosen = lose;
        else if (loseAbsent)
            chosen = win;
        else
            chosen = mergeValues(win, lose);
        break;
    }
    case ResolveMode::Value:
        validateValue(value, rec.field);
        chosen = value;
        break;
    }
    CollectionState *c = m->findCollection(rec.collection);
    if (!c || !c->live(rec.doc))
        fail(ErrorCode::NotFound, "document '" + rec.doc + "' of conflict '" + id +
                                      "' was deleted; dismiss the conflict or write the document again");
    uint32_t ci = m->collIndex.at(rec.collection);
    uint32_t d = c->find(rec.doc);
    m->begin();
    try {
        m->touch(ci, d, false);
        CollectionState &cc = m->colls[ci];
        DocState &doc = cc.docs[d];
        uint32_t name = m->internField(rec.field);
        // A new write that says "I saw the winner and chose this"; it clears the record wherever it lands.
        m->writeField(cc, doc, name, absent ? Cell() : Cell::of(chosen), absent, rowflag::Resolves);
        FieldState *f = doc.field(name);
        m->clearResolved(cc, doc, name, f->base, nullptr);
    } catch (...) {
        m->rollback();
        throw;
    }
    m->clearedByEpoch.clear();
    CommitResult res = m->commit();
    // Safety net: a record the write did not clear is dropped through the journal, so replay agrees.
    if (m->conflicts.count(id))
        dismissConflict(id);
    return res;
}

void Store::dismissConflict(const std::string &id) {
    auto it = m->conflicts.find(id);
    if (it == m->conflicts.end())
        fail(ErrorCode::NotFound, "no conflict '" + id + "'");
    m->journalRecord(RecordType::Dismiss, Bytes(id.begin(), id.end()));
    m->conflicts.erase(it);
}

// ---------------------------------------------------------------------------------------------------
// Named snapshots

SnapshotInfo Store::createSnapshot(const std::string &label, const std::string &author) {
    if (label.size() > 1000)
        fail(ErrorCode::InvalidArgument, "snapshot label is longer than 1000 bytes");
    if (author.size() > 1000)
        fail(ErrorCode::InvalidArgument, "snapshot author is longer than 1000 bytes");
    NamedSnapshot s;
    s.state = encodeState();
    SiteId rnd = SiteId::random();
    s.info.id = rnd.hex().substr(0, 16);
    s.info.label = label;
    s.info.author = author;
    s.info.createdAt = m->clock.nowMs();
    for (const auto &c : m->colls)
        s.info.docCount += c.present;
    s.info.bytes = s.state.size();
    m->journalRecord(RecordType::Snapshot, toMsgpack(s.toJson()));
    m->snapshots.push_back(std::move(s));
    return m->snapshots.back().info;
}

std::vector<SnapshotInfo> Store::snapshots() const {
    std::vector<SnapshotInfo> out;
    for (const auto &s : m->snapshots)
        out.push_back(s.info);
    return out;
}

CommitResult Store::restoreSnapshot(const std::string &id) {
    auto it =
        std::find_if(m->snapshots.begin(), m->snapshots.end(), [&](const NamedSnapshot &s) { return s.info.id == id; });
    if (it == m->snapshots.end())
        fail(ErrorCode::NotFound, "no snapshot '" + id + "'");
    // Materialise the snapshot in a scratch replica, then write the difference as one transaction.
    StoreOptions scratchOpts;
    scratchOpts.siteId = m->sites[0];
    auto scratch = Store::open(scratchOpts);
    scratch->apply(it->state);
    std::string label = it->info.label;
    createSnapshot("before restoring '" + label + "'", "syncore");
    return transaction([&](Txn &tx) {
        std::vector<std::string> names = collections();
        for (const auto &n : scratch->collections())
            if (std::find(names.begin(), names.end(), n) == names.end())
                names.push_back(n);
        for (const auto &name : names) {
            const CollectionState *target = scratch->m->findCollection(name);
            if (const CollectionState *cur = m->findCollection(name)) {
                std::vector<std::string> gone;
                for (const auto &d : cur->docs) {
                    if (!d.present())
                        continue;
                    bool keep = false;
                    if (target) {
                        keep = target->live(d.id) != nullptr;
                    }
                    if (!keep)
                        gone.push_back(d.id);
                }
                for (const auto &id2 : gone)
                    tx.remove(name, id2);
            }
            if (!target)
                continue;
            for (const auto &d : target->docs) {
                if (!d.present())
                    continue;
                Value want = scratch->m->materialize(*target, d);
                auto now = m->get(name, d.id);
                if (!now || *now != want)
                    tx.put(name, want);
            }
        }
    });
}

} // namespace syncore
