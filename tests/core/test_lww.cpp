#include "support.hpp"

using namespace syncore;

TEST_CASE("lww: put, get, update, field-level merge of concurrent edits") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->put("cards", {{"id", "c1"}, {"title", "Write spec"}, {"done", false}});
    CHECK(a->get("cards", "c1") == Value{{"id", "c1"}, {"title", "Write spec"}, {"done", false}});
    CHECK(a->count("cards") == 1);
    test::syncPair(*a, *b);
    clock.advance(1);
    a->update("cards", "c1", {{"title", "Write the spec"}}); // concurrent edits of different fields
    b->update("cards", "c1", {{"done", true}});
    test::syncPair(*a, *b);
    Value want{{"id", "c1"}, {"title", "Write the spec"}, {"done", true}};
    CHECK(a->get("cards", "c1") == want);
    CHECK(b->get("cards", "c1") == want);
    CHECK(a->stateHash() == b->stateHash());
}

TEST_CASE("lww: the later stamp wins a field; equal clocks fall back to the site id") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->put("t", {{"id", "x"}, {"v", 0}});
    test::syncPair(*a, *b);
    clock.advance(10);
    a->update("t", "x", {{"v", "a"}}); // same wall clock on both: tie on (epoch, hlc)
    b->update("t", "x", {{"v", "b"}});
    test::syncPair(*a, *b);
    CHECK(a->get("t", "x")->at("v") == "b"); // site 2 > site 1
    CHECK(b->get("t", "x")->at("v") == "b");
    clock.advance(10);
    a->update("t", "x", {{"v", "a2"}});
    test::syncPair(*a, *b);
    CHECK(b->get("t", "x")->at("v") == "a2");
}

TEST_CASE("lww: put replaces the whole document, removing fields it no longer has") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    auto b = test::replica(2, clock);
    a->put("t", {{"id", "x"}, {"a", 1}, {"b", 2}});
    test::syncPair(*a, *b);
    a->put("t", {{"id", "x"}, {"a", 1}, {"c", 3}});
    test::syncPair(*a, *b);
    CHECK(b->get("t", "x") == Value{{"id", "x"}, {"a", 1}, {"c", 3}});
    CHECK(a->stateHash() == b->stateHash());
}

TEST_CASE("lww: keys like __proto__ and constructor are plain data") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    Value doc{{"id", "p"}, {"__proto__", {{"polluted", true}}}, {"constructor", "x"}};
    a->put("t", doc);
    CHECK(a->get("t", "p") == doc);
}

