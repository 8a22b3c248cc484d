// core_bench: the core workload of the issue, measured the same way natively and in wasm (under node).
//
//   100,000 documents {id, title, done, priority, tags} in collection "tasks", ids doc000001..doc100000.
//   1. insert all in ONE transaction          2. 100,000 single-field updates, one store.update each
//   3. encodeState() size after 1+2           4. load of that state into a fresh replica, until a find works
//   5. two replicas loaded from that state make 50,000 concurrent updates each, then exchange deltas
//   6. peak memory (native: getrusage ru_maxrss; wasm: linear memory size, which only grows)
// Each update sets `done` or `priority` (seeded coin) of a seeded random doc to a value different from the
// current one (the store skips equal writes); timings include building the Values the API takes.
//
// Everything is driven by one seed (--seed, printed) through our own splitmix64, not <random>
// distributions: libstdc++ and libc++ (emscripten) implement those differently, and the native and wasm
// runs must do exactly the same work (the printed state hash must be equal in both).
//
// Clock: by default every store gets a simulated wall clock that advances a seeded 0..999 ms per local
// transaction (edits paced like a person, so clock deltas do not collapse into run-length runs as they
// would with a benchmark loop reading the real clock at 1000 transactions per ms). --clock=system uses
// the real clock instead (output then varies by a few bytes between runs).
//
// Usage: core_bench [--docs=N] [--seed=S] [--clock=sim|system] [--runs=R] [--dump-state=FILE]
//   Updates scale with --docs (N updates in 2, N/2 per replica in 5); targets scale linearly with N.
//   --runs=R repeats 1-5 with the same workload and prints the best (and worst) time of each figure, for
//   shared machines; peak memory is the first run's (ru_maxrss and wasm memory never go down).
//   --insert-only runs figure 1 alone (bench/insert_pairs.mjs alternates it with Yjs's insert).
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <malloc.h>
#if !defined(__EMSCRIPTEN__)
#include <sys/resource.h>
#endif

#include "syncore/deflate.hpp"
#include "syncore/store.hpp"

using namespace syncore;

