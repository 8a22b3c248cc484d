#include "support.hpp"

using namespace syncore;

TEST_CASE("snapshots: create, list, restore writes ordinary changes that sync and can be undone") {
    test::ManualClock clock;
    auto a = test::replica(1, clock), b = test::replica(2, clock);
    a->put("cards", {{"id", "c1"}, {"title", "one"}});
    a->put("cards", {{"id", "c2"}, {"title", "two"}});
    a->increment("cards", "c1", "votes", 3);
    SnapshotInfo snap = a->createSnapshot("before import", "ada");
    CHECK(snap.label == "before import");
    CHECK(snap.author == "ada");
    CHECK(snap.docCount == 2);
    CHECK(snap.bytes > 0);
    test::syncPair(*a, *b);
    Value c1Before = *a->get("cards", "c1");
    // The "import" that goes wrong, partly made on another replica.
    b->put("cards", {{"id", "c3"}, {"title", "junk"}});
    b->update("cards", "c1", {{"title", "mangled"}, {"extra", true}});
    b->remove("cards", "c2");
    test::syncPair(*a, *b);
    auto res = a->restoreSnapshot(snap.id);
    CHECK_FALSE(res.changes.empty());
    test::syncPair(*a, *b);
    for (auto *s : {a.get(), b.get()}) {
        CHECK(s->get("cards", "c1") == c1Before);
        CHECK(s->get("cards", "c2") == Value{{"id", "c2"}, {"title", "two"}});
        CHECK_FALSE(s->get("cards", "c3"));
    }
    CHECK(a->stateHash() == b->stateHash());
    // Restoring took an automatic snapshot first, so the restore itself can be undone.
    auto list = a->snapshots();
    REQUIRE(list.size() == 2);
    CHECK(list[1].label.find("before restoring") == 0);
    a->restoreSnapshot(list[1].id);
    CHECK(a->get("cards", "c3"));
    CHECK_THROWS_AS(a->restoreSnapshot("nope"), Error);
    a->checkInvariants();
}
