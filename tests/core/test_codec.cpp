#include <set>

#include "changeset_encoder.hpp" // wasm/src (internal)
#include "support.hpp"
#include "syncore/protocol.hpp"

using namespace syncore;

using test::sampleValues;

TEST_CASE("codec: values round-trip, strings shared through the table") {
    const std::vector<Value> values = sampleValues();
    StringTable table;
    for (const auto &v : values)
        table.countValue(v);
    Value again = "text long enough"; // seen twice: shared through the table
    table.countValue(again);
    table.build();
    REQUIRE(table.find("text long enough") >= 0);
    Writer w;
    for (auto &v : values)
        writeValue(w, v, table);
    Reader r(w.bytes());
    for (auto &v : values)
        CHECK(readValue(r, table.strings()) == v);
    CHECK(r.done());
}

TEST_CASE("cells: canonical, so equal JSON gives equal cells, hashes and encodings") {
    const std::vector<Value> values = sampleValues();
    StringTable table;
    std::vector<Cell> cells;
    for (const auto &v : values)
        cells.push_back(Cell::of(v));
    for (const auto &c : cells)
        c.countStrings(table);
    Cell again = Cell::of("text long enough");
    again.countStrings(table);
    table.build();
    CHECK(table.find("text long enough") >= 0);
    Writer w, wv;
    for (size_t i = 0; i < values.size(); ++i) {
        const Value &v = values[i];
        const Cell &c = cells[i];
        CHECK(c.toValue() == v);
        CHECK(c.compare(v) == 0);
        CHECK(c.typeRank() == typeRank(v));
        Cell copy = c; // copies and moves keep the bytes
        CHECK(copy == c);
        Cell moved = std::move(copy);
        CHECK(moved == c);
        c.write(w, table);
        writeValue(wv, v, table);
    }
    CHECK(w.bytes() == wv.bytes()); // a cell encodes exactly as its JSON value does
    Reader r(w.bytes());
    for (const auto &c : cells)
        CHECK(Cell::read(r, table.strings()) == c);
    CHECK(r.done());

    // 1 and 1.0 are one value; so are objects built in different orders.
    CHECK(Cell::of(Value(3)) == Cell::of(Value(3.0)));
    auto hashOf = [](const Value &v) {
        Fnv64 h;
        Cell::of(v).hash(h);
        return h.h;
    };
    CHECK(hashOf(Value(3)) == hashOf(Value(3.0)));
    CHECK(hashOf(Value::array({1, 2})) == hashOf(Value::array({1.0, 2.0})));
    CHECK(hashOf(Value::parse(R"({"b":1,"a":2})")) == hashOf(Value::parse(R"({"a":2.0,"b":1})")));
    std::set<uint64_t> distinct; // different values hash differently (the sample has no two equal ones)
    for (const auto &v : values)
        distinct.insert(hashOf(v));
    CHECK(distinct.size() == values.size());
    CHECK(Cell::of(Value::array({1, 2})) == Cell::of(Value::array({1.0, 2.0})));
    CHECK(Cell::of(Value(3.5)) != Cell::of(Value(3)));
    CHECK(Cell::of(Value("a")) != Cell::of(Value::array({"a"})));
    CHECK(Cell::of(Value(2)).compare(Value(10)) < 0);
    CHECK(Cell::of(Value("b")).compare(Value("a")) > 0);
    CHECK(Cell::of(Value::array({1, 3})).compare(Value::array({1, 2})) > 0);
    CHECK(Cell::of(Value(true)).compare(Value(1)) < 0); // booleans sort before numbers
}

