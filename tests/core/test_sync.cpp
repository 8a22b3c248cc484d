#include "support.hpp"
#include <set>

using namespace syncore;

TEST_CASE("sync: peers in sync exchange nothing more") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    for (int i = 0; i < 50; ++i)
        a->put("t", {{"id", "d" + std::to_string(i)}, {"v", i}});
    test::syncPair(*a, *b);
    for (int i = 0; i < 20; ++i)
        b->update("t", "d" + std::to_string(i), {{"v", -i}});
    // Like Automerge's sync test: keep exchanging until quiet; it must go quiet within two rounds.
    int rounds = 0;
    while (rounds < 10) {
        size_t sent = test::pushTo(*a, *b) + test::pushTo(*b, *a);
        if (sent == 0)
            break;
        ++rounds;
    }
    CHECK(rounds <= 2);
    CHECK(a->stateHash() == b->stateHash());
    CHECK(a->changesSince(b->syncVector()).empty());
    CHECK(b->changesSince(a->syncVector()).empty());
}

TEST_CASE("sync: overwritten values are never shipped; batches split and resume") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    for (int i = 0; i < 200; ++i)
        a->put("t", {{"id", "d" + std::to_string(i)}, {"v", 0}, {"s", std::string(40, 'x')}});
    for (int r = 1; r <= 5; ++r)
        for (int i = 0; i < 200; ++i)
            a->update("t", "d" + std::to_string(i), {{"v", r}});
    auto full = a->changesSince({});
    REQUIRE(full.size() == 1);
    CHECK(decodeChangeSet(full[0]).rowCount() == 200 * 3); // cl + 2 fields per document, winners only

    auto b = test::replica(2, clock);
    auto batches = a->changesSince(b->syncVector(), {}, 2000);
    CHECK(batches.size() > 5);
    // Apply only the first half, as if the connection dropped, then resume from b's vector.
    for (size_t i = 0; i < batches.size() / 2; ++i)
        b->apply(batches[i]);
    auto rest = a->changesSince(b->syncVector(), {}, 2000);
    CHECK(rest.size() < batches.size());
    for (auto &x : rest)
        b->apply(x);
    CHECK(a->stateHash() == b->stateHash());
    CHECK(a->changesSince(b->syncVector()).empty());
    CHECK(b->changesSince(a->syncVector()).empty());
    CHECK(b->versionVector("t") == a->versionVector("t"));
}

TEST_CASE("sync: apply is idempotent and order-independent") {
    test::ManualClock clock;
    auto a = test::replica(1, clock), b = test::replica(2, clock);
    std::vector<Bytes> changes;
    for (int i = 0; i < 30; ++i) {
        clock.advance(1);
        changes.push_back(a->put("t", {{"id", "d" + std::to_string(i % 7)}, {"v", i}}).changes);
        if (i % 5 == 0)
            changes.push_back(a->remove("t", "d" + std::to_string(i % 3)).changes);
        if (i % 4 == 0 && a->get("t", "d1"))
            changes.push_back(a->increment("t", "d1", "n", 1).changes);
    }
    std::reverse(changes.begin(), changes.end());
    for (auto &c : changes)
        if (!c.empty())
            b->apply(c);
    for (auto &c : changes)
        if (!c.empty())
            b->apply(c); // duplicates change nothing
    CHECK(a->stateHash() == b->stateHash());
    b->checkInvariants();
}

TEST_CASE("sync: a forwarded batch never over-claims the receiver's version vector") {
    // c missed a's first write; a later batch from a arriving first must not let c claim it has it.
    test::ManualClock clock;
    auto a = test::replica(1, clock), c = test::replica(3, clock);
    auto first = a->put("t", {{"id", "x"}, {"v", 1}}).changes;
    auto second = a->put("t", {{"id", "y"}, {"v", 2}}).changes;
    c->apply(second);
    CHECK(c->versionVector("t").empty()); // gap: c cannot advance past what it lacks
    auto more = a->changesSince(c->syncVector());
    for (auto &m : more)
        c->apply(m);
    CHECK(c->get("t", "x"));
    CHECK(a->stateHash() == c->stateHash());
    CHECK(c->versionVector("t") == a->versionVector("t"));
    (void)first;
}

TEST_CASE("sync: collections filter, and a collection added later back-fills") {
    test::ManualClock clock;
    auto a = test::replica(1, clock), b = test::replica(2, clock);
    a->put("cards", {{"id", "c"}});
    a->put("columns", {{"id", "k"}});
    for (auto &x : a->changesSince(b->syncVector(), {"cards"}))
        b->apply(x);
    CHECK(b->get("cards", "c"));
    CHECK_FALSE(b->get("columns", "k"));
    for (auto &x : a->changesSince(b->syncVector(), {"cards", "columns"}))
        b->apply(x);
    CHECK(b->get("columns", "k"));
    CHECK(a->stateHash() == b->stateHash());
}

