#include "support.hpp"

using namespace syncore;

TEST_CASE("delete: removes the document; deleting again is a no-op") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->put("t", {{"id", "x"}, {"v", 1}});
    a->remove("t", "x");
    CHECK_FALSE(a->get("t", "x"));
    CHECK(a->count("t") == 0);
    CHECK(a->remove("t", "x").changes.empty());
    CHECK(a->remove("t", "never").changes.empty());
    a->checkInvariants();
}

TEST_CASE("delete: beats a concurrent edit, whatever the clocks say") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->put("t", {{"id", "x"}, {"v", 1}});
    test::syncPair(*a, *b);
    a->remove("t", "x");
    clock.advance(100000); // b's edit is much later in time, but did not see the delete
    b->update("t", "x", {{"v", 2}});
    test::syncPair(*a, *b);
    CHECK_FALSE(a->get("t", "x"));
    CHECK_FALSE(b->get("t", "x"));
    CHECK(a->stateHash() == b->stateHash());
}

TEST_CASE("delete: writing after seeing the delete brings the document back, without old fields") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->put("t", {{"id", "x"}, {"old", 1}, {"keep", 1}});
    test::syncPair(*a, *b);
    a->remove("t", "x");
    test::syncPair(*a, *b);
    b->put("t", {{"id", "x"}, {"keep", 2}});
    test::syncPair(*a, *b);
    CHECK(a->get("t", "x") == Value{{"id", "x"}, {"keep", 2}});
    CHECK(b->get("t", "x") == Value{{"id", "x"}, {"keep", 2}});
    // And a concurrent edit made before the delete does not leak into the new life of the document.
    auto c = test::replica(3, clock);
    c->put("t", {{"id", "y"}, {"f", 1}});
    test::syncPair(*a, *c);
    c->update("t", "y", {{"f", "stale"}, {"g", "stale"}}); // concurrent with delete + resurrect below
    a->remove("t", "y");
    a->put("t", {{"id", "y"}, {"h", 1}});
    test::syncPair(*a, *c);
    CHECK(a->get("t", "y") == Value{{"id", "y"}, {"h", 1}});
    CHECK(c->get("t", "y") == Value{{"id", "y"}, {"h", 1}});
    CHECK(a->stateHash() == c->stateHash());
}

TEST_CASE("delete: concurrent creation of the same id merges field by field") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->put("t", {{"id", "x"}, {"a", 1}});
    clock.advance(1);
    b->put("t", {{"id", "x"}, {"b", 2}});
    test::syncPair(*a, *b);
    CHECK(a->get("t", "x") == b->get("t", "x"));
    CHECK(a->stateHash() == b->stateHash());
}