namespace {

using SteadyClock = std::chrono::steady_clock;

double msSince(SteadyClock::time_point t0) {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// splitmix64: tiny, good enough, identical on every platform.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
};

// ------------------------------------------------------------------------------------------- workload

// Titles: ~96% unique at 100,000 docs, so the state's string table cannot dedupe its way to a small size.
const char *const kVerbs[] = {"Fix",   "Review", "Update", "Write", "Test", "Ship", "Plan",  "Draft",
                              "Check", "Clean",  "Move",   "Add",   "Drop", "Tune", "Audit", "Merge",
                              "Port",  "Debug",  "Mock",   "Sort",  "Log",  "Sync", "File",  "Book"};
const char *const kAdjectives[] = {"flaky",  "slow",   "broken", "new",    "old",   "shared", "mobile", "legacy",
                                   "weekly", "public", "draft",  "stale",  "empty", "admin",  "guest",  "dark",
                                   "main",   "team",   "local",  "remote", "paid",  "free",   "beta",   "daily",
                                   "global", "last",   "next",   "small",  "large", "raw",    "async",  "retry"};
const char *const kNouns[] = {"login",  "checkout", "search",  "billing", "profile", "sync",    "export", "import",
                              "upload", "invoice",  "payment", "signup",  "sidebar", "header",  "footer", "cache",
                              "queue",  "report",   "email",   "avatar",  "order",   "cart",    "refund", "coupon",
                              "tax",    "audit",    "backup",  "theme",   "font",    "icon",    "menu",   "modal",
                              "table",  "chart",    "filter",  "widget",  "token",   "session", "cookie", "webhook"};
const char *const kKinds[] = {"test",  "page",  "form",  "flow",   "bug",    "docs",   "copy",   "query",
                              "index", "job",   "view",  "list",   "error",  "style",  "API",    "link",
                              "label", "field", "badge", "button", "banner", "layout", "script", "check"};
const char *const kNumbered[] = {"invoice", "ticket", "order", "PR",     "issue",  "contract",
                                 "report",  "batch",  "quote", "refund", "survey", "release"};
const char *const kTags[] = {"bug",  "feature", "urgent",  "backend", "frontend", "design",
                             "docs", "ops",     "billing", "mobile",  "research", "chore"};
constexpr uint32_t kTagCount = sizeof(kTags) / sizeof(kTags[0]);

template <typename T, size_t N> constexpr uint32_t countOf(const T (&)[N]) { return static_cast<uint32_t>(N); }

// "Fix flaky login test" or "Review invoice 4821".
std::string makeTitle(Rng &r) {
    std::string t = kVerbs[r.below(countOf(kVerbs))];
    t += ' ';
    if (r.below(5) < 3) {
        t += kAdjectives[r.below(countOf(kAdjectives))];
        t += ' ';
        t += kNouns[r.below(countOf(kNouns))];
        t += ' ';
        t += kKinds[r.below(countOf(kKinds))];
    } else {
        t += kNumbered[r.below(countOf(kNumbered))];
        t += ' ';
        t += std::to_string(1000 + r.below(9000));
    }
    return t;
}

std::string docId(uint32_t i) { // 1-based: doc000001 .. doc100000
    char buf[16];
    std::snprintf(buf, sizeof buf, "doc%06u", i + 1);
    return buf;
}

// The bench's own copy of a document's small fields (4 bytes, so the copies the replicas need cost ~nothing
// next to the stores being measured); ids and titles are generated once, before any timing.
struct Fields {
    bool done;
    uint8_t priority;
    uint8_t tag1, tag2;
};

Value toValue(const std::string &id, const std::string &title, const Fields &s) {
    Value v = Value::object();
    v["id"] = id;
    v["title"] = title;
    v["done"] = s.done;
    v["priority"] = s.priority;
    v["tags"] = Value::array({kTags[s.tag1], kTags[s.tag2]});
    return v;
}

// One single-field update that really changes the value (an equal value is skipped by the store).
Value nextUpdate(Rng &r, Fields &s) {
    if (r.below(2) == 0) {
        s.done = !s.done;
        return Value{{"done", s.done}};
    }
    s.priority = static_cast<uint8_t>((s.priority + 1 + r.below(4)) % 5);
    return Value{{"priority", s.priority}};
}

// Simulated wall clock (see the header comment); each store gets its own.
struct SimClock {
    uint64_t ms;
    Rng rng;
};
Clock::Source clockSource(const std::shared_ptr<SimClock> &st) {
    return [st] {
        st->ms += st->rng.below(1000);
        return st->ms;
    };
}

// ------------------------------------------------------------------------------------------- memory

double peakMb() {
#if defined(__EMSCRIPTEN__)
    return static_cast<double>(__builtin_wasm_memory_size(0)) * 65536.0 / 1e6;
#else
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) * 1024.0 / 1e6; // Linux: KiB
#endif
}

double liveHeapMb() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    return static_cast<double>(mallinfo2().uordblks) / 1e6;
#else
    return static_cast<double>(static_cast<unsigned>(mallinfo().uordblks)) / 1e6;
#endif
}

const char *peakName() {
#if defined(__EMSCRIPTEN__)
    return "wasm memory";
#else
    return "ru_maxrss";
#endif
}

// ------------------------------------------------------------------------------------------- one run

struct Config {
    uint32_t nDocs = 100000;
    uint64_t seed = 20240611;
    bool sim = true;
    int runs = 1;
    std::string dumpState;   // write figure 3's encoded state here (for format work)
    bool insertOnly = false; // figure 1 alone (bench/insert_pairs.mjs alternates it with Yjs)
};

struct Workload {
    std::vector<std::string> ids, titles;
    std::vector<Fields> fields;
};

const std::string kColl = "tasks";
constexpr uint64_t kT0Ms = 1735689600000ull; // 2025-01-01T00:00:00Z, where the simulated clocks start

struct Result {
    double insertJsonMs = 0;
    bool insertJsonSame = false;
    uint64_t insertHash = 0;
    double buildMs = 0, insertMs = 0, updateMs = 0, encodeMs = 0, loadMs = 0, findMs = 0, loadTwoMs = 0, deltaMs = 0,
           mergeMs = 0, inflateMs = 0, decodeMs = 0;
    size_t insertChangeBytes = 0, updateBytes = 0, stateBytes = 0, bytesXY = 0, bytesYX = 0, batchesXY = 0,
           batchesYX = 0, found = 0, expectFound = 0;
    uint64_t hash = 0;
    bool loadOk = false, hashOk = false, contentOk = false;
    double peakInsert = 0, peakUpdates = 0, peakLoad = 0, peakMerge = 0, liveWriter = 0, liveLoaded = 0;
    bool ok() const { return loadOk && hashOk && contentOk; }
};

