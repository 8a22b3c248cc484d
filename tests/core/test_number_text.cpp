// Decimal text <-> double without strtod/printf (syncore/number_text.hpp), checked against the C
// library: strtod for reading, the %.15g..%.17g loop json_text used before for writing.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "support.hpp"
#include "syncore/number_text.hpp"

using namespace syncore;

namespace {

std::string libcShortest(double d) {
    char buf[32];
    for (int prec = 15; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (prec == 17 || std::strtod(buf, nullptr) == d)
            break;
    }
    return buf;
}

std::string ours(double d) {
    std::string s;
    appendShortestDouble(s, d);
    return s;
}

/** decimalToDouble agrees with strtod bit for bit (false where strtod overflows). */
bool readsLikeStrtod(const std::string &text) {
    double want = std::strtod(text.c_str(), nullptr), got = 0;
    bool ok = decimalToDouble(text.data(), text.size(), got);
    if (std::isinf(want))
        return !ok;
    return ok && std::memcmp(&want, &got, sizeof got) == 0;
}

double fromBits(uint64_t b) {
    double d;
    std::memcpy(&d, &b, sizeof d);
    return d;
}

} // namespace

TEST_CASE("number text: edge cases read like strtod") {
    const char *texts[] = {"0", "-0", "0.0", "-0.0", "1", "1.5", "0.1", "0.30000000000000004", "1e23", "1e308",
                           "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "2e308",
                           "4.9e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-400", "-1e-400",
                           "2.2250738585072011e-308", "2.2250738585072014e-308", "9007199254740993",
                           "9007199254740992.5", "1234567890123456.5", "123456789012345678901234567890",
                           "1e99999999999", "1e-99999999999", "0e99999", "0.000000000000000000000000000001e30",
                           // a halfway point written out in full, then just above and below it
                           "9007199254740993.0000000000000000000000000000000000000000000000000000000001",
                           "9007199254740992.9999999999999999999999999999999999999999999999999999999999"};
    for (const char *t : texts) {
        INFO(t);
        CHECK(readsLikeStrtod(t));
    }
    // more than 800 digits: the cut-off ones still decide a tie
    std::string longTie = "9007199254740993" + std::string(900, '0') + "1";
    CHECK(readsLikeStrtod(longTie));
    CHECK(readsLikeStrtod("9007199254740993" + std::string(900, '0')));
}

TEST_CASE("number text: edge cases write like printf") {
    const double values[] = {0.0,
                             -0.0,
                             1.0,
                             0.1,
                             0.2,
                             1.0 / 3,
                             2.0 / 3,
                             1e21,
                             1e22,
                             1e15,
                             1e16,
                             1e17,
                             123456.789,
                             1e-5,
                             1e-4,
                             0.0001234,
                             5e-324,
                             2.2250738585072014e-308,
                             1.7976931348623157e308,
                             1234567890123456.5,
                             9007199254740993.0,
                             1e100,
                             -2.5,
                             123456789012345680.0};
    for (double d : values) {
        INFO(libcShortest(d));
        CHECK(ours(d) == libcShortest(d));
    }
}

TEST_CASE("number text: random doubles and decimals agree with the C library (seeded)") {
    std::mt19937_64 rng(test::seed());
    INFO("seed " << test::seed());
    char buf[900];
    for (uint64_t i = 0, n = test::ops(20000); i < n; ++i) {
        double d = fromBits(rng());
        if (!std::isfinite(d))
            continue;
        REQUIRE(ours(d) == libcShortest(d));
        double sub = fromBits(rng() % (uint64_t(1) << 53)); // denormals and the smallest normals
        REQUIRE(ours(sub) == libcShortest(sub));
        std::snprintf(buf, sizeof buf, "%.*g", static_cast<int>(rng() % 17) + 1, d);
        REQUIRE(readsLikeStrtod(buf));
        std::snprintf(buf, sizeof buf, "%.40e", d);
        REQUIRE(readsLikeStrtod(buf));
        std::snprintf(buf, sizeof buf, "%llu.%llue%d", static_cast<unsigned long long>(rng() % 100000),
                      static_cast<unsigned long long>(rng() % 1000000), static_cast<int>(rng() % 700) - 350);
        REQUIRE(readsLikeStrtod(buf));
        // the exact midpoint between d and the next double (printf writes it exactly): ties to even
        double a = std::fabs(d), b = std::nextafter(a, INFINITY);
        if (std::isfinite(b) && i % 8 == 0) {
            // (long double has 64 or 113 bits of mantissa here: the midpoint needs 54)
            long double mid = static_cast<long double>(a) + (static_cast<long double>(b) - a) / 2;
            std::snprintf(buf, sizeof buf, "%.800Le", mid);
            REQUIRE(readsLikeStrtod(buf));
        }
    }
}
