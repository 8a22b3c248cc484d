// Test runner: doctest with two options of our own, read before doctest sees the command line:
//   --seed=N  (or SYNCORE_SEED=N)  seed of every randomized test, to replay a failure
//   --ops=N   (or SYNCORE_OPS=N)   operation count of randomized tests (soak: millions)
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "support.hpp"

namespace {
uint64_t g_seed = 0;
uint64_t g_ops = 0;

uint64_t parseU64(const char *s) { return std::strtoull(s, nullptr, 10); }
} // namespace

namespace test {

uint64_t seed() { return g_seed; }
uint64_t ops(uint64_t defaultOps) { return g_ops ? g_ops : defaultOps; }

TempDir::TempDir() {
    static uint64_t counter = 0;
    std::random_device rd;
    auto base = std::filesystem::temp_directory_path() /
                ("syncore-test-" + std::to_string(rd()) + "-" + std::to_string(++counter));
    std::filesystem::create_directories(base);
    m_path = base.string();
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
}

std::string hex64(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

} // namespace test

int main(int argc, char **argv) {
    if (const char *e = std::getenv("SYNCORE_SEED"))
        g_seed = parseU64(e);
    if (const char *e = std::getenv("SYNCORE_OPS"))
        g_ops = parseU64(e);
    std::vector<char *> rest;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--seed=", 7) == 0)
            g_seed = parseU64(argv[i] + 7);
        else if (std::strncmp(argv[i], "--ops=", 6) == 0)
            g_ops = parseU64(argv[i] + 6);
        else
            rest.push_back(argv[i]);
    }
    if (g_seed == 0)
        g_seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    std::printf("syncore tests: seed %llu (replay with --seed=%llu or SYNCORE_SEED)\n",
                static_cast<unsigned long long>(g_seed), static_cast<unsigned long long>(g_seed));
    doctest::Context ctx;
    ctx.applyCommandLine(static_cast<int>(rest.size()), rest.data());
    return ctx.run();
}
