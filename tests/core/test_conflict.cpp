#include "support.hpp"

using namespace syncore;

namespace {
struct Trio {
    test::ManualClock clock;
    std::unique_ptr<Store> a, b, relay;
    Trio() {
        a = test::replica(1, clock);
        b = test::replica(2, clock);
        relay = test::replica(9, clock);
        for (auto *s : {a.get(), b.get(), relay.get()})
            s->configureCollection("cards", ConflictPolicy::Manual);
        a->put("cards", {{"id", "c1"}, {"title", "start"}, {"tags", {"x"}}, {"meta", {{"k", 1}}}});
        test::syncPair(*a, *relay);
        test::syncPair(*b, *relay);
    }
    // Both edit one field starting from the same value; a's is later, so b's value loses.
    void concurrentEdit(const char *field, Value av, Value bv) {
        b->update("cards", "c1", {{field, bv}});
        clock.advance(5);
        a->update("cards", "c1", {{field, av}});
        test::syncPair(*a, *relay);
        test::syncPair(*b, *relay);
        test::syncPair(*a, *relay);
    }
};
} // namespace

TEST_CASE("conflicts: the replica whose value lost holds a record, and so does the relay") {
    Trio t;
    t.concurrentEdit("title", "from a", "from b");
    CHECK(t.a->get("cards", "c1")->at("title") == "from a");
    CHECK(t.b->get("cards", "c1")->at("title") == "from a");
    auto bc = t.b->conflicts();
    REQUIRE(bc.size() == 1);
    CHECK(bc[0].field == "title");
    CHECK(bc[0].localValue == "from b");
    CHECK(bc[0].remoteValue == "from a");
    CHECK_FALSE(bc[0].localWins);
    auto rc = t.relay->conflicts();
    REQUIRE(rc.size() == 1);
    CHECK(rc[0].id == bc[0].id); // the same id on every replica
    CHECK(t.a->stateHash() == t.b->stateHash());
}

TEST_CASE("conflicts: lww collections and sequential edits keep no record") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->configureCollection("cards", ConflictPolicy::Manual);
    b->configureCollection("cards", ConflictPolicy::Manual);
    a->put("cards", {{"id", "c1"}, {"v", 0}});
    test::syncPair(*a, *b);
    // Sequential: b sees a's write before overwriting it; a writes several times in between.
    for (int i = 1; i <= 3; ++i)
        a->update("cards", "c1", {{"v", i}});
    test::syncPair(*a, *b);
    b->update("cards", "c1", {{"v", 10}});
    test::syncPair(*a, *b);
    CHECK(a->conflicts().empty());
    CHECK(b->conflicts().empty());
    // A replica that missed intermediate values (state-based sync ships only winners) sees no conflict.
    auto c = test::replica(3, clock);
    c->configureCollection("cards", ConflictPolicy::Manual);
    a->update("cards", "c1", {{"v", 11}});
    test::syncPair(*a, *c);
    a->update("cards", "c1", {{"v", 12}});
    a->update("cards", "c1", {{"v", 13}});
    test::syncPair(*a, *c);
    CHECK(c->conflicts().empty());
    // Same concurrent pattern in an lww collection: silent.
    auto x = test::replica(4, clock), y = test::replica(5, clock);
    x->put("plain", {{"id", "d"}, {"v", 0}});
    test::syncPair(*x, *y);
    x->update("plain", "d", {{"v", 1}});
    y->update("plain", "d", {{"v", 2}});
    test::syncPair(*x, *y);
    CHECK(x->conflicts().empty());
    CHECK(y->conflicts().empty());
}

TEST_CASE("conflicts: keep_local on the losing side writes its value and clears the record everywhere") {
    Trio t;
    t.concurrentEdit("title", "from a", "from b");
    std::string id = t.b->conflicts().at(0).id;
    t.b->resolveConflict(id, ResolveMode::KeepLocal);
    CHECK(t.b->conflicts().empty());
    test::syncPair(*t.b, *t.relay);
    test::syncPair(*t.a, *t.relay);
    CHECK(t.relay->conflicts().empty());
    for (auto *s : {t.a.get(), t.b.get(), t.relay.get()})
        CHECK(s->get("cards", "c1")->at("title") == "from b");
    CHECK(t.a->stateHash() == t.b->stateHash());
    t.b->checkInvariants();
}

