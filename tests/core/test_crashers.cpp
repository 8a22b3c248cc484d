// Replays every committed fuzz crasher (tests/fuzz-crashers/<target>/*) through the same code as the fuzz target
// (tests/fuzz/fuzz_harness.hpp). Each input must either be handled or refused with a clean syncore::Error:
// never a crash, a sanitizer report, another exception type, or a broken invariant / round trip.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../fuzz/fuzz_harness.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> crashers(const std::string &target) {
    std::vector<fs::path> out;
    fs::path dir = fs::path(SYNCORE_SOURCE_DIR) / "tests" / "fuzz-crashers" / target;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        return out;
    for (const auto &e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.')
            out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

syncore::Bytes readAll(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    return syncore::Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

template <typename Run> void replay(const std::string &target, Run &&run) {
    fuzz::g_onFailure = fuzz::throwOnFailure; // a broken check fails the test instead of aborting the process
    for (const fs::path &p : crashers(target)) {
        const std::string name = target + "/" + p.filename().string();
        INFO("crasher " << name);
        syncore::Bytes in = readAll(p);
        try {
            run(in.data(), in.size());
        } catch (const fuzz::CheckFailed &e) {
            FAIL_CHECK((name + ": " + e.what()));
        } catch (const syncore::Error &) {
            // a clean refusal is fine
        } catch (const std::exception &e) {
            FAIL_CHECK((name + ": unexpected exception (not syncore::Error): " + e.what()));
        } catch (...) {
            FAIL_CHECK((name + ": unexpected non-std exception"));
        }
    }
    fuzz::g_onFailure = fuzz::abortOnFailure;
}

} // namespace

TEST_CASE("fuzz crashers: changeset") { replay("changeset", fuzz::runChangeset); }

TEST_CASE("fuzz crashers: message") { replay("message", fuzz::runMessage); }

TEST_CASE("fuzz crashers: value") { replay("value", fuzz::runValue); }

TEST_CASE("fuzz crashers: deflate") { replay("deflate", fuzz::runDeflate); }

TEST_CASE("fuzz crashers: json_text") { replay("json_text", fuzz::runJsonText); }

TEST_CASE("fuzz crashers: msgpack") { replay("msgpack", fuzz::runMsgpack); }

TEST_CASE("fuzz crashers: number_text") { replay("number_text", fuzz::runNumberText); }

TEST_CASE("fuzz crashers: store_open") {
    test::TempDir tmp;
    const std::string dir = tmp.path() + "/store";
    replay("store_open", [&](const uint8_t *data, size_t size) { fuzz::runStoreOpen(data, size, dir); });
}