TEST_CASE("lww: bad arguments name the problem and write nothing") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->put("t", {{"id", "ok"}, {"v", 1}});
    uint64_t before = a->stateHash();
    auto expectError = [&](auto &&f, ErrorCode code, const char *needle) {
        try {
            f();
            FAIL("expected an error containing " << needle);
        } catch (const Error &e) {
            CHECK(e.code() == code);
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    expectError([&] { a->put("t", Value{{"v", 1}}); }, ErrorCode::InvalidArgument, "'id'");
    expectError([&] { a->put("t", Value{{"id", 5}}); }, ErrorCode::InvalidArgument, "'id'");
    expectError([&] { a->put("t", Value{{"id", ""}}); }, ErrorCode::InvalidArgument, "non-empty");
    expectError([&] { a->put("t", Value::array({1, 2})); }, ErrorCode::InvalidArgument, "JSON object");
    expectError([&] { a->put("t", Value{{"id", "n"}, {"v", std::nan("")}}); }, ErrorCode::InvalidArgument, "NaN");
    expectError([&] { a->put("t", Value{{"id", "n"}, {"v", {1, HUGE_VAL}}}); }, ErrorCode::InvalidArgument, "Infinity");
    expectError([&] { a->put("", Value{{"id", "n"}}); }, ErrorCode::InvalidArgument, "collection");
    expectError([&] { a->update("t", "missing", {{"v", 2}}); }, ErrorCode::NotFound, "missing");
    expectError([&] { a->update("t", "ok", Value(3)); }, ErrorCode::InvalidArgument, "object of fields");
    expectError([&] { a->update("t", "ok", {{"id", "other"}}); }, ErrorCode::InvalidArgument, "'id'");
    expectError([&] { a->increment("t", "ok", "v", std::nan("")); }, ErrorCode::InvalidArgument, "finite");
    Value deep = 1;
    for (int i = 0; i < 100; ++i)
        deep = Value::array({deep});
    expectError([&] { a->put("t", Value{{"id", "d"}, {"v", deep}}); }, ErrorCode::InvalidArgument, "deeper");
    StoreOptions small;
    small.maxDocumentBytes = 100;
    auto s = Store::open(small);
    expectError(
        [&] {
            s->put("t", Value{{"id", "big"}, {"v", std::string(500, 'x')}});
        },
        ErrorCode::LimitExceeded, "limit");
    CHECK(a->stateHash() == before);
    CHECK(a->get("t", "ok") == Value{{"id", "ok"}, {"v", 1}});
    a->checkInvariants();
}

TEST_CASE("lww: a put after a put of the same shape checks its names and values as the first did") {
    // Puts compare their collection and field names with the last put's before checking them (a bulk put
    // repeats them): a name or value that differs must still be checked, and a collection a rollback
    // removed must be created again, not reused.
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->put("t", {{"id", "a"}, {"title", "x"}, {"v", 1}});
    const std::string badUtf8 = "\xff";
    auto expectInvalid = [&](auto &&f, const char *needle) {
        try {
            f();
            FAIL("expected an error containing " << needle);
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::InvalidArgument);
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    expectInvalid([&] { a->put("t", Value{{"id", "b"}, {"title", badUtf8}, {"v", 1}}); }, "string at 'title'");
    expectInvalid([&] { a->put("t", Value{{"id", "b"}, {"title", "x"}, {"v", HUGE_VAL}}); }, "Infinity");
    expectInvalid([&] { a->put("t", Value{{"id", "b"}, {"title", "x"}, {badUtf8, 1}}); }, "field name");
    expectInvalid([&] { a->put(badUtf8, Value{{"id", "b"}, {"title", "x"}, {"v", 1}}); }, "collection name");
    expectInvalid(
        [&] {
            a->transaction([&](Txn &tx) {
                const std::string json = "{\"id\":\"b\",\"title\":\"x\",\"" + badUtf8 + "\":1}";
                tx.putJson("t", json.data(), json.size());
            });
        },
        "not valid UTF-8");
    CHECK_FALSE(a->get("t", "b"));
    // A transaction creates a collection, then fails: the next put into that name creates it again.
    CHECK_THROWS(a->transaction([&](Txn &tx) {
        tx.put("u", Value{{"id", "c"}, {"title", "x"}, {"v", 1}});
        throw std::runtime_error("give up");
    }));
    a->put("u", {{"id", "c"}, {"title", "y"}, {"v", 2}});
    CHECK(a->get("u", "c") == Value{{"id", "c"}, {"title", "y"}, {"v", 2}});
    CHECK(a->find("u", Query{}).size() == 1);
    // Other names at the same positions are interned as themselves.
    a->put("t", {{"id", "d"}, {"name", "n"}, {"w", 3}});
    CHECK(a->get("t", "d") == Value{{"id", "d"}, {"name", "n"}, {"w", 3}});
    a->checkInvariants();
}

TEST_CASE("lww: rewriting a field with the same value writes nothing") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->put("t", {{"id", "x"}, {"v", 1}});
    auto r = a->update("t", "x", {{"v", 1}});
    auto cs = decodeChangeSet(r.changes);
    CHECK(cs.rowCount() == 0);
}

TEST_CASE("lww: strings, keys and ids must be UTF-8") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    std::string bad = "caf\xC3"; // truncated sequence
    CHECK(isValidUtf8(std::string("héllo ✓ 𝄞")));
    CHECK_FALSE(isValidUtf8(bad));
    CHECK_FALSE(isValidUtf8(std::string("\xED\xA0\x80"))); // a surrogate
    CHECK_FALSE(isValidUtf8(std::string("\xC0\xAF")));     // overlong
    CHECK_THROWS_AS(a->put("t", Value{{"id", "x"}, {"v", bad}}), Error);
    CHECK_THROWS_AS(a->put("t", Value{{"id", "x"}, {bad, 1}}), Error);
    CHECK_THROWS_AS(a->put("t", Value{{"id", bad}}), Error);
    CHECK_THROWS_AS(a->put(bad, Value{{"id", "x"}}), Error);
    CHECK(a->count("t") == 0);
}