SiteId site(const char *hex) { return SiteId::fromHex(hex); }

Result runOnce(const Config &cfg, const Workload &w) {
    const uint32_t n = cfg.nDocs;
    const std::vector<std::string> &ids = w.ids;
    const std::vector<std::string> &titles = w.titles;
    std::vector<Fields> docs = w.fields; // updates change it
    std::vector<std::shared_ptr<SimClock>> clocks;
    auto clockFor = [&](uint64_t startMs, uint64_t stream) -> Clock::Source {
        if (!cfg.sim)
            return Clock::Source();
        clocks.push_back(
            std::make_shared<SimClock>(SimClock{startMs, Rng(cfg.seed ^ (stream * 0xD1B54A32D192ED03ull))}));
        return clockSource(clocks.back());
    };
    Result res;

    // What building the Values alone costs (part of figure 1: the API takes a Value).
    {
        auto t = SteadyClock::now();
        size_t sink = 0;
        for (uint32_t i = 0; i < n; ++i)
            sink += toValue(ids[i], titles[i], docs[i]).size();
        res.buildMs = msSince(t);
        if (sink == 0)
            std::printf("?");
    }

    // ---- 1. insert all in one transaction
    StoreOptions optA;
    optA.siteId = site("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
    optA.clock = clockFor(kT0Ms, 1);
    auto a = Store::open(optA);
    {
        auto t = SteadyClock::now();
        CommitResult r = a->transaction([&](Txn &tx) {
            for (uint32_t i = 0; i < n; ++i)
                tx.put(kColl, toValue(ids[i], titles[i], docs[i]));
        });
        res.insertMs = msSince(t);
        res.insertChangeBytes = r.changes.size();
    }
    if (a->count(kColl) != n) {
        std::printf("FAIL: count after insert %zu != %u\n", a->count(kColl), n);
        std::exit(1);
    }
    res.peakInsert = peakMb();
    res.insertHash = a->stateHash();
    if (cfg.insertOnly)
        return res;

    // ---- 2. single-field updates, one store.update each
    {
        Rng r(cfg.seed ^ 0x2222);
        auto t = SteadyClock::now();
        for (uint32_t k = 0; k < n; ++k) {
            uint32_t i = r.below(n);
            Value f = nextUpdate(r, docs[i]);
            res.updateBytes += a->update(kColl, ids[i], f).changes.size();
        }
        res.updateMs = msSince(t);
    }

    // ---- 3. encoded state
    Bytes state;
    {
        auto t = SteadyClock::now();
        state = a->encodeState();
        res.encodeMs = msSince(t);
    }
    res.stateBytes = state.size();
    if (!cfg.dumpState.empty()) {
        if (FILE *f = std::fopen(cfg.dumpState.c_str(), "wb")) {
            std::fwrite(state.data(), 1, state.size(), f);
            std::fclose(f);
        }
    }
    res.hash = a->stateHash();
    res.peakUpdates = peakMb();
    res.liveWriter = liveHeapMb();
    const uint64_t writerLastMs = cfg.sim ? clocks[0]->ms : systemNowMs();
    a.reset(); // the writer is not needed any more

    // ---- 4. load into a fresh in-memory replica, then one find (its answer is checked against the shadow)
    for (const auto &s : docs)
        res.expectFound += (s.priority == 4 && !s.done);
    Query q;
    q.where.push_back({"priority", CompareOp::Eq, Value(4)});
    q.where.push_back({"done", CompareOp::Eq, Value(false)});
    {
        StoreOptions o;
        o.siteId = site("b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2");
        auto t = SteadyClock::now();
        auto s = Store::open(o);
        s->apply(state);
        res.loadMs = msSince(t);
        t = SteadyClock::now();
        res.found = s->find(kColl, q).size();
        res.findMs = msSince(t);
        res.loadOk = res.found == res.expectFound && s->stateHash() == res.hash;
        res.liveLoaded = liveHeapMb();
    }
    { // Where figure 4 goes: inflating the state, and decoding it (inflate included) without applying.
        auto t = SteadyClock::now();
        if (state.size() > 2 && state[1] == kChangeSetDeflated) {
            Reader r(state.data() + 2, state.size() - 2);
            uint64_t raw = r.varint("size");
            res.inflateMs = inflateRaw(r.pos(), r.remaining(), raw).size() == raw ? msSince(t) : -1;
        }
        t = SteadyClock::now();
        res.decodeMs = decodeChangeSet(state).rowCount() > 0 ? msSince(t) : -1;
    }
    res.peakLoad = peakMb();

    // ---- 5. two replicas, concurrent updates, delta exchange
    {
        StoreOptions ox, oy;
        ox.siteId = site("c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3");
        oy.siteId = site("d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4");
        ox.clock = clockFor(writerLastMs + 1000, 3); // both start 1 s after the writer's last write
        oy.clock = clockFor(writerLastMs + 1000, 4);
        auto t = SteadyClock::now();
        auto x = Store::open(ox);
        x->apply(state);
        auto y = Store::open(oy);
        y->apply(state);
        res.loadTwoMs = msSince(t);
        std::vector<Fields> sx = docs, sy = docs;
        Rng rx(cfg.seed ^ 0x3333), ry(cfg.seed ^ 0x4444);
        for (uint32_t k = 0; k < n / 2; ++k) {
            uint32_t i = rx.below(n);
            x->update(kColl, ids[i], nextUpdate(rx, sx[i]));
            uint32_t j = ry.below(n);
            y->update(kColl, ids[j], nextUpdate(ry, sy[j]));
        }
        t = SteadyClock::now();
        std::vector<Bytes> xy = x->changesSince(y->syncVector());
        std::vector<Bytes> yx = y->changesSince(x->syncVector());
        res.deltaMs = msSince(t);
        for (const auto &b : xy)
            res.bytesXY += b.size();
        for (const auto &b : yx)
            res.bytesYX += b.size();
        res.batchesXY = xy.size();
        res.batchesYX = yx.size();
        t = SteadyClock::now();
        for (const auto &b : xy)
            y->apply(b);
        for (const auto &b : yx)
            x->apply(b);
        res.mergeMs = msSince(t);
        res.peakMerge = peakMb(); // before the checks below, which materialize every document twice
        res.hashOk = x->stateHash() == y->stateHash();
        Query all;
        res.contentOk = x->find(kColl, all) == y->find(kColl, all) && x->changesSince(y->syncVector()).empty() &&
                        y->changesSince(x->syncVector()).empty(); // a second round has nothing to send
    }

    // ---- 1b (after every memory figure): the same insert from JSON text, as the JS bindings do it
    // (Txn::putJson: documents read straight into cells). The texts are made before timing, as JS
    // makes them with JSON.stringify; the state must be the one figure 1 built.
    {
        std::vector<std::string> texts(n);
        for (uint32_t i = 0; i < n; ++i)
            texts[i] = toValue(ids[i], titles[i], w.fields[i]).dump();
        StoreOptions optJ = optA;
        optJ.clock = clockFor(kT0Ms, 1); // the same clock stream as figure 1: the same stamps
        auto j = Store::open(optJ);
        auto t = SteadyClock::now();
        j->transaction([&](Txn &tx) {
            for (const auto &text : texts)
                tx.putJson(kColl, text.data(), text.size());
        });
        res.insertJsonMs = msSince(t);
        res.insertJsonSame = j->stateHash() == res.insertHash;
    }
    return res;
}

// ------------------------------------------------------------------------------------------- output

bool parseArg(const char *arg, const char *name, std::string &out) {
    size_t len = std::strlen(name);
    if (std::strncmp(arg, name, len) != 0 || arg[len] != '=')
        return false;
    out = arg + len + 1;
    return true;
}

[[noreturn]] void usage(int code) {
    std::fprintf(code ? stderr : stdout,
                 "usage: core_bench [--docs=N] [--seed=S] [--clock=sim|system] [--runs=R] [--dump-state=FILE] "
                 "[--insert-only]\n");
    std::exit(code);
}

} // namespace