TEST_CASE("conflicts: keep_remote, merge and an explicit value") {
    SUBCASE("keep_remote") {
        Trio t;
        t.concurrentEdit("title", "A", "B");
        t.b->resolveConflict(t.b->conflicts().at(0).id, ResolveMode::KeepRemote);
        CHECK(t.b->get("cards", "c1")->at("title") == "A");
        CHECK(t.b->conflicts().empty());
    }
    SUBCASE("merge arrays (union) and objects (key by key)") {
        Trio t;
        t.concurrentEdit("tags", Value{"x", "a"}, Value{"x", "b"});
        t.b->resolveConflict(t.b->conflicts().at(0).id, ResolveMode::Merge);
        CHECK(t.b->get("cards", "c1")->at("tags") == Value{"x", "a", "b"});
        Trio u;
        u.concurrentEdit("meta", Value{{"k", 2}, {"a", 1}}, Value{{"k", 3}, {"b", 1}});
        u.b->resolveConflict(u.b->conflicts().at(0).id, ResolveMode::Merge);
        CHECK(u.b->get("cards", "c1")->at("meta") == Value{{"k", 2}, {"a", 1}, {"b", 1}});
    }
    SUBCASE("explicit value, resolved on the relay's record") {
        Trio t;
        t.concurrentEdit("title", "A", "B");
        t.relay->resolveConflict(t.relay->conflicts().at(0).id, ResolveMode::Value, "A and B");
        test::syncPair(*t.relay, *t.b);
        test::syncPair(*t.relay, *t.a);
        CHECK(t.b->conflicts().empty()); // cleared by the relay's resolution
        CHECK(t.a->get("cards", "c1")->at("title") == "A and B");
    }
    SUBCASE("errors") {
        Trio t;
        CHECK_THROWS_AS(t.b->resolveConflict("nope", ResolveMode::KeepLocal), Error);
        CHECK_THROWS_AS(parseResolveMode("keep_mine"), Error);
        CHECK_THROWS_AS(parseConflictPolicy("first-writer"), Error);
        t.concurrentEdit("title", "A", "B");
        std::string id = t.b->conflicts().at(0).id;
        CHECK_THROWS_AS(t.b->resolveConflict(id, ResolveMode::Value, Value(std::nan(""))), Error);
        CHECK(t.b->conflicts().size() == 1);
        t.b->dismissConflict(id);
        CHECK(t.b->conflicts().empty());
    }
}

TEST_CASE("conflicts: records survive a restart") {
    test::TempDir dir;
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    std::string id;
    {
        auto b = test::replica(2, clock, dir.path());
        a->configureCollection("cards", ConflictPolicy::Manual);
        b->configureCollection("cards", ConflictPolicy::Manual);
        a->put("cards", {{"id", "c"}, {"t", 0}});
        test::syncPair(*a, *b);
        b->update("cards", "c", {{"t", "b"}});
        clock.advance(3);
        a->update("cards", "c", {{"t", "a"}});
        test::syncPair(*a, *b);
        REQUIRE(b->conflicts().size() == 1);
        id = b->conflicts()[0].id;
    }
    auto b = test::replica(2, clock, dir.path());
    REQUIRE(b->conflicts().size() == 1);
    CHECK(b->conflicts()[0].id == id);
    CHECK(b->policy("cards") == ConflictPolicy::Manual);
    b->compact();
    auto b2 = std::move(b);
    b2.reset();
    auto b3 = test::replica(2, clock, dir.path());
    CHECK(b3->conflicts().size() == 1);
}

TEST_CASE("conflicts: records stay with their documents when others are created or deleted") {
    // A document's epoch rising (created, deleted, brought back) drops the records of its dead epochs:
    // only its own, looked up from its field rows (scanning every record instead made creating or
    // deleting documents next to thousands of records quadratic).
    test::ManualClock clock;
    auto a = test::replica(1, clock), b = test::replica(2, clock);
    for (auto *s : {a.get(), b.get()})
        s->configureCollection("cards", ConflictPolicy::Manual);
    const int n = 300;
    a->transaction([&](Txn &tx) {
        for (int i = 0; i < n; ++i)
            tx.put("cards", {{"id", "k" + std::to_string(i)}, {"t", 0}, {"u", 0}});
    });
    test::syncPair(*a, *b);
    b->transaction([&](Txn &tx) {
        for (int i = 0; i < n; ++i)
            tx.update("cards", "k" + std::to_string(i), {{"t", 1}, {"u", 1}});
    });
    clock.advance(5);
    a->transaction([&](Txn &tx) {
        for (int i = 0; i < n; ++i)
            tx.update("cards", "k" + std::to_string(i), {{"t", 2}, {"u", 2}});
    });
    test::syncPair(*a, *b);
    REQUIRE(b->conflicts().size() == 2 * n); // b's values lost both fields of every document
    b->checkInvariants();

    b->transaction([&](Txn &tx) { // new documents next to the records
        for (int i = 0; i < 2000; ++i)
            tx.put("cards", {{"id", "n" + std::to_string(i)}, {"t", i}});
    });
    CHECK(b->conflicts().size() == 2 * n);
    b->remove("cards", "k7"); // its records die with its epoch; the others stay
    CHECK(b->conflicts().size() == 2 * n - 2);
    for (const auto &c : b->conflicts())
        CHECK(c.doc != "k7");
    b->put("cards", {{"id", "k7"}, {"t", 9}}); // brought back: nothing comes back with it
    CHECK(b->conflicts().size() == 2 * n - 2);
    // A failed transaction that deleted a conflicted document gives its records back.
    CHECK_THROWS(b->transaction([&](Txn &tx) {
        tx.remove("cards", "k8");
        throw std::runtime_error("abort");
    }));
    CHECK(b->conflicts().size() == 2 * n - 2);
    b->checkInvariants();
    test::syncPair(*a, *b);
    CHECK(a->stateHash() == b->stateHash());
    b->checkInvariants();
}