TEST_CASE("sync: bad batches are refused whole and change nothing") {
    test::ManualClock clock;
    auto a = test::replica(1, clock), b = test::replica(2, clock);
    b->put("t", {{"id", "keep"}});
    uint64_t before = b->stateHash();
    Bytes good = a->put("t", {{"id", "x"}, {"v", "hello"}}).changes;
    for (size_t cut = 0; cut < good.size(); ++cut) {
        Bytes bad(good.begin(), good.begin() + static_cast<long>(cut));
        CHECK_THROWS_AS(b->apply(bad), Error);
    }
    Bytes flipped = good;
    flipped[0] = 99;
    try {
        b->apply(flipped);
        FAIL("expected an error");
    } catch (const Error &e) {
        CHECK(e.code() == ErrorCode::Decode);
        CHECK(std::string(e.what()).find("version") != std::string::npos);
    }
    CHECK(b->stateHash() == before);
    b->checkInvariants();
}

TEST_CASE("sync: a first load that fails halfway leaves the empty store as it was") {
    // A store with no documents decodes a batch straight into itself (Store::Impl::loadChanges): a batch
    // that turns out bad after thousands of rows are in must still leave nothing behind.
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->configureCollection("m", ConflictPolicy::Manual);
    for (int i = 0; i < 1500; ++i) // 1500 x 3 rows: several of the decoder's chunks
        a->put(i % 3 ? "t" : "m", {{"id", "d" + std::to_string(i)}, {"v", i}, {"s", "text " + std::to_string(i)}});
    a->increment("t", "d1", "n", 2);
    a->remove("t", "d2");
    a->update("t", "d4", {{"s", "last"}}); // the last row of the last part: its value ends the batch
    const Bytes plain = encodeChangeSet(decodeChangeSet(a->encodeState())); // uncompressed: flips hit rows
    const uint64_t want = a->stateHash();
    // Refused at its very last row, after every other row went into the store: 0xFF is never UTF-8.
    Bytes lastRowBad = plain;
    REQUIRE(lastRowBad.back() == 't');
    lastRowBad.back() = 0xFF;

    test::TempDir dir;
    auto fresh = [&](const std::string &path) {
        auto s = test::replica(2, clock, path);
        s->configureCollection("t", ConflictPolicy::Manual); // an empty collection that exists already
        return s;
    };
    const std::string emptyDump = fresh("")->debugDump();
    const uint64_t emptyHash = fresh("")->stateHash();
    std::mt19937_64 rng(test::seed());
    INFO("seed " << test::seed());
    int refused = 0;
    for (int i = 0; i < 300; ++i) {
        Bytes bad = plain;
        // Flip a byte in the second half, where the columns are: the damage is found mid-stream.
        bad[plain.size() / 2 + rng() % (plain.size() / 2)] ^= static_cast<uint8_t>(1 + rng() % 255);
        auto s = fresh("");
        try {
            s->apply(bad);
            s->checkInvariants(); // whatever decodes is valid and applies cleanly
        } catch (const Error &e) {
            ++refused;
            CHECK(e.code() == ErrorCode::Decode);
            CHECK(s->debugDump() == emptyDump);
            CHECK(s->stateHash() == emptyHash);
            CHECK(s->collections() == std::vector<std::string>{"t"});
            CHECK(s->policy("t") == ConflictPolicy::Manual);
            CHECK(s->syncVector() == SyncVector{{"t", {}}});
            s->checkInvariants();
            s->apply(plain); // and the good state still loads into it
            CHECK(s->stateHash() == want);
            s->checkInvariants();
        }
    }
    CHECK(refused > 100);
    {
        auto s = fresh("");
        try {
            s->apply(lastRowBad);
            FAIL("a batch whose last value is not UTF-8 was accepted");
        } catch (const Error &e) {
            CHECK(std::string(e.what()).find("UTF-8") != std::string::npos);
        }
        CHECK(s->debugDump() == emptyDump);
        CHECK(s->syncVector() == SyncVector{{"t", {}}});
        s->checkInvariants();
    }
    // Every cut of the batch is refused, and leaves the store empty.
    auto s = fresh("");
    for (size_t cut = plain.size() / 2; cut < plain.size(); cut += 7) {
        CHECK_THROWS_AS(s->apply(Bytes(plain.begin(), plain.begin() + static_cast<long>(cut))), Error);
        REQUIRE(s->debugDump() == emptyDump);
    }
    // On disk: a refused first load writes nothing; a good one is journaled and survives a reopen.
    {
        auto p = fresh(dir.path());
        const uint64_t journaled = p->journalBytes();
        CHECK_THROWS_AS(p->apply(lastRowBad), Error);
        CHECK(p->journalBytes() == journaled); // not journaled ahead, as a batch that cannot fail is
    }
    {
        auto p = fresh(dir.path());
        CHECK(p->debugDump() == emptyDump);
        p->apply(plain);
        CHECK(p->stateHash() == want);
    }
    auto p = fresh(dir.path());
    CHECK(p->stateHash() == want);
    CHECK(p->count("t") == a->count("t"));
    p->checkInvariants();
}