int main(int argc, char **argv) {
    Config cfg;
    for (int i = 1; i < argc; ++i) {
        std::string v;
        if (parseArg(argv[i], "--docs", v)) {
            long n = std::strtol(v.c_str(), nullptr, 10);
            if (n < 2 || n > 10000000)
                usage(2);
            cfg.nDocs = static_cast<uint32_t>(n);
        } else if (parseArg(argv[i], "--seed", v)) {
            cfg.seed = std::strtoull(v.c_str(), nullptr, 0);
        } else if (parseArg(argv[i], "--clock", v)) {
            if (v != "sim" && v != "system")
                usage(2);
            cfg.sim = v == "sim";
        } else if (parseArg(argv[i], "--runs", v)) {
            cfg.runs = std::atoi(v.c_str());
            if (cfg.runs < 1 || cfg.runs > 100)
                usage(2);
        } else if (parseArg(argv[i], "--dump-state", v)) {
            cfg.dumpState = v;
        } else if (!std::strcmp(argv[i], "--insert-only")) {
            cfg.insertOnly = true;
        } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            usage(0);
        } else {
            std::fprintf(stderr, "core_bench: unknown argument '%s'\n", argv[i]);
            usage(2);
        }
    }
    const uint32_t n = cfg.nDocs;
    const double scale = n / 100000.0;
