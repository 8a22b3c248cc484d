// Our MessagePack reader and writer (syncore/msgpack.hpp), checked byte for byte against nlohmann's
// to_msgpack/from_msgpack as the oracle: same bytes out, same values in, the same inputs refused.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "../fuzz/fuzz_harness.hpp"
#include "support.hpp"
#include "syncore/msgpack.hpp"

using namespace syncore;
using fuzz::msgpackOracle;
using fuzz::sameMsgpackValue;

namespace {

bool decodesLikeOracle(const Bytes &b) {
    return sameMsgpackValue(fromMsgpack(b.data(), b.size()), msgpackOracle(b.data(), b.size()));
}

struct Gen {
    std::mt19937_64 rng;
    template <class T> T pick(std::initializer_list<T> l) { return *(l.begin() + rng() % l.size()); }
    Value value(int depth) {
        switch (rng() % (depth > 4 ? 8 : 10)) {
        case 0:
            return nullptr;
        case 1:
            return (rng() & 1) != 0;
        case 2: { // every integer width's edges, both signs
            int64_t v = pick<int64_t>({0, 1, 31, 32, 33, 127, 128, 255, 256, 32767, 32768, 65535, 65536, INT32_MAX,
                                       int64_t(INT32_MAX) + 1, UINT32_MAX, int64_t(UINT32_MAX) + 1, INT64_MAX});
            v += static_cast<int64_t>(rng() % 3) - 1;
            if (rng() % 2)
                v = -v;
            if (rng() % 9 == 0)
                v = rng() % 2 ? INT64_MIN : static_cast<int64_t>(rng());
            return v;
        }
        case 3:
            return rng() % 2
                       ? static_cast<uint64_t>(rng())
                       : pick<uint64_t>({0, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, uint64_t(UINT32_MAX) + 1});
        case 4: { // doubles a float holds exactly (float32) and not (float64)
            double d;
            uint64_t bits = rng();
            switch (rng() % 5) {
            case 0:
                d = static_cast<double>(static_cast<float>(rng() % 100000) / 7.f);
                break;
            case 1:
                std::memcpy(&d, &bits, sizeof d);
                break;
            case 2:
                d = pick<double>({0.0, -0.0, 0.1, 1e300, std::numeric_limits<double>::infinity(),
                                  static_cast<double>(std::numeric_limits<float>::max()),
                                  std::nextafter(static_cast<double>(std::numeric_limits<float>::max()), 1e300),
                                  static_cast<double>(std::numeric_limits<float>::denorm_min())});
                break;
            default:
                d = static_cast<double>(rng()) / 3.0;
            }
            return d;
        }
        case 5: {
            size_t n = rng() % 3 ? rng() % 40 : pick<size_t>({31, 32, 255, 256, 65535, 65536});
            return std::string(n, static_cast<char>('a' + rng() % 26));
        }
        case 6:
        case 7: {
            size_t n = pick<size_t>({0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 65535, 65536});
            std::vector<uint8_t> b(n, static_cast<uint8_t>(rng()));
            return rng() % 2 ? Value::binary(std::move(b), static_cast<uint8_t>(rng())) : Value::binary(std::move(b));
        }
        case 8: {
            Value a = Value::array();
            size_t n = rng() % 6 ? rng() % 5 : pick<size_t>({15, 16, 17, 300});
            if (rng() % 300 == 0)
                n = 65536;
            for (size_t i = 0; i < n; ++i)
                a.push_back(n > 1000 ? Value(i) : value(depth + 1));
            return a;
        }
        default: {
            Value o = Value::object();
            size_t n = rng() % 6 ? rng() % 5 : pick<size_t>({15, 16, 17, 40});
            if (rng() % 300 == 0)
                n = 65536;
            for (size_t i = 0; i < n; ++i)
                o[std::to_string(rng() % (2 * n + 1)) + std::string(rng() % 3 ? 0 : 40, 'k')] =
                    n > 1000 ? Value(i) : value(depth + 1);
            return o;
        }
        }
    }
};

} // namespace