TEST_CASE("sync: apply reports the vector entries it raised, and only those") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    for (int i = 0; i < 10; ++i)
        a->put("t", {{"id", "d" + std::to_string(i)}, {"v", i}});
    auto batches = a->changesSince({});
    REQUIRE(batches.size() == 1);
    ApplyResult r = b->apply(batches[0]);
    REQUIRE(r.raised.size() == 1);
    CHECK(r.raised[0].collection == "t");
    CHECK(r.raised[0].site == a->siteId());
    CHECK(r.raised[0].seq == a->syncVector().at("t").at(a->siteId()));
    CHECK(b->syncVector().at("t").at(a->siteId()) == r.raised[0].seq);
    CHECK(b->apply(batches[0]).raised.empty()); // nothing new: nothing raised
    // a batch after a gap raises nothing (its rows are applied; the vector waits for the gap)
    a->put("t", {{"id", "x"}, {"v", 1}});
    auto gapFrom = a->syncVector();
    a->put("t", {{"id", "y"}, {"v", 2}});
    auto tail = a->changesSince(gapFrom);
    auto c = test::replica(3, clock);
    c->apply(batches[0]);
    CHECK(c->apply(tail[0]).raised.empty());
    CHECK(c->get("t", "y").has_value());
}

TEST_CASE("sync: ownVector is this replica's own entry of each collection's vector") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    CHECK(a->ownVector().empty());
    a->put("t", {{"id", "d1"}, {"v", 1}});
    b->put("u", {{"id", "e1"}, {"v", 1}});
    for (const auto &batch : b->changesSince({}))
        a->apply(batch); // another site's entries are not a's own
    a->put("t", {{"id", "d2"}, {"v", 2}});
    a->put("w", {{"id", "f1"}, {"v", 3}});
    auto own = a->ownVector();
    CHECK(own.size() == 2);
    for (const auto &[coll, vv] : a->syncVector()) {
        auto mine = vv.find(a->siteId());
        if (mine == vv.end())
            CHECK(own.count(coll) == 0);
        else
            CHECK(own.at(coll) == mine->second);
    }
}

namespace {
// A change set's rows as comparable text, independent of the encoder's first-seen orders (sites, field
// names, documents): collection, document id, kind, field, stamp and base (with site ids), seq, flags, value.
std::multiset<std::string> rowsOf(const Bytes &changes) {
    ChangeSet cs = decodeChangeSet(changes);
    auto stamp = [&](const Stamp &s) {
        return std::to_string(s.hlc) + "/" + std::to_string(s.epoch) + "/" +
               (s.isZero() || s.hlc == 0 ? std::string("-") : cs.sites[s.site].hex());
    };
    std::multiset<std::string> out;
    for (const auto &c : cs.collections)
        for (const auto &r : c.rows)
            out.insert(c.name + " " + c.docIds[r.doc] + " " + std::to_string(static_cast<int>(r.kind)) + " " +
                       (r.kind == RowKind::Cl ? std::string() : cs.fieldNames[r.field]) + " " + stamp(r.stamp) + " " +
                       std::to_string(r.seq) + " " + stamp(r.base) + " " + std::to_string(r.flags) + " " +
                       r.value.toValue().dump());
    return out;
}
} // namespace

TEST_CASE("sync: a local commit's change set holds the rows changesSince gives for the same writes") {
    // A commit collects its rows document by document (Builder::addLocal); changesSince collects them in
    // seq order (addRow). Both must ship the same rows: bases from other sites, counters, removals,
    // new documents, a field written twice, several collections.
    test::ManualClock clock;
    auto a = test::replica(1, clock), b = test::replica(2, clock);
    for (int i = 0; i < 6; ++i)
        b->put("cards",
               {{"id", "c" + std::to_string(i)}, {"title", "card " + std::to_string(i)}, {"tags", {"x", "y"}}});
    b->increment("cards", "c1", "votes", 2);
    a->put("lists", {{"id", "l0"}, {"name", "todo"}});
    test::syncPair(*a, *b);
    const SyncVector before = a->syncVector();
    clock.advance(10);
    CommitResult r = a->transaction([&](Txn &tx) {
        tx.update("cards", "c0", {{"title", "renamed"}, {"done", true}}); // bases are b's stamps
        tx.increment("cards", "c1", "votes", 3);
        tx.remove("cards", "c2");
        tx.put("cards", {{"id", "c9"}, {"title", "new"}, {"tags", {"x", "y"}}});
        tx.update("cards", "c3", {{"tags", Value::array({"z"})}});
        tx.update("cards", "c3", {{"tags", Value::array({"z", "w"})}}); // twice: the last one ships
        tx.put("lists", {{"id", "l0"}, {"name", "doing"}, {"pos", 1.5}});
        tx.put("lists", {{"id", "l1"}, {"name", "done"}});
    });
    REQUIRE_FALSE(r.changes.empty());
    auto since = a->changesSince(before);
    REQUIRE(since.size() == 1);
    const auto committed = rowsOf(r.changes), shipped = rowsOf(since[0]);
    CHECK(committed.size() == shipped.size());
    CHECK(committed == shipped);
    // And the commit alone brings a replica that had everything before it up to date.
    b->apply(r.changes);
    CHECK(a->stateHash() == b->stateHash());
}
