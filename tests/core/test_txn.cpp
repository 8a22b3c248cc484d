#include "support.hpp"

using namespace syncore;

TEST_CASE("transactions: all writes commit together, in one change set with one stamp") {
    test::ManualClock clock;
    auto a = test::replica(1, clock), b = test::replica(2, clock);
    auto res = a->transaction([](Txn &tx) {
        tx.put("cards", {{"id", "c1"}, {"title", "x"}});
        tx.put("columns", {{"id", "k1"}, {"name", "todo"}});
        tx.update("cards", "c1", {{"title", "y"}}); // sees its own earlier write
        CHECK(tx.get("cards", "c1")->at("title") == "y");
        tx.increment("cards", "c1", "votes", 1);
    });
    CHECK(res.changed.size() == 2);
    ChangeSet cs = decodeChangeSet(res.changes);
    CHECK(cs.collections.size() == 2);
    uint64_t hlc = cs.collections[0].rows[0].stamp.hlc;
    for (const auto &c : cs.collections)
        for (const auto &r : c.rows)
            CHECK(r.stamp.hlc == hlc);
    b->apply(res.changes);
    CHECK(b->get("cards", "c1") == Value{{"id", "c1"}, {"title", "y"}, {"votes", 1}});
    CHECK(a->stateHash() == b->stateHash());
}

TEST_CASE("transactions: one that fails half way leaves nothing behind") {
    test::ManualClock clock;
    test::TempDir dir;
    auto a = test::replica(1, clock, dir.path());
    a->put("t", {{"id", "keep"}, {"v", 1}});
    uint64_t hash = a->stateHash();
    auto vv = a->syncVector();
    uint64_t journal = a->journalBytes();
    CHECK_THROWS_AS(a->transaction([](Txn &tx) {
        tx.put("t", {{"id", "new"}});
        tx.update("t", "keep", {{"v", 2}});
        tx.remove("t", "keep");
        tx.put("brand-new-collection", {{"id", "z"}});
        tx.update("t", "missing", {{"v", 3}}); // NotFound: the whole transaction is undone
    }),
                    Error);
    CHECK_THROWS_AS(a->transaction([](Txn &tx) {
        tx.put("t", {{"id", "new2"}});
        throw std::runtime_error("application code failed");
    }),
                    std::runtime_error);
    CHECK(a->stateHash() == hash);
    CHECK(a->syncVector() == vv);
    CHECK(a->journalBytes() == journal);
    CHECK_FALSE(a->get("t", "new"));
    CHECK(a->get("t", "keep")->at("v") == 1);
    CHECK(a->collections() == std::vector<std::string>{"t"});
    a->checkInvariants();
    // The sequence numbers a failed transaction took are used again; nothing was sent with them.
    auto res = a->put("t", {{"id", "after"}});
    auto b = test::replica(2, clock);
    test::syncPair(*a, *b);
    CHECK(b->get("t", "after"));
    CHECK(a->stateHash() == b->stateHash());
    a.reset();
    auto again = test::replica(1, clock, dir.path());
    CHECK(again->get("t", "after"));
    CHECK_FALSE(again->get("t", "new"));
}

TEST_CASE("transactions: a thousand failing calls, then a working one") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    for (int i = 0; i < 1000; ++i)
        CHECK_THROWS_AS(a->put("t", Value{{"no-id", i}}), Error);
    a->put("t", {{"id", "ok"}});
    CHECK(a->count("t") == 1);
    CHECK_THROWS_AS(a->transaction([&](Txn &) { a->put("t", {{"id", "nested"}}); }), Error);
    a->checkInvariants();
}

TEST_CASE("transactions: a large failed transaction leaves the document index exact") {
    // Rolling back created documents takes their ids out of the open-addressing index; with thousands of
    // them the probe runs overlap, so this checks the backward-shift deletion, not just the simple case.
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->transaction([](Txn &tx) {
        for (int i = 0; i < 5000; ++i)
            tx.put("t", {{"id", "keep" + std::to_string(i)}, {"n", i}});
    });
    CHECK_THROWS_AS(a->transaction([](Txn &tx) {
        for (int i = 0; i < 3000; ++i) {
            tx.put("t", {{"id", "gone" + std::to_string(i)}, {"n", i}});
            tx.update("t", "keep" + std::to_string(i), {{"n", -1}});
        }
        throw std::runtime_error("abort");
    }),
                    std::runtime_error);
    a->checkInvariants();
    CHECK(a->count("t") == 5000);
    for (int i = 0; i < 5000; ++i)
        REQUIRE(a->get("t", "keep" + std::to_string(i)) == Value{{"id", "keep" + std::to_string(i)}, {"n", i}});
    for (int i = 0; i < 3000; i += 7)
        REQUIRE_FALSE(a->get("t", "gone" + std::to_string(i)).has_value());
    // The index still takes new ids, including the rolled-back ones.
    a->put("t", {{"id", "gone1"}, {"n", 1}});
    CHECK(a->get("t", "gone1")->at("n") == 1);
    a->checkInvariants();
}

TEST_CASE("transactions: rolling back updates restores each field, also around a put of the same document") {
    // Updates save one undo entry per field (no copy of the document); a later put in the same
    // transaction saves a whole copy. Undone in reverse, the document must come back exactly.
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->put("t", {{"id", "d"}, {"title", "a title longer than eight bytes"}, {"n", 1}, {"tags", {"x", "y"}}});
    a->increment("t", "d", "votes", 2);
    const uint64_t before = a->stateHash();
    const std::string dumpBefore = a->debugDump();
    CHECK_THROWS_AS(a->transaction([](Txn &tx) {
        tx.update("t", "d", {{"n", 2}, {"extra", "new field"}});
        tx.update("t", "d", {{"n", 3}, {"title", "changed"}});
        tx.put("t", {{"id", "d"}, {"only", true}});
        tx.update("t", "d", {{"only", false}, {"again", 1}});
        tx.remove("t", "d");
        throw std::runtime_error("abort");
    }),
                    std::runtime_error);
    CHECK(a->debugDump() == dumpBefore);
    CHECK(a->stateHash() == before);
    a->checkInvariants();
    CHECK(*a->get("t", "d") ==
          Value{{"id", "d"}, {"title", "a title longer than eight bytes"}, {"n", 1}, {"tags", {"x", "y"}}, {"votes", 2}});
    // And the store keeps working: the next update is an ordinary change.
    a->update("t", "d", {{"n", 5}});
    CHECK(a->get("t", "d")->at("n") == 5);
    a->checkInvariants();
}
