#include "support.hpp"
#include "syncore/hlc.hpp"

using namespace syncore;

TEST_CASE("hlc: packing keeps (ms, counter) order") {
    CHECK(hlc::pack(5, 0) < hlc::pack(5, 1));
    CHECK(hlc::pack(5, 65535) < hlc::pack(6, 0));
    CHECK(hlc::physicalMs(hlc::pack(1234, 7)) == 1234);
    CHECK(hlc::logical(hlc::pack(1234, 7)) == 7);
}

TEST_CASE("hlc: next() is max(wall clock, highest seen) + 1") {
    uint64_t now = 1000;
    Clock c([&] { return now; });
    uint64_t a = c.next();
    CHECK(a == hlc::pack(1000, 0));
    uint64_t b = c.next(); // same millisecond: logical counter moves
    CHECK(b == hlc::pack(1000, 1));
    c.observe(hlc::pack(5000, 3)); // a remote clock ahead of ours
    CHECK(c.next() == hlc::pack(5000, 4));
    now = 9000; // wall clock passes it again
    CHECK(c.next() == hlc::pack(9000, 0));
    now = 10; // wall clock goes backwards: stamps still grow
    uint64_t d = c.next();
    CHECK(d > hlc::pack(9000, 0));
}

TEST_CASE("hlc: local writes win over everything seen, even from a fast clock") {
    test::ManualClock slow, fast;
    *fast.ms += 3'600'000; // an hour ahead
    auto a = test::replica(1, slow);
    auto b = test::replica(2, fast);
    b->put("t", {{"id", "x"}, {"v", "fast"}});
    test::pushTo(*b, *a);
    a->update("t", "x", {{"v", "slow but later"}});
    test::pushTo(*a, *b);
    CHECK(a->get("t", "x")->at("v") == "slow but later");
    CHECK(b->get("t", "x")->at("v") == "slow but later");
}

TEST_CASE("clock skew: changes stamped too far ahead are refused") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto res = a->put("t", {{"id", "x"}, {"v", 1}});
    ChangeSet cs = decodeChangeSet(res.changes);
    CHECK_NOTHROW(checkClockSkew(cs, *clock.ms, 1000));
    CHECK_NOTHROW(checkClockSkew(cs, *clock.ms - 500, 1000));
    try {
        checkClockSkew(cs, *clock.ms - 60'000, 1000);
        FAIL("expected a clock skew error");
    } catch (const Error &e) {
        CHECK(e.code() == ErrorCode::ClockSkew);
        CHECK(std::string(e.what()).find("in the future") != std::string::npos);
    }
}
