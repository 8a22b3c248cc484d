#pragma once
// Shared helpers of the core tests: a controllable clock, replicas, full sync, temp directories, seeds.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "syncore/store.hpp"

namespace test {

/** Seed for randomized tests: --seed=N or SYNCORE_SEED, else random; printed on failure by each test. */
uint64_t seed();
/** Operation count scale: --ops=N or SYNCORE_OPS (soak mode), else the test's default. */
uint64_t ops(uint64_t defaultOps);

struct ManualClock {
    std::shared_ptr<uint64_t> ms = std::make_shared<uint64_t>(1'700'000'000'000ull);
    syncore::Clock::Source source() const {
        auto p = ms;
        return [p] { return *p; };
    }
    void advance(uint64_t d) { *ms += d; }
};

inline syncore::SiteId site(uint8_t n) {
    syncore::SiteId s;
    s.bytes[0] = n;
    s.bytes[15] = n;
    return s;
}

inline std::unique_ptr<syncore::Store> replica(uint8_t n, const ManualClock &clock, const std::string &dir = "") {
    syncore::StoreOptions o;
    o.siteId = site(n);
    o.clock = clock.source();
    o.directory = dir;
    return syncore::Store::open(o);
}

/** Sends everything b lacks from a (in batches of maxBatch bytes); returns the batch count. */
inline size_t pushTo(syncore::Store &from, syncore::Store &to, size_t maxBatch = 0) {
    auto batches = from.changesSince(to.syncVector(), {}, maxBatch);
    for (auto &b : batches)
        to.apply(b);
    return batches.size();
}

inline void syncPair(syncore::Store &a, syncore::Store &b, size_t maxBatch = 0) {
    pushTo(a, b, maxBatch);
    pushTo(b, a, maxBatch);
}

/** A fresh empty directory under the system temp dir, removed when the object dies. */
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string &path() const { return m_path; }

  private:
    std::string m_path;
};

std::string hex64(uint64_t v);

// Every kind of value, at the edges of each encoding (small/large ints, inline/heap strings, nesting).
inline std::vector<syncore::Value> sampleValues() {
    return {nullptr,
            true,
            false,
            0,
            47,
            48,
            -1,
            INT64_MIN,
            INT64_MAX,
            UINT64_MAX,
            1.5,
            -0.25,
            1e300,
            "",
            "12345678",  // inline
            "123456789", // heap
            std::string(200, 'z'),
            "héllo ✓",
            syncore::Value::array(),
            syncore::Value::object(),
            syncore::Value::array({1, "a", nullptr, 2.5}),
            syncore::Value{{"k", {{"nested", {1, 2}}}}, {"__proto__", 1}, {"b", "text long enough"}}};
}

} // namespace test
