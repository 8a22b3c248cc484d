#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support.hpp"
#include "syncore/journal.hpp"

using namespace syncore;
namespace fs = std::filesystem;

namespace {
std::unique_ptr<Store> openAt(const std::string &dir, test::ManualClock &clock, OpenReport *report = nullptr,
                              size_t segment = 1 << 20, size_t compact = 8 << 20) {
    StoreOptions o;
    o.directory = dir;
    o.clock = clock.source();
    o.segmentBytes = segment;
    o.compactBytes = compact;
    return Store::open(o, report);
}

std::vector<std::string> segments(const std::string &dir) {
    std::vector<std::string> out;
    for (auto &e : fs::directory_iterator(dir))
        if (Journal::parseSegmentName(e.path().filename().string()))
            out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

void copyDir(const std::string &from, const std::string &to) {
    fs::remove_all(to);
    fs::create_directories(to);
    for (auto &e : fs::directory_iterator(from))
        fs::copy_file(e.path(), fs::path(to) / e.path().filename());
}
} // namespace

TEST_CASE("storage: everything written survives close and reopen, site id included") {
    test::TempDir dir;
    test::ManualClock clock;
    SiteId site;
    uint64_t hash;
    {
        OpenReport rep;
        auto s = openAt(dir.path(), clock, &rep);
        CHECK(rep.created);
        CHECK_FALSE(rep.damaged);
        site = s->siteId();
        s->setSchemaVersion(3);
        s->configureCollection("cards", ConflictPolicy::Manual);
        for (int i = 0; i < 100; ++i)
            s->put("cards", {{"id", "c" + std::to_string(i)}, {"n", i}});
        s->remove("cards", "c5");
        s->increment("cards", "c6", "votes", 2);
        s->createSnapshot("first", "ada");
        hash = s->stateHash();
    }
    OpenReport rep;
    auto s = openAt(dir.path(), clock, &rep);
    CHECK_FALSE(rep.created);
    CHECK_FALSE(rep.damaged);
    CHECK(s->siteId() == site);
    CHECK(s->stateHash() == hash);
    CHECK(s->schemaVersion() == 3);
    CHECK(s->policy("cards") == ConflictPolicy::Manual);
    CHECK(s->snapshots().size() == 1);
    CHECK(s->get("cards", "c6")->at("votes") == 2);
    // New writes continue the same sequence: nothing is numbered twice.
    s->put("cards", {{"id", "new"}});
    s->checkInvariants();
}

TEST_CASE("storage: compaction keeps the file count small and loses nothing") {
    test::TempDir dir;
    test::ManualClock clock;
    uint64_t hash;
    {
        auto s = openAt(dir.path(), clock, nullptr, 4096, 32768);
        for (int i = 0; i < 2000; ++i)
            s->put("t", {{"id", "d" + std::to_string(i % 300)}, {"v", i}, {"s", "some text"}});
        hash = s->stateHash();
        size_t files = static_cast<size_t>(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()));
        CHECK(files <= 12);
    }
    auto s = openAt(dir.path(), clock);
    CHECK(s->stateHash() == hash);
}

TEST_CASE("storage: bytes written per small write do not grow with the store") {
    test::TempDir small, big;
    test::ManualClock clock;
    auto a = openAt(small.path(), clock);
    auto b = openAt(big.path(), clock);
    a->put("t", {{"id", "d7"}, {"v", 0}});
    b->transaction([&](Txn &tx) {
        for (int i = 0; i < 20000; ++i)
            tx.put("t", {{"id", "d" + std::to_string(i)}, {"v", i}});
    });
    b->compact();
    uint64_t a0 = a->journalBytes(), b0 = b->journalBytes();
    a->update("t", "d7", {{"v", 1}});
    b->update("t", "d7", {{"v", 1}});
    // The same record, give or take the varint width of larger sequence numbers.
    uint64_t da = a->journalBytes() - a0, db = b->journalBytes() - b0;
    CHECK(db <= da + 8);
    CHECK(b->journalBytes() - b0 < 200);
}