TEST_CASE("msgpack: the writer writes nlohmann's bytes for every kind and size of value") {
    const Value fixed[] = {nullptr,
                           true,
                           false,
                           0,
                           127,
                           128,
                           -1,
                           -32,
                           -33,
                           -128,
                           -129,
                           INT64_MIN,
                           UINT64_MAX,
                           1.5,
                           0.1,
                           -0.0,
                           std::string(31, 'x'),
                           std::string(32, 'x'),
                           std::string(256, 'x'),
                           std::string(65536, 'x'),
                           Value::binary({}),
                           Value::binary({}, 7),
                           Value::binary({1, 2, 3, 4}, 200),
                           Value::array(),
                           Value::object(),
                           Value{{"b", 1}, {"a", Value::array({1, "x", nullptr})}}};
    for (const auto &v : fixed)
        CHECK(toMsgpack(v) == Value::to_msgpack(v));
    Gen g{std::mt19937_64(test::seed())};
    INFO("seed " << test::seed());
    for (uint64_t i = 0, n = test::ops(1500); i < n; ++i) {
        Value v = g.value(0);
        Bytes ours = toMsgpack(v), theirs = Value::to_msgpack(v);
        REQUIRE(ours == theirs);
        REQUIRE(sameMsgpackValue(fromMsgpack(ours.data(), ours.size()), msgpackOracle(theirs.data(), theirs.size())));
    }
}

TEST_CASE("msgpack: the reader accepts and refuses exactly what nlohmann's does") {
    const Bytes fixed[] = {
        {},
        {0xc1},                                         // never used
        {0xc0, 0xc0},                                   // trailing bytes
        {0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x92, 1, 2}, // a repeated key keeps the last value
        {0x82, 0xa1, 'a', 0x91, 0x01, 0xa1, 'a', 0x02}, // ... also over a container
        {0x81, 0x01, 0x01},                             // keys must be strings
        {0x81, 0xc4, 0x01, 'a', 0x01},                  // not binary
        {0x81, 0xd9, 0x01, 'a', 0x01},                  // str8 key
        {0xd4, 0x05, 0x01},                             // fixext 1 -> binary with subtype 5
        {0xc7, 0x00, 0xff},                             // ext 8, empty
        {0xca, 0x3f, 0xc0, 0x00, 0x00},                 // float32 -> double
        {0xd0, 0x05},                                   // a positive int8 is an integer, not unsigned
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},           // a count larger than the input
        {0xdb, 0x00, 0x00, 0x00, 0x02, 'a'},            // truncated str32
        {0xc6, 0x00, 0x00, 0x00, 0x01},                 // truncated bin32
    };
    for (const auto &b : fixed) {
        INFO("input of " << b.size() << " bytes, first " << (b.empty() ? -1 : b[0]));
        CHECK(decodesLikeOracle(b));
    }
    Bytes deep(20000, 0x91); // nesting: no recursion on our side
    deep.push_back(0xc0);
    CHECK(fromMsgpack(deep.data(), deep.size()).is_array());

    Gen g{std::mt19937_64(test::seed() + 1)};
    INFO("seed " << test::seed());
    for (uint64_t i = 0, n = test::ops(1500); i < n; ++i) {
        Bytes good = Value::to_msgpack(g.value(0));
        REQUIRE(decodesLikeOracle(good));
        Bytes b = good; // cut short
        b.resize(g.rng() % good.size());
        REQUIRE(decodesLikeOracle(b));
        b = good; // flipped bytes
        for (int k = 0; k < 3; ++k)
            b[g.rng() % b.size()] = static_cast<uint8_t>(g.rng());
        REQUIRE(decodesLikeOracle(b));
        b = good; // a type byte inserted
        b.insert(b.begin() + static_cast<long>(g.rng() % b.size()), static_cast<uint8_t>(0xc0 + g.rng() % 32));
        REQUIRE(decodesLikeOracle(b));
        b.assign(g.rng() % 24, 0); // noise
        for (auto &x : b)
            x = static_cast<uint8_t>(g.rng());
        REQUIRE(decodesLikeOracle(b));
    }
}
