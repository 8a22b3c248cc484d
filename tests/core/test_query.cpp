#include "support.hpp"

using namespace syncore;

namespace {
std::vector<std::string> ids(const std::vector<Value> &docs) {
    std::vector<std::string> out;
    for (const auto &d : docs)
        out.push_back(d["id"]);
    return out;
}
} // namespace

TEST_CASE("queries: where, orderBy, limit") {
    test::ManualClock clock;
    auto s = test::replica(1, clock);
    s->put("t", {{"id", "a"}, {"title", "pear"}, {"done", false}, {"p", 3}, {"tags", {"x"}}});
    s->put("t", {{"id", "b"}, {"title", "apple"}, {"done", true}, {"p", 1}});
    s->put("t", {{"id", "c"}, {"title", "fig"}, {"done", false}, {"p", 2}});
    s->put("t", {{"id", "d"}, {"title", "kiwi"}, {"done", false}, {"p", "high"}});
    s->remove("t", "c");
    auto q = [&](const Value &j) { return ids(s->find("t", Query::fromJson(j))); };
    CHECK(q({{"where", {{"done", false}}}}) == std::vector<std::string>{"a", "d"});
    CHECK(q({{"where", {{"p", {{"$gt", 1}}}}}}) == std::vector<std::string>{"a"}); // strings are not > numbers
    CHECK(q({{"where", {{"p", {{"$gte", 1}, {"$lt", 3}}}}}}) == std::vector<std::string>{"b"});
    CHECK(q({{"where", {{"p", {{"$lte", 3}}}}}, {"orderBy", {{"p", "desc"}}}}) == std::vector<std::string>{"a", "b"});
    CHECK(q({{"where", {{"p", {{"$ne", 1}}}}}}) == std::vector<std::string>{"a", "d"});
    CHECK(q({{"where", {{"title", {{"$in", {"kiwi", "apple", "nope"}}}}}}}) == std::vector<std::string>{"b", "d"});
    CHECK(q({{"where", {{"tags", {{"$eq", {"x"}}}}}}}) == std::vector<std::string>{"a"});
    CHECK(q({{"where", {{"missing", nullptr}}}}) == std::vector<std::string>{"a", "b", "d"});
    CHECK(q({{"where", {{"missing", {{"$ne", 1}}}}}}) == std::vector<std::string>{"a", "b", "d"});
    CHECK(q({{"orderBy", "title"}}) == std::vector<std::string>{"b", "d", "a"});
    CHECK(q({{"orderBy", "title"}, {"limit", 2}}) == std::vector<std::string>{"b", "d"});
    CHECK(q({{"orderBy", {{"done", "asc"}, {"title", "desc"}}}}) == std::vector<std::string>{"a", "d", "b"});
    CHECK(q({{"where", {{"id", "d"}}}}) == std::vector<std::string>{"d"});
    CHECK(q(Value()) == std::vector<std::string>{"a", "b", "d"});
    CHECK(s->find("nothing-here", Query()).empty());
}

TEST_CASE("queries: bad queries are refused with a message that names the problem") {
    auto bad = [](const Value &j, const char *needle) {
        try {
            Query::fromJson(j);
            FAIL("expected an error for " << j.dump());
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::InvalidArgument);
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    bad({{"where", {{"p", {{"$regex", "x"}}}}}}, "$regex");
    bad({{"where", {{"p", {{"$in", 3}}}}}}, "$in");
    bad({{"where", 3}}, "where");
    bad({{"orderBy", {{"p", "up"}}}}, "asc");
    bad({{"limit", -1}}, "limit");
    bad({{"limt", 1}}, "limt");
    bad(Value::array(), "object");
}