#if defined(__EMSCRIPTEN__)
    const char *build = "wasm32 (emscripten, node)";
#else
    const char *build = "native";
#endif
    std::printf("syncore core_bench — %s\n", build);
    std::printf("docs=%u updates=%u concurrent=%u/replica seed=%" PRIu64 " clock=%s runs=%d collection='%s' "
                "ids=doc000001..\n",
                n, n, n / 2, cfg.seed, cfg.sim ? "sim(+0..999ms/txn)" : "system", cfg.runs, kColl.c_str());

    // ---- workload, generated before any timing
    Workload w;
    {
        Rng gen(cfg.seed);
        w.ids.resize(n);
        w.titles.resize(n);
        w.fields.resize(n);
        size_t titleChars = 0;
        std::unordered_set<std::string> distinct;
        for (uint32_t i = 0; i < n; ++i) {
            Fields &s = w.fields[i];
            w.titles[i] = makeTitle(gen);
            titleChars += w.titles[i].size();
            distinct.insert(w.titles[i]);
            s.done = gen.below(4) == 0;
            s.priority = static_cast<uint8_t>(gen.below(5));
            s.tag1 = static_cast<uint8_t>(gen.below(kTagCount));
            s.tag2 = static_cast<uint8_t>((s.tag1 + 1 + gen.below(kTagCount - 1)) % kTagCount);
            w.ids[i] = docId(i);
        }
        std::printf("sample: %s\ntitles: avg %.1f chars, %.1f%% distinct (e.g. \"%s\", \"%s\")\n",
                    toValue(w.ids[0], w.titles[0], w.fields[0]).dump().c_str(), static_cast<double>(titleChars) / n,
                    100.0 * distinct.size() / n, w.titles[1].c_str(), w.titles[n - 1].c_str());
    }

    std::vector<Result> runs;
    for (int r = 0; r < cfg.runs; ++r)
        runs.push_back(runOnce(cfg, w));
    const Result &first = runs.front();
    auto best = [&](double Result::*f) {
        double v = runs[0].*f;
        for (const auto &r : runs)
            v = std::min(v, r.*f);
        return v;
    };
    auto worst = [&](double Result::*f) {
        double v = runs[0].*f;
        for (const auto &r : runs)
            v = std::max(v, r.*f);
        return v;
    };
    bool allOk = true, sameBytes = true; // with the real clock, stamps (so bytes and hash) differ per run
    for (const auto &r : runs) {
        allOk = allOk && r.ok();
        sameBytes = sameBytes && r.stateBytes == first.stateBytes && r.bytesXY == first.bytesXY &&
                    r.bytesYX == first.bytesYX && r.hash == first.hash;
    }

    struct Figure {
        const char *what;
        double ours, worst;
        const char *unit;
        double target; // scaled to --docs
        const char *peer;
    };
    const std::string peakLabel = std::string("6 peak memory (") + peakName() + ")";
    const Figure figures[] = {
        {"1 insert (1 txn)", best(&Result::insertMs), worst(&Result::insertMs), "ms", 100 * scale, "Yjs 181 ms"},
        {"2 single-field updates", best(&Result::updateMs), worst(&Result::updateMs), "ms", 150 * scale, "Yjs 0.63 s"},
        {"3 encoded state", first.stateBytes / 1e6, -1, "MB", 2.9 * scale, "Automerge 2.94 MB, Yjs 8.6-11.2 MB"},
        {"4 load state -> replica", best(&Result::loadMs), worst(&Result::loadMs), "ms", 50 * scale, "Yjs 0.5-1.2 s"},
        {"5 merge (both applies)", best(&Result::mergeMs), worst(&Result::mergeMs), "ms", 100 * scale, "Yjs 0.3 s"},
        {"5 delta X->Y", first.bytesXY / 1e6, -1, "MB", 0.7 * scale, "Yjs 0.77 MB"},
        {"5 delta Y->X", first.bytesYX / 1e6, -1, "MB", 0.7 * scale, "Yjs 0.77 MB"},
        {peakLabel.c_str(), first.peakMerge, -1, "MB", 150 * scale, "Yjs 400 MB"},
    };
    std::printf("\n%-30s %12s %12s %7s  %s\n", "figure", cfg.runs > 1 ? "ours (best)" : "ours", "target", "ratio",
                cfg.runs > 1 ? "peer   [worst run]" : "peer");
    const size_t shown = cfg.insertOnly ? 1 : sizeof figures / sizeof figures[0]; // --insert-only: figure 1
    for (size_t k = 0; k < shown; ++k) {
        const Figure &f = figures[k];
        double ratio = f.ours / f.target;
        std::printf("%-30s %9.2f %-2s %9.2f %-2s %7.2f%s %s", f.what, f.ours, f.unit, f.target, f.unit, ratio,
                    ratio <= 1.0 ? " " : "!", f.peer);
        if (cfg.runs > 1 && f.worst >= 0)
            std::printf("   [%.1f]", f.worst);
        std::printf("\n");
    }
    std::printf("(ratio = ours/target, '!' = misses target; MB = 10^6 bytes%s)\n",
                scale != 1.0 ? "; targets scaled linearly to --docs" : "");
    if (cfg.insertOnly) {
        std::printf("insert state hash %016" PRIx64 "\n", first.insertHash);
        return 0;
    }
    std::printf("merge check: %s   state hash %016" PRIx64 "%s\n", allOk ? "OK" : "MISMATCH", first.hash,
                cfg.runs > 1 && cfg.sim ? (sameBytes ? "   (bytes and hash equal in every run)" : "   (runs DIFFER)")
                                        : "");
    std::printf("  1: of which building the %u Values %.1f ms; the commit's change set %.2f MB\n", n,
                best(&Result::buildMs), first.insertChangeBytes / 1e6);
    std::printf("  1b: the same insert from JSON text (Txn::putJson, as the JS bindings do) %.1f ms, state %s\n",
                best(&Result::insertJsonMs), first.insertJsonSame ? "identical" : "DIFFERS");
    std::printf("  2: %.2f us/update, avg change set %.1f B\n", best(&Result::updateMs) * 1000 / n,
                static_cast<double>(first.updateBytes) / n);
    std::printf("  3: %zu bytes (%.1f B/doc), encodeState %.1f ms\n", first.stateBytes,
                static_cast<double>(first.stateBytes) / n, best(&Result::encodeMs));
    std::printf("  4: Store::open + apply(state), of which inflate %.1f ms, decode (with inflate) %.1f ms; then "
                "find(priority==4 && !done) %.1f ms: %zu docs, %s\n",
                best(&Result::inflateMs), best(&Result::decodeMs), best(&Result::findMs), first.found,
                first.loadOk ? "= shadow, hash = writer's: OK" : "MISMATCH");
    std::printf("  5: delta bytes X->Y %zu (%zu batch), Y->X %zu (%zu batch); changesSince both %.1f ms; loading the 2 "
                "replicas %.1f ms; state hashes %s, documents %s\n",
                first.bytesXY, first.batchesXY, first.bytesYX, first.batchesYX, best(&Result::deltaMs),
                best(&Result::loadTwoMs), first.hashOk ? "OK" : "MISMATCH",
                first.contentOk ? "equal, 2nd round empty" : "DIFFER");
    std::printf("  6: %s after 1 %.1f, after 2+3 %.1f, after 4 %.1f, after 5 (2 replicas live) %.1f MB; "
                "live malloc heap: writer+state %.1f MB, loaded replica+state %.1f MB\n",
                peakName(), first.peakInsert, first.peakUpdates, first.peakLoad, first.peakMerge, first.liveWriter,
                first.liveLoaded);
    return allOk && (sameBytes || !cfg.sim) ? 0 : 1;
}
