// Our raw DEFLATE (wasm/src/deflate.cpp) and compressed change sets. Natively the system zlib is the
// oracle: it must inflate what we deflate, and we must inflate what it deflates.
#include <random>

#include "support.hpp"
#include "syncore/deflate.hpp"

#if defined(SYNCORE_TEST_ZLIB)
#include <zlib.h>
#endif

using namespace syncore;

namespace {

#if defined(SYNCORE_TEST_ZLIB)
Bytes zlibDeflate(const Bytes &in, int level) {
    z_stream s{};
    REQUIRE(deflateInit2(&s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&s, in.size()));
    s.next_in = const_cast<Bytef *>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

bool zlibInflate(const Bytes &in, Bytes &out, size_t expect) {
    z_stream s{};
    REQUIRE(inflateInit2(&s, -15) == Z_OK);
    out.assign(expect + 64, 0);
    s.next_in = const_cast<Bytef *>(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    int r = inflate(&s, Z_FINISH);
    out.resize(s.total_out);
    bool ok = r == Z_STREAM_END && s.avail_in == 0;
    inflateEnd(&s);
    return ok;
}
#endif

// Inputs of the kinds the store compresses, and some it never will.
std::vector<std::pair<std::string, Bytes>> samples(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::pair<std::string, Bytes>> out;
    out.push_back({"empty", {}});
    out.push_back({"one byte", {42}});
    out.push_back({"long run", Bytes(200000, 7)});
    for (int t = 0; t < 40; ++t) { // random bytes over small and full alphabets: stored and Huffman blocks
        Bytes b(rng() % 5000);
        unsigned alphabet = 1 + static_cast<unsigned>(rng() % 256);
        for (auto &x : b)
            x = static_cast<uint8_t>(rng() % alphabet);
        out.push_back({"random " + std::to_string(t), std::move(b)});
    }
    for (int t = 0; t < 6; ++t) { // repeats at every distance up to the window: matches and long blocks
        Bytes b(50000 + rng() % 150000);
        for (size_t i = 0; i < b.size(); ++i)
            b[i] = i > 8 && rng() % 4 ? b[i - 1 - rng() % std::min<size_t>(i - 1, 40000)]
                                      : static_cast<uint8_t>(rng() % 20);
        out.push_back({"repeats " + std::to_string(t), std::move(b)});
    }
    { // text, noise, text: stored blocks between Huffman blocks (a refill's look-ahead must not leak across)
        Bytes b;
        for (int i = 0; i < 2000; ++i) {
            std::string line = "row " + std::to_string(i % 13) + " of text\n";
            b.insert(b.end(), line.begin(), line.end());
        }
        for (int i = 0; i < 70000; ++i)
            b.push_back(static_cast<uint8_t>(rng()));
        Bytes text(b.begin(), b.begin() + 20000);
        b.insert(b.end(), text.begin(), text.end());
        out.push_back({"text, noise, text", std::move(b)});
    }
    // A real state: 2,000 documents with titles, as the store writes them.
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->transaction([&](Txn &tx) {
        for (int i = 0; i < 2000; ++i)
            tx.put("t", {{"id", "doc" + std::to_string(i)},
                         {"title", "Fix flaky login test " + std::to_string(i % 97)},
                         {"n", i}});
    });
    Bytes plain = encodeChangeSet(decodeChangeSet(a->encodeState()));
    out.push_back({"state", plain});
    return out;
}

} // namespace

TEST_CASE("deflate: our output inflates back, at every effort, and zlib agrees both ways") {
    uint64_t seed = test::seed();
    INFO("seed " << seed);
    for (const auto &sample : samples(seed)) {
        const std::string &name = sample.first; // not a structured binding: clang 14 cannot capture those
        const Bytes &in = sample.second;
        INFO(name << " (" << in.size() << " bytes)");
        for (int effort : {1, 2, 4, 6, 9}) {
            Bytes packed = deflateRaw(in, effort);
            REQUIRE(inflateRaw(packed.data(), packed.size(), in.size()) == in);
#if defined(SYNCORE_TEST_ZLIB)
            Bytes viaZlib;
            REQUIRE(zlibInflate(packed, viaZlib, in.size()));
            REQUIRE(viaZlib == in);
#endif
        }
#if defined(SYNCORE_TEST_ZLIB)
        for (int level : {1, 6, 9}) {
            Bytes z = zlibDeflate(in, level);
            REQUIRE(inflateRaw(z.data(), z.size(), in.size()) == in);
        }
#endif
    }
}

TEST_CASE("deflate: compresses what the store writes") {
    auto all = samples(1);
    const Bytes &state = all.back().second;
    Bytes packed = deflateRaw(state, 2);
    MESSAGE("state of 2,000 documents: " << state.size() << " -> " << packed.size() << " bytes");
    CHECK(packed.size() * 2 < state.size());
    Bytes run(200000, 7);
    CHECK(deflateRaw(run).size() < 1000);
    Bytes noise(100000);
    std::mt19937_64 rng(2);
    for (auto &x : noise)
        x = static_cast<uint8_t>(rng());
    CHECK(deflateRaw(noise).size() < noise.size() + 100); // stored blocks: 5 bytes per 64 KiB
}

TEST_CASE("deflate: malformed streams are refused with a message, never overrun") {
    auto refuses = [](const Bytes &b, size_t limit, const std::string &what) {
        INFO(what);
        try {
            inflateRaw(b.data(), b.size(), limit);
            FAIL("accepted");
        } catch (const Error &e) {
            CHECK(e.code() == ErrorCode::Decode);
            CHECK(std::string(e.what()).find("deflate") != std::string::npos);
        }
    };
    refuses({}, 100, "empty input");
    refuses({0x07}, 100, "block type 3");
    refuses({0x01, 0x05, 0x00, 0xFA, 0xFF, 'a'}, 100, "stored block longer than the input");
    refuses({0x01, 0x05, 0x00, 0x00, 0x00}, 100, "stored length check");
    Bytes ok = deflateRaw(Bytes(1000, 'x'));
    refuses(ok, 999, "output over the limit");
    Bytes trailing = ok;
    trailing.push_back(0);
    refuses(trailing, 1000, "bytes after the final block");
    Bytes cut(ok.begin(), ok.end() - 1);
    refuses(cut, 1000, "truncated");
    // Every truncation and every single-bit flip of a real stream: refused or decoded, within the limit.
    Bytes text;
    for (int i = 0; i < 300; ++i) {
        std::string line = "line " + std::to_string(i * 7919 % 1000) + " of the sample text\n";
        text.insert(text.end(), line.begin(), line.end());
    }
    Bytes packed = deflateRaw(text);
    for (size_t n = 0; n < packed.size(); ++n) {
        try {
            Bytes out = inflateRaw(packed.data(), n, text.size());
            CHECK(out.size() <= text.size());
        } catch (const Error &) {
        }
    }
    for (size_t bit = 0; bit < packed.size() * 8; bit += 3) {
        Bytes bad = packed;
        bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        try {
            Bytes out = inflateRaw(bad.data(), bad.size(), text.size());
            CHECK(out.size() <= text.size());
        } catch (const Error &) {
        }
    }
}

TEST_CASE("change sets: large ones are deflated, small ones stay plain, both decode the same") {
    test::ManualClock clock;
    auto a = test::replica(1, clock);
    a->transaction([&](Txn &tx) {
        for (int i = 0; i < 3000; ++i)
            tx.put("t", {{"id", "doc" + std::to_string(i)}, {"title", "Review invoice " + std::to_string(i)}});
    });
    Bytes state = a->encodeState();
    REQUIRE(state.size() > 2);
    CHECK(state[1] == kChangeSetDeflated);
    ChangeSet cs = decodeChangeSet(state);
    Bytes plain = encodeChangeSet(cs);
    CHECK(plain[1] == 0);
    CHECK(state.size() * 2 < plain.size());
    MESSAGE("3,000 documents: plain " << plain.size() << " bytes, deflated " << state.size());
    CHECK(encodeChangeSet(decodeChangeSet(plain), true) == state);
    // A small change set is never compressed, even when asked.
    CommitResult small = a->put("t", {{"id", "x"}, {"title", "y"}});
    CHECK(small.changes[1] == 0);
    CHECK(encodeChangeSet(decodeChangeSet(small.changes), true) == small.changes);
    // A fresh replica loads the compressed state to the same content.
    auto b = test::replica(2, clock);
    b->apply(state);
    b->apply(small.changes);
    CHECK(b->stateHash() == a->stateHash());

    auto refuses = [](Bytes b, const std::string &what) {
        INFO(what);
        CHECK_THROWS_AS(decodeChangeSet(b), Error);
    };
    Bytes unknown = state;
    unknown[1] = 0x02;
    refuses(unknown, "unknown flag");
    Bytes bomb = {kChangeSetVersion, kChangeSetDeflated, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x03, 0x00};
    refuses(bomb, "claims far more than DEFLATE can expand to");
    Bytes shortClaim = state;
    // Re-encode the declared size one smaller: inflating must stop at the limit.
    Reader r(state.data() + 2, state.size() - 2);
    uint64_t raw = r.varint("size");
    Writer w;
    w.u8(kChangeSetVersion);
    w.u8(kChangeSetDeflated);
    w.varint(raw - 1);
    w.raw(r.pos(), r.remaining());
    refuses(w.bytes(), "declared size smaller than the data");
}