TEST_CASE("cells: read from the wire validates, and sorts an object a foreign encoder left unsorted") {
    // {"b": 1, "a": [2.0]} with keys out of order and an integral double.
    Writer w;
    w.u8(0x09);
    w.varint(2);
    w.u8(0x41);
    w.u8('b');
    w.u8(0x11);
    w.u8(0x41);
    w.u8('a');
    w.u8(0x08);
    w.varint(1);
    w.u8(0x05);
    w.f64(2.0);
    Reader r(w.bytes());
    Cell c = Cell::read(r, {});
    CHECK(r.done());
    CHECK(c == Cell::of(Value{{"a", {2}}, {"b", 1}}));
    CHECK(c.toValue().dump() == R"({"a":[2],"b":1})");

    auto refuses = [](const Bytes &b, const std::string &what) {
        Reader rr(b);
        try {
            Cell::read(rr, {"x"});
            FAIL("accepted: " << what);
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::Decode);
        }
    };
    refuses({0x09, 0x02, 0x41, 'a', 0x10, 0x41, 'a', 0x11}, "duplicate key");
    refuses({0x42, 0xC3, 0x28}, "bad UTF-8");
    refuses({0x07, 0x05}, "string reference out of range");
    refuses({0x05, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F}, "NaN");
    refuses({0x04, 0x01}, "non-canonical unsigned");
    refuses({0x08, 0x03, 0x10}, "truncated array");
    refuses({0x0A}, "unknown tag");
    Bytes deep(2 * 70, 0x08); // 70 nested one-item arrays
    for (size_t i = 0; i < deep.size(); i += 2)
        deep[i + 1] = 0x01;
    refuses(deep, "nesting too deep");
}

TEST_CASE("codec: change sets round-trip exactly") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->configureCollection("m", ConflictPolicy::Manual);
    for (int i = 0; i < 50; ++i)
        a->put("m", {{"id", "doc" + std::to_string(i)}, {"t", "title " + std::to_string(i)}, {"tags", {"a", "b"}}});
    a->increment("m", "doc1", "n", 2.5);
    a->remove("m", "doc2");
    a->put("m", {{"id", "doc3"}});
    Bytes state = a->encodeState();
    ChangeSet cs = decodeChangeSet(state);
    CHECK(encodeChangeSet(cs) == state);
    CHECK(cs.rowCount() == 149); // 50 x (cl + 2 fields) - doc2 (deleted: cl only) + counter on doc1
}

TEST_CASE("codec: truncated or corrupted change sets are refused cleanly") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    for (int i = 0; i < 20; ++i)
        a->put("t", {{"id", "d" + std::to_string(i)}, {"v", i}, {"s", "text"}});
    Bytes state = a->encodeState();
    for (size_t cut = 0; cut < state.size(); ++cut)
        CHECK_THROWS_AS(decodeChangeSet(state.data(), cut), Error);
    std::mt19937_64 rng(test::seed());
    INFO("seed " << test::seed());
    for (int i = 0; i < 2000; ++i) {
        Bytes bad = state;
        bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
        try {
            ChangeSet cs = decodeChangeSet(bad);
            auto s = test::replica(9, clock);
            s->apply(cs); // whatever decodes is structurally valid and applies without breaking anything
            s->checkInvariants();
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::Decode);
        }
    }
}

TEST_CASE("protocol: every frame type round-trips") {
    SiteId site = test::site(7);
    SyncVector have{{"cards", {{test::site(1), 12}, {test::site(2), 3}}}, {"cols", {}}};
    std::vector<Message> msgs = {Message::hello(site, 4, have, {"cards", "cols"}, "jwt.token.here"),
                                 Message::changeBatch(42, Bytes{kChangeSetVersion, 0, 0, 0, 0, 0}),
                                 Message::ack(42),
                                 Message::end(have),
                                 Message::presenceUpdate(site, Value{{"name", "Ada"}, {"cursor", {1, 2}}}),
                                 Message::error("rate_limited", "slow down", false, 42)};
    for (const auto &m : msgs) {
        Message back = decodeMessage(encodeMessage(m));
        CHECK(back.type == m.type);
        CHECK(back.site == m.site);
        CHECK(back.have == m.have);
        CHECK(back.collections == m.collections);
        CHECK(back.token == m.token);
        CHECK(back.batch == m.batch);
        CHECK(back.changes == m.changes);
        CHECK(back.presence == m.presence);
        CHECK(back.code == m.code);
        CHECK(back.message == m.message);
        CHECK(back.schemaVersion == m.schemaVersion);
    }
}