TEST_CASE("storage: a journal cut at every byte of its last records keeps everything before the cut") {
    test::TempDir dir, work;
    test::ManualClock clock;
    std::vector<uint64_t> hashes; // state after each committed write
    {
        auto s = openAt(dir.path(), clock);
        s->put("t", {{"id", "base"}, {"v", 0}});
        s->compact(); // state file holds "base"; the journal holds what follows
        hashes.push_back(s->stateHash());
        for (int i = 0; i < 6; ++i) {
            s->put("t", {{"id", "d" + std::to_string(i)}, {"text", "value " + std::to_string(i)}});
            hashes.push_back(s->stateHash());
        }
    }
    auto segs = segments(dir.path());
    REQUIRE(segs.size() == 1);
    Bytes journal = readFile(segs[0]);
    ScanResult scan = scanRecords(journal.data(), journal.size());
    REQUIRE(scan.records.size() == 6);
    std::string seg = fs::path(segs[0]).filename().string();
    for (size_t cut = 0; cut <= journal.size(); ++cut) {
        copyDir(dir.path(), work.path());
        truncateFile(work.path() + "/" + seg, cut);
        size_t whole = 0; // records entirely before the cut
        for (const auto &r : scan.records)
            if (r.offset + kRecordHeaderBytes + r.payload.size() <= cut)
                ++whole;
        OpenReport rep;
        auto s = openAt(work.path(), clock, &rep);
        INFO("cut at byte " << cut);
        CHECK(s->stateHash() == hashes[whole]);
        bool torn = cut != journal.size() && (whole == 0 ? cut > 0
                                                         : cut != scan.records[whole - 1].offset + kRecordHeaderBytes +
                                                                      scan.records[whole - 1].payload.size());
        CHECK(rep.damaged == torn);
        s->checkInvariants();
        s->put("t", {{"id", "after"}}); // the store is writable, and the next open is clean
        s.reset();
        OpenReport rep2;
        auto again = openAt(work.path(), clock, &rep2);
        CHECK_FALSE(rep2.damaged);
        CHECK(again->get("t", "after"));
    }
}

TEST_CASE("storage: flipped bits are detected; everything before the damage is kept") {
    test::TempDir dir, work;
    test::ManualClock clock;
    std::vector<uint64_t> hashes;
    {
        auto s = openAt(dir.path(), clock);
        s->compact();
        hashes.push_back(s->stateHash());
        for (int i = 0; i < 8; ++i) {
            s->put("t", {{"id", "d" + std::to_string(i)}, {"v", i}});
            hashes.push_back(s->stateHash());
        }
    }
    auto segs = segments(dir.path());
    Bytes journal = readFile(segs[0]);
    ScanResult scan = scanRecords(journal.data(), journal.size());
    std::string seg = fs::path(segs[0]).filename().string();
    std::mt19937_64 rng(test::seed());
    INFO("seed " << test::seed());
    for (int trial = 0; trial < 200; ++trial) {
        copyDir(dir.path(), work.path());
        Bytes bad = journal;
        size_t at = rng() % bad.size();
        bad[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        {
            FILE *f = std::fopen((work.path() + "/" + seg).c_str(), "wb");
            std::fwrite(bad.data(), 1, bad.size(), f);
            std::fclose(f);
        }
        size_t damaged = 0; // index of the record holding the flipped byte
        while (damaged + 1 < scan.records.size() && scan.records[damaged + 1].offset <= at)
            ++damaged;
        OpenReport rep;
        auto s = openAt(work.path(), clock, &rep);
        INFO("flip at byte " << at);
        CHECK(rep.damaged);
        CHECK(s->stateHash() == hashes[damaged]);
        s->checkInvariants();
    }
}

TEST_CASE("storage: a damaged state file is reported; the journal is still replayed") {
    test::TempDir dir;
    test::ManualClock clock;
    {
        auto s = openAt(dir.path(), clock);
        s->put("t", {{"id", "in-state"}});
        s->compact();
        s->put("t", {{"id", "in-journal"}});
    }
    {
        std::fstream f(dir.path() + "/syncore.state", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(20);
        f.put('\x7f');
    }
    OpenReport rep;
    auto s = openAt(dir.path(), clock, &rep);
    CHECK(rep.damaged);
    CHECK(rep.message.find("state file damaged") != std::string::npos);
    CHECK(s->get("t", "in-journal"));
    CHECK(fs::exists(dir.path() + "/syncore.state.damaged"));
}
