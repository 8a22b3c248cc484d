// JSON text parser and writer (the binding boundary), checked against nlohmann/json as the oracle.
#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "support.hpp"
#include "syncore/json_text.hpp"

using namespace syncore;

namespace {

Value oracle(const std::string &text) { return Value::parse(text); }

std::string errorOf(const std::string &text) {
    try {
        parseJsonText(text, "document");
    } catch (const Error &e) {
        CHECK(e.code() == ErrorCode::InvalidArgument);
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("json text: valid texts parse as nlohmann parses them") {
    const char *texts[] = {"null",
                           "true",
                           "false",
                           "0",
                           "-0",
                           "1",
                           "-1",
                           "42",
                           "1.5",
                           "-0.25",
                           "1e3",
                           "1E-3",
                           "2.5e+10",
                           "123456789012345",
                           "9007199254740993",
                           "18446744073709551615",
                           "-9223372036854775808",
                           "18446744073709551616",
                           "-9223372036854775809",
                           "1e308",
                           "5e-324",
                           "0.1",
                           "\"\"",
                           "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
                           "\"\\u0000\\u001f\\u00e9\\u20ac\\ud83d\\ude00\"",
                           "\"h\xc3\xa9llo \xe2\x9c\x93\"",
                           "[]",
                           "{}",
                           " [ 1 , 2 ,3 ] ",
                           "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
                           "{\"dup\":1,\"dup\":2}",
                           "[[[[[]]]]]",
                           "{\"__proto__\":{\"x\":1},\"constructor\":2}",
                           "\t\r\n{ \"k\" :\n[\"v\"] }\n"};
    for (const char *t : texts) {
        INFO("text: " << t);
        Value ours = parseJsonText(t);
        Value theirs = oracle(t);
        CHECK(ours == theirs);
        CHECK(ours.type() == theirs.type());
    }
}

TEST_CASE("json text: invalid texts are refused with the byte that is wrong") {
    struct Bad {
        const char *text;
        const char *message;
    };
    const Bad bad[] = {
        {"", "unexpected end at byte 0"},
        {" ", "unexpected end at byte 1"},
        {"nul", "unexpected character at byte 0"},
        {"[1,]", "unexpected character at byte 3"},
        {"[1 2]", "expected ',' or ']' at byte 3"},
        {"{\"a\" 1}", "expected ':' at byte 5"},
        {"{\"a\":1,}", "expected a key at byte 7"},
        {"{1:2}", "expected a key or '}' at byte 1"},
        {"01", "leading zero in a number at byte 1"},
        {"1.", "digits must follow '.'"},
        {"1e", "digits must follow the exponent"},
        {"-", "bad number"},
        {"+1", "unexpected character at byte 0"},
        {"1e400", "number out of range at byte 0"},
        {"\"abc", "unterminated string"},
        {"\"a\nb\"", "control character in a string at byte 2"},
        {"\"\\x\"", "bad escape in a string at byte 2"},
        {"\"\\u12xy\"", "bad hex digit"},
        {"\"\\u12\"", "truncated \\u escape"},
        {"\"\\ud800\"", "lone surrogate"},
        {"\"\\udc00\"", "lone surrogate"},
        {"\"\\ud800\\u0041\"", "lone surrogate"},
        {"\"\xff\"", "string is not valid UTF-8 at byte 1"},
        {"\"\xed\xa0\x80\"", "not valid UTF-8"},
        {"[1] x", "trailing characters after the value at byte 4"},
        {"NaN", "unexpected character"},
        {"[Infinity]", "unexpected character"},
    };
    for (const auto &b : bad) {
        std::string text = b.text, msg = errorOf(b.text);
        INFO("text: " << text << " -> " << msg);
        CHECK(msg.rfind("invalid document: ", 0) == 0);
        CHECK(msg.find(b.message) != std::string::npos);
        CHECK_THROWS(oracle(b.text)); // nlohmann refuses them too (1e400 included)
    }
}

TEST_CASE("json text: nesting is bounded, and deep input does not recurse") {
    std::string ok(kMaxJsonTextDepth, '[');
    ok += std::string(kMaxJsonTextDepth, ']');
    CHECK(parseJsonText(ok).is_array());
    std::string deep(kMaxJsonTextDepth + 1, '[');
    deep += std::string(kMaxJsonTextDepth + 1, ']');
    CHECK(errorOf(deep).find("nesting deeper than") != std::string::npos);
    std::string hostile(1 << 20, '['); // a megabyte of '[': refused at the limit, no stack overflow
    CHECK(errorOf(hostile).find("nesting deeper than") != std::string::npos);
}

TEST_CASE("json text: the writer round-trips every value and writes shortest doubles") {
    std::vector<Value> values = test::sampleValues();
    for (Value v : {Value(0.1), Value(1.0 / 3), Value(5e-324), Value(123456.789), Value("q\"b\\s/\n\t\x01\x1f"),
                    Value("h\xc3\xa9llo \xf0\x9f\x98\x80"),
                    Value{{"k", {{"nested", {1, 2, {{"x", nullptr}}}}}}, {"__proto__", 1}, {"b", "t"}}})
        values.push_back(v);
    for (const auto &v : values) {
        std::string text = toJsonText(v);
        INFO("text: " << text);
        CHECK(parseJsonText(text) == v);
        CHECK(oracle(text) == v);
    }
    CHECK(toJsonText(0.1) == "0.1");
    CHECK(toJsonText(1.5) == "1.5");
    CHECK(toJsonText(1e300) == "1e+300");
    CHECK(toJsonText(Value{{"b", 1}, {"a", Value::array({true, nullptr})}}) == "{\"a\":[true,null],\"b\":1}");
    CHECK(toJsonText("\x01") == "\"\\u0001\"");
    CHECK_THROWS_AS(toJsonText(std::nan("")), Error);
    CHECK_THROWS_AS(toJsonText(INFINITY), Error);
}

TEST_CASE("json text: random values round-trip (seeded)") {
    const uint64_t seed = test::seed();
    INFO("seed " << seed);
    std::mt19937_64 gen(seed);
    struct {
        std::mt19937_64 &g;
        uint64_t next() { return g(); }
        size_t below(size_t n) { return static_cast<size_t>(g() % n); }
    } rng{gen};
    std::function<Value(int)> make = [&](int depth) -> Value {
        switch (rng.below(depth > 3 ? 6 : 8)) {
        case 0:
            return nullptr;
        case 1:
            return rng.below(2) == 0;
        case 2:
            return static_cast<int64_t>(rng.next());
        case 3: {
            double d;
            uint64_t bits = rng.next();
            std::memcpy(&d, &bits, sizeof d);
            return std::isfinite(d) ? Value(d) : Value(0.5);
        }
        case 4:
        case 5: {
            std::string s;
            for (size_t i = rng.below(12); i > 0; --i)
                s += "a\"\\\n\x01\xc3\xa9\xe2\x9c\x93z"[rng.below(12)];
            return isValidUtf8(s) ? Value(s) : Value("x");
        }
        case 6: {
            Value a = Value::array();
            for (size_t i = rng.below(5); i > 0; --i)
                a.push_back(make(depth + 1));
            return a;
        }
        default: {
            Value o = Value::object();
            for (size_t i = rng.below(5); i > 0; --i)
                o["k" + std::to_string(rng.below(10))] = make(depth + 1);
            return o;
        }
        }
    };
    for (int i = 0; i < 2000; ++i) {
        Value v = make(0);
        std::string text = toJsonText(v);
        INFO("text: " << text);
        REQUIRE(parseJsonText(text) == v);
        REQUIRE(oracle(text) == v);
    }
}

TEST_CASE("json text: Txn::putJson stores exactly what put() stores, and refuses what put() refuses") {
    test::ManualClock clock;
    const char *docs[] = {
        R"({"id":"a","title":"Write spec","done":false,"priority":4,"tags":["x","y"]})",
        R"({"title":"esc \"q\" \u00e9 \ud83d\ude00","id":"b","n":-1.5e3,"big":18446744073709551615,"o":{"k":[1,{"z":null}]}})",
        R"( { "i\u0064" : "c" , "dup" : 1 , "dup" : "last" , "__proto__" : {"x":1} } )",
        R"({"id":"d","n":1.0,"m":0.1,"t":true,"nil":null,"s":""})",
        R"({"id":"a","title":"put again: fields not here are removed"})",
    };
    auto viaValue = test::replica(1, clock);
    auto viaText = test::replica(1, clock);
    for (const char *d : docs) {
        INFO("doc: " << d);
        viaValue->transaction([&](Txn &tx) { tx.put("c", Value::parse(d)); });
        viaText->transaction([&](Txn &tx) { tx.putJson("c", d, std::strlen(d)); });
        clock.advance(1);
    }
    CHECK(viaText->stateHash() == viaValue->stateHash());
    CHECK(viaText->debugDump() == viaValue->debugDump());
    CHECK(*viaText->get("c", "a") == Value{{"id", "a"}, {"title", "put again: fields not here are removed"}});
    CHECK((*viaText->get("c", "c"))["dup"] == "last");
    viaText->checkInvariants();

    struct Bad {
        const char *text;
        const char *message;
    };
    const Bad bad[] = {
        {R"({"title":"x"})", "document has no 'id'"},
        {R"({"id":1})", "document has no 'id'"},
        {R"({"id":""})", "document id must be a non-empty string"},
        {R"(["id","a"])", "expected an object"},
        {R"({"id":"a","x":[1,}})", "invalid document"},
        {R"({"id":"a","x":"\ud800"})", "lone surrogate"},
        {R"({"id":"a","x":1)", "expected ',' or '}'"},
        {R"({"id":"a"} x)", "trailing characters"},
        {"{\"id\":\"a\",\"x\":\"\xff\"}", "not valid UTF-8"},
    };
    const uint64_t before = viaText->stateHash();
    for (const auto &b : bad) {
        std::string text = b.text, msg;
        try {
            viaText->transaction([&](Txn &tx) { tx.putJson("c", text.data(), text.size()); });
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::InvalidArgument);
            msg = e.what();
        }
        INFO("text: " << text << " -> " << msg);
        CHECK(msg.find(b.message) != std::string::npos);
    }
    CHECK(viaText->stateHash() == before); // nothing written by a failed put
    StoreOptions small;
    small.maxDocumentBytes = 64;
    auto limited = Store::open(small);
    std::string big = R"({"id":"big","text":")" + std::string(200, 'x') + "\"}";
    CHECK_THROWS_WITH_AS(limited->transaction([&](Txn &tx) { tx.putJson("c", big.data(), big.size()); }),
                         doctest::Contains("larger than the limit"), Error);
}
