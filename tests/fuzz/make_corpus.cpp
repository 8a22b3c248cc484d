// Seed corpus generator for the fuzz targets (not part of the CMake build; the corpus it writes is committed).
// Build and run from the repo root:
//   g++ -std=c++17 -O1 -Iwasm/include tests/fuzz/make_corpus.cpp wasm/src/*.cpp -o /tmp/make_corpus
//   /tmp/make_corpus tests/fuzz/corpus
// Writes tests/fuzz/corpus/{changeset,message,value,store_open}/<descriptive name>. Deterministic: fixed site
// ids and a manual clock, so re-running it reproduces the same files (unless the encodings change).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../fuzz/fuzz_harness.hpp"
#include "syncore/journal.hpp"

using namespace syncore;
namespace fs = std::filesystem;

namespace {

fs::path g_out;
std::map<std::string, size_t> g_bytes;

void emit(const std::string& target, const std::string& name, const Bytes& b) {
    fs::create_directories(g_out / target);
    std::ofstream f(g_out / target / name, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    g_bytes[target] += b.size();
}

SiteId site(uint8_t n) {
    SiteId s;
    s.bytes[0] = n;
    s.bytes[15] = n;
    return s;
}

struct Clock {
    std::shared_ptr<uint64_t> ms = std::make_shared<uint64_t>(1'700'000'000'000ull);
    syncore::Clock::Source source() const {
        auto p = ms;
        return [p] { return *p; };
    }
    void tick(uint64_t d = 1) { *ms += d; }
};

std::unique_ptr<Store> replica(uint8_t n, const Clock& c, const std::string& dir = "", size_t segmentBytes = 1 << 20,
                               size_t compactBytes = 8 << 20) {
    StoreOptions o;
    o.siteId = site(n);
    o.clock = c.source();
    o.directory = dir;
    o.segmentBytes = segmentBytes;
    o.compactBytes = compactBytes;
    return Store::open(o);
}

void sync(Store& a, Store& b) {
    for (auto& x : a.changesSince(b.syncVector())) b.apply(x);
    for (auto& x : b.changesSince(a.syncVector())) a.apply(x);
}

// A few values that reach every tag of the value encoding.
std::vector<Value> sampleValues() {
    return {
        Value(),
        Value(true),
        Value(false),
        Value(0),
        Value(47),
        Value(48),
        Value(-1),
        Value(INT64_MIN),
        Value(INT64_MAX),
        Value(UINT64_MAX),
        Value(1.5),
        Value(-0.0),
        Value(1e300),
        Value(""),
        Value("short"),
        Value(std::string(63, 's')),
        Value(std::string(64, 'L')),
        Value("unicode \xc3\xa9\xe2\x82\xac"),
        Value::array(),
        Value::object(),
        Value::array({1, "two", 3.0, nullptr, true, Value::array({Value::array({Value::array()})})}),
        Value{{"a", 1}, {"b", Value{{"c", Value::array({"x", "x", "yy", "yy"})}}}, {"yy", "yy"}},
        Value{{"title", "Write spec"}, {"done", false}, {"tags", Value::array({"red", "blue", "red"})}},
    };
}

// ------------------------------------------------------------------------------------------------ value
void valueCorpus() {
    auto vals = sampleValues();
    for (size_t i = 0; i < vals.size(); ++i) {
        Writer w;
        writeValue(w, vals[i], StringTable());
        emit("value", "value-" + std::to_string(i) + "-" + vals[i].type_name(), w.bytes());
    }
    // deep nesting (at the depth limit) and a long array
    Value deep = 1;
    for (int i = 0; i < kMaxValueDepth; ++i) deep = Value::array({deep});
    Writer w;
    writeValue(w, deep, StringTable());
    emit("value", "value-deep-64", w.bytes());
    Value obj = Value::object();
    for (int i = 0; i < 40; ++i) obj["k" + std::to_string(i)] = i * 1000;
    Writer w2;
    writeValue(w2, obj, StringTable());
    emit("value", "value-object-40", w2.bytes());
}

// ------------------------------------------------------------------------------------------------ changeset
std::vector<std::pair<std::string, Bytes>> changesetCorpus() {
    std::vector<std::pair<std::string, Bytes>> out;
    auto add = [&](const std::string& name, const Bytes& b) {
        if (b.empty()) return;
        out.push_back({name, b});
        emit("changeset", name, b);
    };
    add("empty", encodeChangeSet(ChangeSet()));

    Clock clock;
    auto a = replica(1, clock);
    auto b = replica(2, clock);
    add("put-one", a->put("cards", {{"id", "c1"}, {"title", "Write spec"}, {"done", false}}).changes);
    clock.tick();
    add("put-values", a->put("cards", {{"id", "c2"}, {"v", sampleValues()}, {"n", 3.25}}).changes);
    add("update", a->update("cards", "c1", {{"title", "Write the spec"}, {"done", nullptr}}).changes);
    a->put("stats", {{"id", "s1"}, {"views", 10}});
    add("increment", a->increment("stats", "s1", "views", 5).changes);
    add("increment-float", a->increment("stats", "s1", "score", 0.25).changes);
    clock.tick();
    add("remove", a->remove("cards", "c2").changes);
    add("txn-multi", a->transaction([](Txn& t) {
                          for (int i = 0; i < 8; ++i)
                              t.put("bulk", {{"id", "doc-" + std::to_string(i)}, {"i", i}, {"tag", "same"}});
                          t.put("cards", {{"id", "c3"}, {"x", 1}});
                      }).changes);
    add("state-a", a->encodeState());

    // concurrent edits and a manual-policy conflict
    b->configureCollection("cards", ConflictPolicy::Manual);
    a->configureCollection("cards", ConflictPolicy::Manual);
    sync(*a, *b);
    clock.tick(5);
    a->update("cards", "c1", {{"title", "from a"}});
    b->update("cards", "c1", {{"title", "from b"}});
    b->increment("stats", "s1", "views", 2);
    auto fromB = b->changesSince(a->syncVector());
    for (size_t i = 0; i < fromB.size(); ++i) add("delta-b-" + std::to_string(i), fromB[i]);
    sync(*a, *b);
    auto cs = a->conflicts();
    if (!cs.empty()) add("resolve", a->resolveConflict(cs[0].id, ResolveMode::KeepRemote).changes);
    sync(*a, *b);
    add("state-b", b->encodeState());
    // split into small batches: several coverage ranges, partial ranges
    auto split = a->changesSince({}, {}, 64);
    for (size_t i = 0; i < split.size() && i < 6; ++i) add("batch-64-" + std::to_string(i), split[i]);
    // delete and re-create (higher epoch)
    clock.tick();
    a->remove("cards", "c1");
    clock.tick();
    add("recreate", a->put("cards", {{"id", "c1"}, {"again", true}}).changes);
    add("state-a-final", a->encodeState());
    return out;
}

// ------------------------------------------------------------------------------------------------ message
void messageCorpus(const Bytes& someChanges) {
    SyncVector have;
    have["cards"][site(1)] = 12;
    have["cards"][site(2)] = 3;
    have["stats"][site(1)] = 1;
    emit("message", "hello", encodeMessage(Message::hello(site(1), 3, have, {"cards", "stats"}, "secret-token")));
    emit("message", "hello-empty", encodeMessage(Message::hello(site(7), 0, {}, {}, "")));
    emit("message", "changes", encodeMessage(Message::changeBatch(42, someChanges)));
    emit("message", "ack", encodeMessage(Message::ack(42)));
    emit("message", "ack-big", encodeMessage(Message::ack(UINT64_MAX)));
    emit("message", "end", encodeMessage(Message::end(have)));
    emit("message", "presence",
         encodeMessage(Message::presenceUpdate(site(2), Value{{"cursor", Value::array({1, 2})}, {"name", "bo"}})));
    emit("message", "presence-values", encodeMessage(Message::presenceUpdate(site(3), sampleValues())));
    emit("message", "error", encodeMessage(Message::error("schema_outdated", "upgrade the app", true, 7)));
    emit("message", "error-nonfatal", encodeMessage(Message::error("busy", "later", false)));
}

// ------------------------------------------------------------------------------------------------ store_open
Bytes readIf(const fs::path& p) { return fs::exists(p) ? readFile(p.string()) : Bytes(); }

void emitStoreDir(const std::string& name, const fs::path& dir) {
    std::vector<uint32_t> segs;
    for (auto& e : fs::directory_iterator(dir))
        if (uint32_t n = Journal::parseSegmentName(e.path().filename().string())) segs.push_back(n);
    std::sort(segs.begin(), segs.end());
    fuzz::StoreOpenInput in;
    in.state = readIf(dir / "syncore.state");
    if (!segs.empty()) {
        in.firstSegment = segs[0];
        in.journal1 = readIf(dir / Journal::segmentName(segs[0]));
        if (segs.size() > 1) in.journal2 = readIf(dir / Journal::segmentName(segs[1]));
    }
    if (in.state.size() > 0xffff || in.journal1.size() > 0xffff || in.firstSegment > 127) {
        std::fprintf(stderr, "store_open seed %s does not fit the input layout, skipped\n", name.c_str());
        return;
    }
    emit("store_open", name, fuzz::joinStoreOpenInput(in));
    in.fixCrcs = true; // same files; mutations of this copy get their CRCs repaired by the harness
    emit("store_open", name + "-fixcrc", fuzz::joinStoreOpenInput(in));
}

void storeOpenCorpus(const fs::path& tmp) {
    int n = 0;
    auto fresh = [&] {
        fs::path d = tmp / ("store-" + std::to_string(++n));
        fs::remove_all(d);
        return d;
    };
    Clock clock;
    {
        fs::path d = fresh();
        replica(1, clock, d.string()); // created: state file only
        emitStoreDir("new-store", d);
    }
    {
        fs::path d = fresh();
        {
            auto s = replica(1, clock, d.string());
            s->put("cards", {{"id", "c1"}, {"title", "Write spec"}});
            clock.tick();
            s->update("cards", "c1", {{"done", true}});
            s->put("stats", {{"id", "s"}, {"n", 1}});
            s->increment("stats", "s", "n", 2);
            s->remove("cards", "c1");
            s->setSchemaVersion(2);
            s->configureCollection("notes", ConflictPolicy::Custom);
        }
        emitStoreDir("journal-ops", d);
        {
            auto s = replica(1, clock, d.string());
            s->compact();
            s->put("cards", {{"id", "c9"}, {"after", "compaction"}});
        }
        emitStoreDir("compacted-plus-journal", d);
    }
    {
        // conflicts and snapshots end up in the metadata (state file) and in journal records
        fs::path d = fresh();
        {
            auto a = replica(1, clock, d.string());
            auto b = replica(2, clock);
            a->configureCollection("cards", ConflictPolicy::Manual);
            b->configureCollection("cards", ConflictPolicy::Manual);
            a->put("cards", {{"id", "c1"}, {"t", "x"}, {"u", 1}});
            sync(*a, *b);
            clock.tick();
            a->update("cards", "c1", {{"t", "a"}, {"u", 2}});
            b->update("cards", "c1", {{"t", "b"}, {"u", 3}});
            sync(*a, *b);
            a->createSnapshot("before", "tester");
            auto cs = a->conflicts();
            if (cs.size() > 1) a->dismissConflict(cs[1].id);
            a->compact();
            emitStoreDir("conflicts-in-state", d);
            if (!cs.empty()) a->resolveConflict(cs[0].id, ResolveMode::KeepLocal);
            a->createSnapshot("after", "tester");
            b->put("cards", {{"id", "c2"}, {"from", "b"}});
            sync(*a, *b);
        }
        emitStoreDir("conflicts-snapshot-journal", d);
    }
    {
        // small segments: several journal segments
        fs::path d = fresh();
        {
            auto s = replica(3, clock, d.string(), 4096);
            for (int i = 0; i < 60; ++i) {
                clock.tick();
                s->put("bulk", {{"id", "d" + std::to_string(i % 20)}, {"text", std::string(40 + i, 'a' + i % 26)}});
            }
        }
        emitStoreDir("two-segments", d);
    }
    {
        // a torn journal tail
        fs::path d = fresh();
        {
            auto s = replica(4, clock, d.string());
            s->put("t", {{"id", "x"}, {"v", 1}});
            s->put("t", {{"id", "y"}, {"v", 2}});
        }
        fs::path seg = d / Journal::segmentName(2);
        if (fs::exists(seg)) fs::resize_file(seg, fs::file_size(seg) - 3);
        emitStoreDir("torn-tail", d);
    }
}

// Deflate streams (ours, at two efforts) of small texts and of a change set, plus the plain inputs.
void deflateCorpus(const Bytes& changeset) {
    std::string text;
    for (int i = 0; i < 40; ++i) text += "Fix flaky login test " + std::to_string(i % 7) + "\n";
    std::vector<std::pair<std::string, Bytes>> inputs = {
        {"text", Bytes(text.begin(), text.end())}, {"run", Bytes(300, 'a')}, {"changeset", changeset}};
    for (auto& [name, in] : inputs) {
        emit("deflate", "plain-" + name, in);
        emit("deflate", "fast-" + name, deflateRaw(in, 1));
        emit("deflate", "best-" + name, deflateRaw(in, 9));
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    fs::path tmp = fs::temp_directory_path() / "syncore-make-corpus";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    valueCorpus();
    auto cs = changesetCorpus();
    messageCorpus(cs.size() > 2 ? cs[2].second : encodeChangeSet(ChangeSet()));
    storeOpenCorpus(tmp);
    deflateCorpus(cs.size() > 2 ? cs[2].second : encodeChangeSet(ChangeSet()));
    fs::remove_all(tmp);
    // every seed must pass its own target (no seed may be a crasher)
    for (auto& e : fs::recursive_directory_iterator(g_out)) {
        if (!e.is_regular_file()) continue;
        Bytes b = readFile(e.path().string());
        std::string t = e.path().parent_path().filename().string();
        if (t == "changeset") fuzz::runChangeset(b.data(), b.size());
        else if (t == "message") fuzz::runMessage(b.data(), b.size());
        else if (t == "value") fuzz::runValue(b.data(), b.size());
        else if (t == "deflate") fuzz::runDeflate(b.data(), b.size());
        else if (t == "store_open") fuzz::runStoreOpen(b.data(), b.size(), (tmp / "check").string());
    }
    for (auto& [t, n] : g_bytes) std::printf("%-12s %zu bytes\n", t.c_str(), n);
    return 0;
}
