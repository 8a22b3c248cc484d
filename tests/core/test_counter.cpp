#include "support.hpp"

using namespace syncore;

TEST_CASE("counter: concurrent increments add up") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    auto c = test::replica(3, clock);
    a->put("t", {{"id", "x"}, {"title", "t"}});
    test::syncPair(*a, *b);
    test::syncPair(*a, *c);
    a->increment("t", "x", "votes", 1);
    a->increment("t", "x", "votes", 1);
    b->increment("t", "x", "votes", 5);
    c->increment("t", "x", "votes", -2);
    test::syncPair(*a, *b);
    test::syncPair(*b, *c);
    test::syncPair(*a, *c);
    for (auto *s : {a.get(), b.get(), c.get()})
        CHECK(s->get("t", "x")->at("votes") == 5);
    CHECK(a->stateHash() == b->stateHash());
    CHECK(b->stateHash() == c->stateHash());
}

TEST_CASE("counter: increments build on a set value; a later set resets") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->put("t", {{"id", "x"}, {"n", 10}});
    test::syncPair(*a, *b);
    a->increment("t", "x", "n", 2);
    b->increment("t", "x", "n", 3);
    test::syncPair(*a, *b);
    CHECK(a->get("t", "x")->at("n") == 15);
    clock.advance(5);
    a->update("t", "x", {{"n", 0}});
    test::syncPair(*a, *b);
    CHECK(b->get("t", "x")->at("n") == 0);
    b->increment("t", "x", "n", 1);
    test::syncPair(*a, *b);
    CHECK(a->get("t", "x")->at("n") == 1);
    CHECK(a->find("t", Query::fromJson({{"where", {{"n", 1}}}})).size() == 1);
}

TEST_CASE("counter: fractional steps, and a non-number field is refused") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->put("t", {{"id", "x"}, {"s", "text"}});
    a->increment("t", "x", "f", 0.5);
    a->increment("t", "x", "f", 0.25);
    CHECK(a->get("t", "x")->at("f") == 0.75);
    CHECK_THROWS_AS(a->increment("t", "x", "s", 1), Error);
    CHECK_THROWS_AS(a->increment("t", "missing", "n", 1), Error);
    CHECK_THROWS_AS(a->increment("t", "x", "id", 1), Error);
    a->checkInvariants();
}

TEST_CASE("counter: a delete clears it; put without the field removes it") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->put("t", {{"id", "x"}});
    a->increment("t", "x", "n", 4);
    a->put("t", {{"id", "x"}, {"other", 1}});
    CHECK(a->get("t", "x") == Value{{"id", "x"}, {"other", 1}});
    a->increment("t", "x", "n", 1);
    a->remove("t", "x");
    a->put("t", {{"id", "x"}});
    CHECK(a->get("t", "x") == Value{{"id", "x"}});
    a->checkInvariants();
}
