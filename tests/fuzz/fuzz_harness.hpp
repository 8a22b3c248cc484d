#pragma once
// The bodies of the fuzz targets, shared by tests/fuzz/fuzz_*.cpp (libFuzzer) and tests/core/test_crashers.cpp
// (replays tests/fuzz-crashers/<target>/* through the very same code).
//
// Each run*() feeds one input to a decoder and, when it decodes, checks round trips and store invariants.
// A syncore::Error from the decoder / store is the expected way to refuse bad bytes and is swallowed.
// A broken property calls fuzz::checkFailed(): the fuzzers abort there (so libFuzzer records a crash with a
// useful stack); the doctest replay installs a handler that throws fuzz::CheckFailed instead.
// Any other exception, crash or sanitizer report is a bug in the core.
//
// No doctest, no libFuzzer in here: plain C++17 + the core.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "syncore/cell.hpp"
#include "syncore/changeset.hpp"
#include "syncore/deflate.hpp"
#include "syncore/error.hpp"
#include "syncore/journal.hpp"
#include "syncore/json_text.hpp"
#include "syncore/msgpack.hpp"
#include "syncore/number_text.hpp"
#include "syncore/protocol.hpp"
#include "syncore/store.hpp"
#include "syncore/value.hpp"

namespace fuzz {

struct CheckFailed : std::logic_error {
    using std::logic_error::logic_error;
};

[[noreturn]] inline void abortOnFailure(const std::string& what) {
    std::fprintf(stderr, "\n==== fuzz check failed: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}
[[noreturn]] inline void throwOnFailure(const std::string& what) { throw CheckFailed(what); }

using FailureHandler = void (*)(const std::string&);
inline FailureHandler g_onFailure = abortOnFailure;

[[noreturn]] inline void checkFailed(const std::string& what) {
    g_onFailure(what);
    std::abort(); // a handler must not return
}

#define FUZZ_CHECK(cond, what)                                                                          \
    do {                                                                                                \
        if (!(cond)) ::fuzz::checkFailed(std::string(what) + " [" #cond "] at " __FILE__ ":" +          \
                                         std::to_string(__LINE__));                                     \
    } while (0)

// Fixed identity and clock so every run of an input is reproducible.
inline syncore::SiteId fuzzSite() {
    syncore::SiteId s;
    for (int i = 0; i < 16; ++i) s.bytes[i] = static_cast<uint8_t>(0xE0 + i);
    return s;
}
constexpr uint64_t kFuzzNowMs = 1'700'000'000'000ull;

inline syncore::StoreOptions storeOptions(const std::string& dir = "") {
    syncore::StoreOptions o;
    o.directory = dir;
    o.siteId = fuzzSite();
    o.clock = [] { return kFuzzNowMs; };
    return o;
}

/** checkInvariants(), with a broken invariant (Error(Internal)) or any other Error turned into a failure. */
inline void invariants(const syncore::Store& s, const char* when) {
    try {
        s.checkInvariants();
    } catch (const syncore::Error& e) {
        checkFailed(std::string("checkInvariants ") + when + ": " + e.what());
    }
}

inline syncore::SiteId otherSite() {
    syncore::SiteId s;
    for (int i = 0; i < 16; ++i) s.bytes[i] = static_cast<uint8_t>(0xD0 + i);
    return s;
}

/** Exact, order-free text of a value: MessagePack bytes (dump() would throw on strings that are not UTF-8,
 *  which the value codec carries as bytes). */
inline std::string valueKey(const syncore::Value& v) {
    std::vector<uint8_t> b = syncore::Value::to_msgpack(v);
    return std::string(b.begin(), b.end());
}

/** A stamp with its site index resolved against the change set's site table (order-independent). */
inline std::string stampKey(const syncore::ChangeSet& cs, const syncore::Stamp& st) {
    std::string k = std::to_string(st.epoch) + "/" + std::to_string(st.hlc) + "/";
    if (st.hlc != 0 && st.site < cs.sites.size()) k += cs.sites[st.site].hex();
    return k;
}

/**
 * One collection of a change set in a canonical form: rows (with document, field and site indexes replaced by
 * what they name) sorted, ranges likewise. The encoder may renumber and reorder (sorted document ids, row
 * order), so a round trip must keep this form, not the indexes.
 */
inline std::vector<std::string> canonicalCollection(const syncore::ChangeSet& cs, const syncore::CollectionChanges& c) {
    std::vector<std::string> rows, ranges;
    for (const auto& r : c.rows) {
        std::string k = "row " + std::to_string(static_cast<int>(r.kind)) + " " + std::to_string(r.flags) + " doc=" +
                        c.docIds.at(r.doc);
        if (r.kind != syncore::RowKind::Cl) k += " field=" + cs.fieldNames.at(r.field);
        k += " stamp=" + stampKey(cs, r.stamp) + " seq=" + std::to_string(r.seq) + " base=" + stampKey(cs, r.base) +
             " value=" + valueKey(r.value.toValue());
        rows.push_back(std::move(k));
    }
    for (const auto& g : c.ranges)
        ranges.push_back("range " + cs.sites.at(g.site).hex() + " " + std::to_string(g.from) + " " + std::to_string(g.to));
    std::sort(rows.begin(), rows.end());
    // Ranges of one origin apply in order ((0,5] then (5,9] is not (5,9] then (0,5]): group by origin only.
    std::stable_sort(ranges.begin(), ranges.end(),
                     [](const std::string& x, const std::string& y) { return x.compare(6, 32, y, 6, 32) < 0; });
    rows.insert(rows.end(), ranges.begin(), ranges.end());
    return rows;
}

/** Semantic equality of two decoded change sets: same collections holding the same rows and ranges. */
inline void checkSameChangeSet(const syncore::ChangeSet& a, const syncore::ChangeSet& b) {
    FUZZ_CHECK(a.rowCount() == b.rowCount(), "round trip changed the row count");
    FUZZ_CHECK(a.collections.size() == b.collections.size(), "round trip changed the collection count");
    std::map<std::string, std::vector<std::string>> ca, cb;
    for (const auto& c : a.collections) ca[c.name] = canonicalCollection(a, c);
    for (const auto& c : b.collections) cb[c.name] = canonicalCollection(b, c);
    FUZZ_CHECK(ca.size() == a.collections.size(), "decoded change set names a collection twice");
    for (const auto& [name, rows] : ca) {
        auto it = cb.find(name);
        FUZZ_CHECK(it != cb.end(), "round trip lost collection '" + name + "'");
        if (it->second != rows) {
            std::string diff;
            for (size_t i = 0; i < std::max(rows.size(), it->second.size()); ++i) {
                const std::string x = i < rows.size() ? rows[i] : "-", y = i < it->second.size() ? it->second[i] : "-";
                if (x != y) {
                    diff = "\n  before: " + x + "\n  after:  " + y;
                    break;
                }
            }
            checkFailed("round trip changed collection '" + name + "'" + diff);
        }
    }
}

// ------------------------------------------------------------------------------------------------ changeset
/**
 * decodeChangeSet; on success: encode -> decode gives the same change set and encode is a fixed point;
 * apply to a fresh in-memory store + checkInvariants; apply again -> stateHash unchanged (idempotent);
 * the store's encodeState() loaded into another fresh store gives the same stateHash.
 */
inline void runChangeset(const uint8_t* data, size_t size) {
    using namespace syncore;
    {
        // A store with no documents decodes a batch straight into itself (loadChanges): a batch refused
        // halfway must leave nothing behind.
        auto fresh = Store::open(storeOptions());
        const std::string empty = fresh->debugDump();
        try {
            fresh->apply(Bytes(data, data + size));
        } catch (const Error&) {
            FUZZ_CHECK(fresh->debugDump() == empty && fresh->collections().empty() && fresh->syncVector().empty(),
                       "a refused first load left something in the store");
            invariants(*fresh, "after a refused first load");
        }
    }
    ChangeSet cs;
    try {
        cs = decodeChangeSet(data, size);
    } catch (const Error&) {
        return;
    }
    // docs/ARCHITECTURE.md: decoders "never allocate more than a constant times their input"; rows are
    // the decoder's big allocation (a Row is ~100 bytes before its value), so their count must stay linear.
    FUZZ_CHECK(cs.rowCount() <= 2 * size + 64,
               "decoded " + std::to_string(cs.rowCount()) + " rows from " + std::to_string(size) + " bytes");
    for (const auto& c : cs.collections) {
        // Two indexes naming one document make the encoder's sort (and so its bytes) depend on input order.
        std::vector<std::string> ids = c.docIds;
        std::sort(ids.begin(), ids.end());
        FUZZ_CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end(),
                   "decoder accepted a duplicate document id in collection '" + c.name + "'");
    }
    Bytes enc = encodeChangeSet(cs);
    ChangeSet cs2;
    try {
        cs2 = decodeChangeSet(enc);
    } catch (const Error& e) {
        checkFailed(std::string("re-encoded change set does not decode: ") + e.what());
    }
    FUZZ_CHECK(cs2.rowCount() == cs.rowCount(), "round trip changed the row count");
    checkSameChangeSet(cs, cs2);
    FUZZ_CHECK(encodeChangeSet(cs2) == enc, "encodeChangeSet(decodeChangeSet(x)) is not a fixed point");

    Bytes input(data, data + size);
    auto store = Store::open(storeOptions());
    try {
        store->apply(input);
    } catch (const Error&) {
        // apply() validates the whole batch first and leaves the store unchanged on failure; a clean Error
        // is tolerated, but the store must still be consistent.
        invariants(*store, "after a failed apply");
        return;
    }
    invariants(*store, "after apply");
    uint64_t h1 = store->stateHash();
    try {
        store->apply(input);
    } catch (const Error& e) {
        checkFailed(std::string("applying the same change set a second time threw: ") + e.what());
    }
    invariants(*store, "after applying the same change set twice");
    FUZZ_CHECK(store->stateHash() == h1, "applying the same change set twice changed the state (not idempotent)");

    Bytes state = store->encodeState();
    auto opts = storeOptions();
    opts.siteId = otherSite();
    auto copy = Store::open(opts);
    try {
        copy->apply(state);
    } catch (const Error& e) {
        checkFailed(std::string("a fresh store cannot load encodeState(): ") + e.what());
    }
    invariants(*copy, "after loading encodeState() into a fresh store");
    FUZZ_CHECK(copy->stateHash() == h1, "a replica loaded from encodeState() has a different stateHash");

    // A local write on top of whatever arrived: stamps/seqs taken from the batch must not break it.
    try {
        store->put("fuzz-local", Value{{"id", "w"}, {"n", 1}});
    } catch (const Error&) {
        invariants(*store, "after a failed local write");
        return;
    }
    invariants(*store, "after a local write on top of the applied change set");
    auto doc = store->get("fuzz-local", "w");
    FUZZ_CHECK(doc && doc->value("n", Value()) == Value(1), "a local write after apply is not visible");
}

// ------------------------------------------------------------------------------------------------ message
/** decodeMessage; on success encodeMessage -> decodeMessage is the same message and encoding is stable. */
inline void runMessage(const uint8_t* data, size_t size) {
    using namespace syncore;
    Message m;
    try {
        m = decodeMessage(data, size);
    } catch (const Error&) {
        return;
    }
    Bytes enc = encodeMessage(m);
    Message m2;
    try {
        m2 = decodeMessage(enc);
    } catch (const Error& e) {
        checkFailed(std::string("re-encoded message does not decode: ") + e.what());
    }
    FUZZ_CHECK(m2.type == m.type, "round trip changed the message type");
    FUZZ_CHECK(m2.site == m.site && m2.schemaVersion == m.schemaVersion && m2.have == m.have &&
                   m2.collections == m.collections && m2.token == m.token && m2.batch == m.batch &&
                   m2.changes == m.changes && m2.presence == m.presence && m2.code == m.code &&
                   m2.message == m.message && m2.fatal == m.fatal,
               "round trip changed a message field");
    FUZZ_CHECK(encodeMessage(m2) == enc, "encodeMessage(decodeMessage(x)) is not a fixed point");
}

// ------------------------------------------------------------------------------------------------ value
/** readValue with an empty string table; on success writeValue -> readValue is the same value. */
inline void runValue(const uint8_t* data, size_t size) {
    using namespace syncore;
    const std::vector<std::string> noStrings;
    Value v;
    try {
        Reader r(data, size);
        v = readValue(r, noStrings);
    } catch (const Error&) {
        return;
    }
    try {
        validateValue(v, "fuzz");
    } catch (const Error& e) {
        checkFailed(std::string("readValue accepted a value validateValue refuses: ") + e.what());
    }
    StringTable table;
    table.countValue(v);
    table.build();
    Writer w;
    writeValue(w, v, table);
    Writer w0; // without a table, so it reads back with the empty one
    writeValue(w0, v, StringTable());
    Value v2;
    try {
        Reader r(w0.bytes());
        v2 = readValue(r, noStrings);
        FUZZ_CHECK(r.done(), "readValue left bytes of a value it wrote");
        Reader rt(w.bytes());
        Value v3 = readValue(rt, table.strings());
        FUZZ_CHECK(v3 == v, "round trip through a string table changed the value");
    } catch (const Error& e) {
        checkFailed(std::string("written value does not read back: ") + e.what());
    }
    FUZZ_CHECK(v2 == v, "writeValue -> readValue changed the value");
    FUZZ_CHECK(compareValues(v, v2) == 0, "compareValues of equal values is not 0");
    Fnv64 h1, h2;
    hashValue(h1, v);
    hashValue(h2, v2);
    FUZZ_CHECK(h1.h == h2.h, "equal values hash differently");
    // The store's cells read the same bytes straight from the wire: same value, same hash.
    try {
        Reader r(data, size);
        Cell c = Cell::read(r, noStrings);
        FUZZ_CHECK(c == Cell::of(v), "Cell::read differs from Cell::of(readValue)");
        FUZZ_CHECK(c.toValue() == v, "Cell::read -> toValue changed the value");
        Writer wc;
        c.write(wc, table);
        FUZZ_CHECK(wc.bytes() == w.bytes(), "a cell encodes differently from its value");
    } catch (const Error& e) {
        checkFailed(std::string("readValue accepted a value Cell::read refuses: ") + e.what());
    }
}

// ------------------------------------------------------------------------------------------------ deflate

// Arbitrary bytes into the inflater: a clean Error or bounded output. The input through our deflater at
// three efforts: it must come back exactly.
inline void runDeflate(const uint8_t* data, size_t size) {
    using namespace syncore;
    constexpr size_t kLimit = 1 << 20;
    try {
        Bytes out = inflateRaw(data, size, kLimit);
        FUZZ_CHECK(out.size() <= kLimit, "inflateRaw exceeded its output limit");
        Bytes again = deflateRaw(out, 1);
        FUZZ_CHECK(inflateRaw(again.data(), again.size(), out.size()) == out, "re-deflated output differs");
    } catch (const Error&) {
    }
    for (int effort : {1, 4, 9}) {
        Bytes packed = deflateRaw(data, size, effort);
        Bytes back;
        try {
            back = inflateRaw(packed.data(), packed.size(), size);
        } catch (const Error& e) {
            checkFailed(std::string("our deflate output does not inflate: ") + e.what());
        }
        FUZZ_CHECK(back.size() == size && std::equal(back.begin(), back.end(), data),
                   "deflate -> inflate changed the bytes");
    }
}

// ------------------------------------------------------------------------------------------------ msgpack
// Arbitrary bytes as MessagePack: our reader (syncore/msgpack.hpp) and nlohmann's from_msgpack (the oracle)
// must accept the same inputs and read the same value (number kinds, double bits and binary subtypes
// included); what was read must write back to nlohmann's bytes, and reading and writing those again
// gives the same bytes.
inline bool sameMsgpackValue(const syncore::Value& a, const syncore::Value& b) {
    using syncore::Value;
    if (a.type() != b.type())
        return false;
    switch (a.type()) {
    case Value::value_t::number_float: {
        double x = a.get<double>(), y = b.get<double>();
        return std::memcmp(&x, &y, sizeof x) == 0;
    }
    case Value::value_t::array:
        if (a.size() != b.size())
            return false;
        for (size_t i = 0; i < a.size(); ++i)
            if (!sameMsgpackValue(a[i], b[i]))
                return false;
        return true;
    case Value::value_t::object:
        if (a.size() != b.size())
            return false;
        for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
            if (i.key() != j.key() || !sameMsgpackValue(i.value(), j.value()))
                return false;
        return true;
    case Value::value_t::discarded:
        return true;
    default:
        return a == b;
    }
}

/** nlohmann's reading of MessagePack (the oracle), discarded when it refuses the input. */
inline syncore::Value msgpackOracle(const uint8_t* data, size_t size) {
    using syncore::Value;
    try {
        return Value::from_msgpack(data, data + size, true, false);
    } catch (const Value::out_of_range&) {
        // nlohmann throws (even with allow_exceptions = false) for an array/map count above max_size(),
        // which a 32-bit target reaches (WebAssembly: "excessive object size"); ours refuses those inputs
        // like any other count larger than the input, as a discarded value
        return Value(Value::value_t::discarded);
    }
}

inline void runMsgpack(const uint8_t* data, size_t size) {
    using namespace syncore;
    Value ours = fromMsgpack(data, size);
    // nlohmann's reader recurses once per level: spare it (and the sanitizer's stack) very deep input
    size_t containers = 0;
    for (size_t i = 0; i < size; ++i)
        containers += (data[i] >= 0x80 && data[i] <= 0x9f) || data[i] >= 0xdc;
    if (containers <= 2000) {
        Value theirs = msgpackOracle(data, size);
        FUZZ_CHECK(ours.is_discarded() == theirs.is_discarded(), "we and nlohmann disagree on what is MessagePack");
        FUZZ_CHECK(sameMsgpackValue(ours, theirs), "we read MessagePack as another value than nlohmann");
    }
    if (ours.is_discarded())
        return;
    Bytes back = toMsgpack(ours);
    FUZZ_CHECK(back == Value::to_msgpack(ours), "our MessagePack writer writes other bytes than nlohmann's");
    // (not the same value: a positive int8..int64 comes back unsigned, as with nlohmann; the bytes do not change)
    FUZZ_CHECK(toMsgpack(fromMsgpack(back.data(), back.size())) == back, "MessagePack writing is not a fixed point");
}

// ------------------------------------------------------------------------------------------------ number_text
// The first 8 bytes as a double: appendShortestDouble writes what the %.15g..%.17g printf loop writes.
// All bytes as text: when it is a JSON number, decimalToDouble reads what strtod reads, bit for bit.
inline bool isJsonNumber(const std::string& s) {
    size_t i = 0, n = s.size();
    auto digits = [&] {
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            ++i;
        return i > start;
    };
    if (i < n && s[i] == '-')
        ++i;
    if (i < n && s[i] == '0')
        ++i;
    else if (!digits())
        return false;
    if (i < n && s[i] == '.' && (++i, !digits()))
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            ++i;
        if (!digits())
            return false;
    }
    return i == n;
}

inline void runNumberText(const uint8_t* data, size_t size) {
    using namespace syncore;
    if (size >= 8) {
        double d;
        std::memcpy(&d, data, sizeof d);
        if (std::isfinite(d)) {
            char buf[32];
            for (int prec = 15; prec <= 17; ++prec) {
                std::snprintf(buf, sizeof buf, "%.*g", prec, d);
                if (prec == 17 || std::strtod(buf, nullptr) == d)
                    break;
            }
            std::string ours;
            appendShortestDouble(ours, d);
            FUZZ_CHECK(ours == buf, "appendShortestDouble writes other text than printf");
        }
    }
    std::string text(reinterpret_cast<const char*>(data), size);
    if (!isJsonNumber(text))
        return;
    double want = std::strtod(text.c_str(), nullptr), got = 0;
    bool ok = decimalToDouble(text.data(), text.size(), got);
    if (std::isinf(want)) {
        FUZZ_CHECK(!ok, "decimalToDouble reads a number strtod finds out of range");
    } else {
        FUZZ_CHECK(ok, "decimalToDouble refuses a number strtod reads");
        FUZZ_CHECK(std::memcmp(&want, &got, sizeof got) == 0, "decimalToDouble reads another double than strtod");
    }
}

// ------------------------------------------------------------------------------------------------ json_text
// Arbitrary bytes as JSON text: our parser and nlohmann's (the oracle) must agree on what is JSON (ours
// also refuses nesting past kMaxJsonTextDepth) and on the value; what we accept must write back to text
// that both parse to the same value.
inline void runJsonText(const uint8_t* data, size_t size) {
    using namespace syncore;
    const char* text = reinterpret_cast<const char*>(data);
    Value ours;
    bool oursOk = true;
    try {
        ours = parseJsonText(text, size);
    } catch (const Error& e) {
        oursOk = false;
        FUZZ_CHECK(e.code() == ErrorCode::InvalidArgument, "parse error with the wrong code");
    }
    if (std::memchr(data, 0, size)) {
        // A NUL byte is never valid JSON text (outside strings it is no token, inside it must be escaped);
        // nlohmann's parser stops at it, so it is no oracle here.
        FUZZ_CHECK(!oursOk, "we accept JSON text that holds a NUL byte");
        return;
    }
    Value theirs = Value::parse(text, text + size, nullptr, false);
    bool theirsOk = !theirs.is_discarded();
    if (oursOk) {
        FUZZ_CHECK(theirsOk, "we accept JSON text that nlohmann refuses");
        FUZZ_CHECK(ours == theirs, "we parse JSON text to another value than nlohmann");
        std::string back = toJsonText(ours);
        FUZZ_CHECK(parseJsonText(back) == ours, "our writer's text parses to another value");
        FUZZ_CHECK(Value::parse(back) == ours, "our writer's text means another value to nlohmann");
        // the member walker (Txn::putJson reads documents with it) sees the same object
        if (ours.is_object()) {
            Value rebuilt = Value::object();
            try {
                forEachJsonMember(text, size, "t", [&](const std::string& key, const JsonSpan& v) {
                    rebuilt[key] = v.plainString ? Value(std::string(v.data + 1, v.size - 2))
                                                 : parseJsonText(v.data, v.size);
                });
            } catch (const Error& e) {
                checkFailed(std::string("the member walker refuses an object the parser accepts: ") + e.what());
            }
            FUZZ_CHECK(rebuilt == ours, "the member walker reads another object than the parser");
        }
    }
    std::string parseError;
    if (!oursOk) {
        try {
            parseJsonText(text, size);
        } catch (const Error& e) {
            parseError = e.what();
        }
    }
    // whatever the walker accepts must be an object the parser accepts too (nesting limits aside: the
    // walker counts depth from each member, the parser from the top)
    if ((!oursOk || !ours.is_object()) && parseError.find("nesting deeper than") == std::string::npos) {
        bool walked = true;
        try {
            forEachJsonMember(text, size, "t", [&](const std::string&, const JsonSpan& v) {
                if (!v.plainString)
                    parseJsonText(v.data, v.size);
            });
        } catch (const Error&) {
            walked = false;
        }
        FUZZ_CHECK(!walked, "the member walker accepts text the parser refuses (or a non-object)");
    }
    if (!oursOk && theirsOk) // the one refusal nlohmann does not share: nesting past our limit
        FUZZ_CHECK(parseError.find("nesting deeper than") != std::string::npos,
                   "we refuse JSON text nlohmann accepts: " + parseError);
}

// ------------------------------------------------------------------------------------------------ store_open
/**
 * Input layout: [u16le stateLen][u16le journal1Len][u8 mode] state | journal1 | journal2 (the rest).
 * Writes a fresh directory: syncore.state (if stateLen > 0), journal-<first>.log (if journal1 non-empty),
 * journal-<first+1>.log (if journal2 non-empty); first = max(1, mode & 0x7f). Lengths are clamped to the input.
 * mode & 0x80: before writing, recompute the CRC of every whole record in the three files, so mutations of
 * record payloads reach the decoders behind the checksum instead of all dying as "checksum mismatch".
 * Opens the store (damage must be reported, not crash), checkInvariants, one put, reopen: the reopened store
 * must be undamaged, hold the same state, pass checkInvariants. The directory is emptied before and after.
 */
struct StoreOpenInput {
    syncore::Bytes state, journal1, journal2;
    uint32_t firstSegment = 1; // 1..127
    bool fixCrcs = false;
};

/** Rewrites the CRC of each whole record in data[start..] (journal framing, journal.hpp). */
inline void fixRecordCrcs(syncore::Bytes& data, size_t start) {
    size_t at = start;
    while (at <= data.size() && data.size() - at >= syncore::kRecordHeaderBytes) {
        uint32_t len = 0;
        for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(data[at + i]) << (8 * i);
        if (len > data.size() - at - syncore::kRecordHeaderBytes) break;
        uint8_t type = data[at + 8];
        uint32_t crc = syncore::crc32(data.data() + at + syncore::kRecordHeaderBytes, len, syncore::crc32(&type, 1));
        for (int i = 0; i < 4; ++i) data[at + 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
        at += syncore::kRecordHeaderBytes + len;
    }
}

inline StoreOpenInput splitStoreOpenInput(const uint8_t* data, size_t size) {
    StoreOpenInput in;
    if (size < 5) {
        in.journal1.assign(data, data + size);
        return in;
    }
    size_t stateLen = data[0] | (size_t(data[1]) << 8);
    size_t j1Len = data[2] | (size_t(data[3]) << 8);
    in.firstSegment = (data[4] & 0x7f) ? (data[4] & 0x7f) : 1;
    in.fixCrcs = (data[4] & 0x80) != 0;
    const uint8_t* p = data + 5;
    size_t left = size - 5;
    stateLen = std::min(stateLen, left);
    in.state.assign(p, p + stateLen);
    p += stateLen;
    left -= stateLen;
    j1Len = std::min(j1Len, left);
    in.journal1.assign(p, p + j1Len);
    p += j1Len;
    left -= j1Len;
    in.journal2.assign(p, p + left);
    return in;
}

inline syncore::Bytes joinStoreOpenInput(const StoreOpenInput& in) {
    syncore::Bytes out;
    out.push_back(static_cast<uint8_t>(in.state.size()));
    out.push_back(static_cast<uint8_t>(in.state.size() >> 8));
    out.push_back(static_cast<uint8_t>(in.journal1.size()));
    out.push_back(static_cast<uint8_t>(in.journal1.size() >> 8));
    out.push_back(static_cast<uint8_t>((in.firstSegment & 0x7f) | (in.fixCrcs ? 0x80 : 0)));
    out.insert(out.end(), in.state.begin(), in.state.end());
    out.insert(out.end(), in.journal1.begin(), in.journal1.end());
    out.insert(out.end(), in.journal2.begin(), in.journal2.end());
    return out;
}

inline void writeBytes(const std::filesystem::path& p, const syncore::Bytes& b) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/** Strict mode (env SYNCORE_FUZZ_STRICT_OPEN=1): an Error escaping Store::open is a failure too, since
 *  store.hpp promises that damage on disk is reported, not thrown. */
inline bool strictOpen() {
    static const bool strict = [] {
        const char* e = std::getenv("SYNCORE_FUZZ_STRICT_OPEN");
        return e && e[0] == '1';
    }();
    return strict;
}

inline void runStoreOpen(const uint8_t* data, size_t size, const std::string& dir) {
    using namespace syncore;
    namespace fs = std::filesystem;
    StoreOpenInput in = splitStoreOpenInput(data, size);
    if (in.fixCrcs) {
        fixRecordCrcs(in.state, 8); // after the "SYNCORE1" magic
        fixRecordCrcs(in.journal1, 0);
        fixRecordCrcs(in.journal2, 0);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(dir, e);
        }
    } cleanup{dir};
    if (!in.state.empty()) writeBytes(fs::path(dir) / "syncore.state", in.state);
    if (!in.journal1.empty()) writeBytes(fs::path(dir) / Journal::segmentName(in.firstSegment), in.journal1);
    if (!in.journal2.empty()) writeBytes(fs::path(dir) / Journal::segmentName(in.firstSegment + 1), in.journal2);

    std::unique_ptr<Store> store;
    OpenReport report;
    try {
        store = Store::open(storeOptions(dir), &report);
    } catch (const Error& e) {
        if (strictOpen()) checkFailed(std::string("Store::open threw instead of reporting damage: ") + e.what());
        return;
    }
    invariants(*store, "after open");
    try {
        store->put("fz", Value{{"id", "fuzz-doc"}, {"n", 1}, {"s", "x"}});
    } catch (const Error&) {
        // e.g. read-only (schema) or a clean storage error: still consistent, nothing more to check
        invariants(*store, "after a failed put");
        return;
    }
    invariants(*store, "after put");
    uint64_t hash = store->stateHash();
    SiteId site = store->siteId();
    store.reset();

    OpenReport again;
    try {
        store = Store::open(storeOptions(dir), &again);
    } catch (const Error& e) {
        checkFailed(std::string("reopening a store this build just wrote threw: ") + e.what());
    }
    FUZZ_CHECK(!again.damaged, "a store this build just wrote reopens damaged: " + again.message);
    invariants(*store, "after reopen");
    FUZZ_CHECK(store->siteId() == site, "reopen changed the site id");
    FUZZ_CHECK(store->stateHash() == hash, "reopen changed the state");
    auto doc = store->get("fz", "fuzz-doc");
    FUZZ_CHECK(doc && doc->value("n", Value()) == Value(1), "the put did not survive the reopen");
}

} // namespace fuzz