TEST_CASE("protocol: hostile frames get a clean error") {
    auto bad = [](const Bytes &b, const char *needle) {
        try {
            decodeMessage(b);
            FAIL("expected a decode error");
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::Decode);
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    bad({}, "truncated");
    bad({0x91, 0x01}, "map");
    bad(Value::to_msgpack(Value{{"t", "nope"}}), "unknown frame type");
    bad(Value::to_msgpack(Value{{"t", "ack"}}), "batch");
    bad(Value::to_msgpack(Value{{"t", "ack"}, {"batch", -1}}), "non-negative");
    bad(Value::to_msgpack(Value{{"t", "changes"}, {"batch", 1}, {"data", "text"}}), "binary");
    Bytes deep(100000, 0x91); // an array in an array in ... : refused before any recursion
    deep.push_back(0xc0);
    bad(deep, "deeper");
    bad({0xdd, 0xff, 0xff, 0xff, 0xff}, "larger than the frame");
    Bytes ok = encodeMessage(Message::ack(1));
    ok.push_back(0);
    bad(ok, "trailing");
}

TEST_CASE("codec: repeated arrays and objects are encoded once each, to the same bytes as walking each") {
    // Tag lists drawn from a few hundred (repeats), unique ones past the memo's limit, and values too large
    // for it; strings that repeat only inside them must still reach the string table with their counts.
    for (uint64_t seed : {1ull, 2ull, 3ull}) {
        CAPTURE(seed);
        uint64_t s = seed;
        auto next = [&] {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            return static_cast<uint32_t>(s >> 33);
        };
        ChangeSet cs;
        cs.sites.push_back(test::site(1));
        cs.fieldNames = {"tags", "pos", "note"};
        cs.collections.emplace_back();
        CollectionChanges &c = cs.collections.back();
        c.name = "t";
        const size_t n = 3 * enc::PackedMemo::kMaxDistinct;
        std::vector<Value> values;
        for (size_t i = 0; i < n; ++i) {
            char id[16];
            std::snprintf(id, sizeof id, "d%07zu", i);
            c.docIds.push_back(id);
            Value v;
            switch (next() % 4) {
            case 0:
                v = Value::array({"tag" + std::to_string(next() % 20), "tag" + std::to_string(next() % 20)});
                break;
            case 1:
                v = Value{{"x", next() % 1000000}, {"y", "k" + std::to_string(next() % 50)}};
                break; // mostly unique
            case 2:
                v = Value::array({std::string(80, static_cast<char>('a' + next() % 3)), "tag1"});
                break; // > 64 bytes
            default:
                v = "tag" + std::to_string(next() % 20);
                break;
            }
            Row r;
            r.kind = RowKind::Field;
            r.doc = static_cast<uint32_t>(i);
            r.field = static_cast<uint32_t>(i % 3);
            r.stamp = Stamp{1000 + i, 1, 0};
            r.seq = i + 1;
            r.value = Cell::of(v);
            c.rows.push_back(std::move(r));
            values.push_back(std::move(v));
        }
        c.ranges.push_back(Range{0, 0, n});
        enc::PackedMemo::enabled = false;
        const Bytes walked = encodeChangeSet(cs);
        enc::PackedMemo::enabled = true;
        const Bytes memo = encodeChangeSet(cs);
        CHECK(memo == walked);
        ChangeSet back = decodeChangeSet(memo);
        REQUIRE(back.collections.size() == 1);
        REQUIRE(back.collections[0].rows.size() == n);
        for (size_t i = 0; i < n; ++i)
            REQUIRE(back.collections[0].rows[i].value.toValue() == values[back.collections[0].rows[i].doc]);
        // A small change set right after the large one: the memo starts empty again.
        ChangeSet one = cs;
        one.collections[0].rows.resize(1);
        one.collections[0].ranges[0].to = 1;
        enc::PackedMemo::enabled = false;
        const Bytes walkedOne = encodeChangeSet(one);
        enc::PackedMemo::enabled = true;
        CHECK(encodeChangeSet(one) == walkedOne);
    }
}
