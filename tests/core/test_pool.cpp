// The size-class pool (wasm/src/pool.hpp) and the string table's own hash table (value.hpp).
#include <cstring>
#include <map>
#include <vector>

#include "pool.hpp" // wasm/src (internal)
#include "support.hpp"

using namespace syncore;

TEST_CASE("pool: blocks of every size keep their bytes, are reused, and large ones bypass it") {
    std::map<void *, std::pair<size_t, uint8_t>> live; // block -> (size, fill byte)
    uint64_t seed = 12345;
    auto next = [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<uint32_t>(seed >> 33);
    };
    auto check = [&](void *p, size_t n, uint8_t fill) {
        const auto *b = static_cast<const uint8_t *>(p);
        for (size_t i = 0; i < n; ++i)
            if (b[i] != fill)
                return false;
        return true;
    };
    for (int step = 0; step < 20000; ++step) {
        if (live.empty() || next() % 3 != 0) {
            size_t n = 1 + next() % (pool::kMaxBytes + 200); // some above the pool's largest class
            void *p = pool::allocate(n);
            REQUIRE(p != nullptr);
            CHECK(reinterpret_cast<uintptr_t>(p) % alignof(uint64_t) == 0);
            REQUIRE(live.count(p) == 0); // never handed out twice
            uint8_t fill = static_cast<uint8_t>(next());
            std::memset(p, fill, n);
            live[p] = {n, fill};
        } else {
            auto it = live.begin();
            std::advance(it, next() % live.size());
            REQUIRE(check(it->first, it->second.first, it->second.second)); // nobody wrote over it
            pool::deallocate(it->first, it->second.first);
            live.erase(it);
        }
    }
    for (auto &[p, v] : live) {
        REQUIRE(check(p, v.first, v.second));
        pool::deallocate(p, v.first);
    }
    // A freed block of a class is the next one handed out for that class (no new slab memory).
    void *a = pool::allocate(40);
    pool::deallocate(a, 40);
    size_t before = pool::slabBytes();
    void *b = pool::allocate(33); // same 48-byte class
    CHECK(b == a);
    CHECK(pool::slabBytes() == before);
    pool::deallocate(b, 33);
    pool::deallocate(nullptr, 10); // a no-op, as delete of null is
}

TEST_CASE("pool: containers on the pool allocator behave as std::vector does") {
    std::vector<std::vector<uint64_t, pool::Allocator<uint64_t>>> vs(50);
    for (uint64_t i = 0; i < 5000; ++i)
        vs[i % vs.size()].push_back(i * 3); // each grows through several classes, then past the pool
    for (size_t k = 0; k < vs.size(); ++k) {
        REQUIRE(vs[k].size() == 100);
        for (size_t j = 0; j < vs[k].size(); ++j)
            REQUIRE(vs[k][j] == (j * vs.size() + k) * 3);
    }
    auto copy = vs[7];
    CHECK(copy == vs[7]);
    vs.clear();
    CHECK(copy.size() == 100);
}

TEST_CASE("string table: counts, keeps strings seen twice, finds them after the counted views are gone") {
    StringTable table;
    {
        std::vector<std::string> words;
        for (int i = 0; i < 3000; ++i) // enough distinct strings to grow the table several times
            words.push_back("w" + std::to_string(i % 1000));
        for (const auto &w : words)
            table.count(w);
        table.count("x");                                      // too short: never indexed
        table.count("a string far longer than sixteen bytes"); // too long: never indexed
        table.count("once only");
        table.build();
    } // the counted strings are destroyed here
    CHECK(table.strings().size() == 1000);
    for (int i = 0; i < 1000; ++i) {
        int64_t idx = table.find("w" + std::to_string(i));
        REQUIRE(idx >= 0);
        CHECK(table.strings()[static_cast<size_t>(idx)] == "w" + std::to_string(i));
    }
    CHECK(table.find("once only") == -1);
    CHECK(table.find("x") == -1);
    CHECK(table.find("w1000") == -1);
    StringTable empty;
    empty.build();
    CHECK(empty.find("w1") == -1);
}
