// The README's example, verbatim, so it cannot rot.
#include "support.hpp"

using namespace syncore;

TEST_CASE("README example") {
    auto laptop = Store::open({}); // a replica (in memory; set .directory to persist)
    auto phone = Store::open({});
    laptop->put("cards", {{"id", "c1"}, {"title", "Write spec"}, {"done", false}});
    phone->apply(laptop->changesSince(phone->syncVector()).at(0)); // sync: send what the phone lacks
    phone->update("cards", "c1", {{"done", true}});                // concurrent edits of different fields
    laptop->increment("cards", "c1", "votes", 1);
    for (auto &batch : phone->changesSince(laptop->syncVector()))
        laptop->apply(batch);
    for (auto &batch : laptop->changesSince(phone->syncVector()))
        phone->apply(batch);
    // both now hold {"id":"c1","title":"Write spec","done":true,"votes":1}, byte for byte (stateHash)

    Value want = Value::parse(R"({"id":"c1","title":"Write spec","done":true,"votes":1})");
    CHECK(laptop->get("cards", "c1") == want);
    CHECK(phone->get("cards", "c1") == want);
    CHECK(laptop->stateHash() == phone->stateHash());
}
