// Embind glue: convert in, call the core, convert out. Nothing else lives here.
//
// Boundary rules (docs/ARCHITECTURE.md, "The binding boundary"):
//  * arguments and results are JSON text, byte arrays (Uint8Array in, a fresh Uint8Array out) or numbers;
//  * no exception ever unwinds into JS: every entry point catches, stores {code, message} in the error
//    slot read by lastError(), and returns null. js/core.mjs turns that into a JS Error.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <memory>
#include <string>
#include <utility>

#include "syncore/changeset.hpp"
#include "syncore/error.hpp"
#include "syncore/json_text.hpp"
#include "syncore/protocol.hpp"
#include "syncore/store.hpp"

using emscripten::val;
using syncore::ErrorCode;
using syncore::Value;

namespace {

struct ErrorSlot {
    std::string code;
    std::string message;
};
ErrorSlot g_error;

void setError(const char *code, std::string message) {
    g_error.code = code;
    g_error.message = std::move(message);
}

// Records the exception being handled in the error slot. One copy of the catch clauses for every
// binding (rethrown here) instead of one per guard<F> instantiation: about 1 KB gzip of the module.
void recordCurrentException() noexcept {
    try {
        throw;
    } catch (const syncore::Error &e) {
        setError(syncore::errorCodeName(e.code()), e.what());
    } catch (const nlohmann::json::exception &e) { // a value of the wrong JSON type where a string was due
        setError(syncore::errorCodeName(ErrorCode::InvalidArgument), std::string("invalid argument: ") + e.what());
    } catch (const std::bad_alloc &) {
        setError(syncore::errorCodeName(ErrorCode::OutOfRange), "out of memory");
    } catch (const std::exception &e) {
        setError(syncore::errorCodeName(ErrorCode::Internal), e.what());
    } catch (...) {
        setError(syncore::errorCodeName(ErrorCode::Internal), "unknown C++ exception");
    }
}

// Runs f; any exception becomes the error slot and a null result.
template <class F> val guard(F &&f) noexcept {
    try {
        return f();
    } catch (...) {
        recordCurrentException();
    }
    return val::null();
}

// JSON text in and out goes through the core's own parser and writer (syncore/json_text.hpp), not
// nlohmann's: smaller module, faster bulk inserts.
Value parseJson(const std::string &text, const char *what) { return syncore::parseJsonText(text, what); }

val bytesOut(const syncore::Bytes &b) {
    // Uint8Array's constructor copies the view, so the result survives memory growth and later calls.
    static const val uint8Array = val::global("Uint8Array"); // one lookup, not one per write
    return uint8Array.new_(emscripten::typed_memory_view(b.size(), b.data()));
}

val jsonOut(const Value &v) { return val(syncore::toJsonText(v)); }

syncore::Bytes bytesIn(const std::string &s) { return syncore::Bytes(s.begin(), s.end()); }

// [[collection, id], ...] as JSON text, built directly (a transaction or a loaded state may touch
// 100,000 documents: no DOM for them).
void writeDocRefs(std::string &out, const std::vector<syncore::DocRef> &refs) {
    out += '[';
    for (size_t i = 0; i < refs.size(); ++i) {
        out += i ? ",[" : "[";
        syncore::writeJsonString(out, refs[i].collection);
        out += ',';
        syncore::writeJsonString(out, refs[i].id);
        out += ']';
    }
    out += ']';
}

void writeStrings(std::string &out, const std::vector<std::string> &v) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
        if (i)
            out += ',';
        syncore::writeJsonString(out, v[i]);
    }
    out += ']';
}

val docRefsOut(const std::vector<syncore::DocRef> &refs) {
    std::string out;
    out.reserve(refs.size() * 24 + 2);
    writeDocRefs(out, refs);
    return val(out);
}

// {changes: Uint8Array, changed: "[[collection, id], ...]"}: what a multi-document write did. Writes to one
// document return just the change set (empty: nothing changed), and the caller knows the document.
val commitOut(const syncore::CommitResult &r) {
    val out = val::object();
    out.set("changes", bytesOut(r.changes));
    out.set("changed", docRefsOut(r.changed));
    return out;
}

syncore::SyncVector syncVectorIn(const Value &v) {
    if (!v.is_object())
        syncore::fail(ErrorCode::InvalidArgument, "sync vector must be an object {collection: {site: seq}}");
    syncore::SyncVector out;
    for (auto c = v.begin(); c != v.end(); ++c) {
        if (!c.value().is_object())
            syncore::fail(ErrorCode::InvalidArgument, "sync vector entry '" + c.key() + "' must be an object");
        auto &vv = out[c.key()];
        for (auto s = c.value().begin(); s != c.value().end(); ++s) {
            if (!s.value().is_number_unsigned())
                syncore::fail(ErrorCode::InvalidArgument,
                              "sync vector seq for site " + s.key() + " must be a non-negative integer");
            vv[syncore::SiteId::fromHex(s.key())] = s.value().get<uint64_t>();
        }
    }
    return out;
}

Value syncVectorOut(const syncore::SyncVector &sv) {
    Value out = Value::object();
    for (const auto &[coll, vv] : sv) {
        Value &o = out[coll] = Value::object();
        for (const auto &[site, seq] : vv)
            o[site.hex()] = seq;
    }
    return out;
}

class CoreStore {
  public:
    explicit CoreStore(std::unique_ptr<syncore::Store> s, syncore::OpenReport report)
        : m_store(std::move(s)), m_report(std::move(report)) {}

    val siteId() const {
        return guard([&] { return val(m_store->siteId().hex()); });
    }
    val openReport() const {
        return guard([&] {
            return jsonOut(Value{{"created", m_report.created},
                                 {"damaged", m_report.damaged},
                                 {"message", m_report.message},
                                 {"droppedBytes", m_report.droppedBytes},
                                 {"records", m_report.records}});
        });
    }

    val configureCollection(const std::string &name, const std::string &policy) {
        return guard([&] {
            m_store->configureCollection(name, syncore::parseConflictPolicy(policy));
            return val(true);
        });
    }
    val policy(const std::string &name) const {
        return guard([&] { return val(std::string(syncore::conflictPolicyName(m_store->policy(name)))); });
    }
    val schemaVersion() const {
        return guard([&] { return val(m_store->schemaVersion()); });
    }
    val setSchemaVersion(double v) {
        return guard([&] {
            if (!(v >= 0 && v <= 4294967295.0) || v != static_cast<double>(static_cast<uint32_t>(v)))
                syncore::fail(ErrorCode::OutOfRange, "schema version must be an integer in 0..2^32-1");
            m_store->setSchemaVersion(static_cast<uint32_t>(v));
            return val(true);
        });
    }

    val put(const std::string &collection, const std::string &docJson) {
        return guard([&] {
            auto r =
                m_store->transaction([&](syncore::Txn &tx) { tx.putJson(collection, docJson.data(), docJson.size()); });
            return bytesOut(r.changes);
        });
    }
    val update(const std::string &collection, const std::string &id, const std::string &fieldsJson) {
        return guard(
            [&] { return bytesOut(m_store->update(collection, id, parseJson(fieldsJson, "fields")).changes); });
    }
    val remove(const std::string &collection, const std::string &id) {
        return guard([&] { return bytesOut(m_store->remove(collection, id).changes); });
    }
    val increment(const std::string &collection, const std::string &id, const std::string &field, double by) {
        return guard([&] { return bytesOut(m_store->increment(collection, id, field, by).changes); });
    }
    /** ops: [{op: "put", collection, doc} | {op: "update", collection, id, fields} |
     *        {op: "delete", collection, id} | {op: "increment", collection, id, field, by}], all or none.
     *  Walked without building the array: each put's document goes straight into the store's cells. */
    val transaction(const std::string &opsJson) {
        return guard([&] {
            auto r = m_store->transaction([&](syncore::Txn &tx) {
                size_t i = 0;
                syncore::forEachJsonElement(
                    opsJson.data(), opsJson.size(), "transaction", [&](const syncore::JsonSpan &opText) {
                        std::string kind, coll, id, field;
                        syncore::JsonSpan doc, fields, by;
                        // built only for an error message: a bulk insert has 100,000 operations
                        auto where = [&] { return "transaction operation " + std::to_string(i); };
                        auto text = [&](const syncore::JsonSpan &v, const char *key, std::string &out) {
                            if (v.plainString) { // the common case: no escapes, already checked
                                out.assign(v.data + 1, v.size - 2);
                                return;
                            }
                            Value x = syncore::parseJsonText(v.data, v.size, "transaction");
                            if (!x.is_string())
                                syncore::fail(ErrorCode::InvalidArgument, where() + ": '" + key + "' must be a string");
                            out = x.get<std::string>();
                        };
                        if (opText.size == 0 || opText.data[0] != '{')
                            syncore::fail(ErrorCode::InvalidArgument, where() + " is not an object");
                        syncore::forEachJsonMember(opText.data, opText.size, "transaction",
                                                   [&](const std::string &key, const syncore::JsonSpan &v) {
                                                       if (key == "op")
                                                           text(v, "op", kind);
                                                       else if (key == "collection")
                                                           text(v, "collection", coll);
                                                       else if (key == "id")
                                                           text(v, "id", id);
                                                       else if (key == "field")
                                                           text(v, "field", field);
                                                       else if (key == "doc")
                                                           doc = v;
                                                       else if (key == "fields")
                                                           fields = v;
                                                       else if (key == "by")
                                                           by = v;
                                                   });
                        if (kind == "put") {
                            if (!doc.data)
                                syncore::fail(ErrorCode::InvalidArgument, where() + ": put needs 'doc'");
                            tx.putJson(coll, doc.data, doc.size);
                        } else if (kind == "update") {
                            if (!fields.data)
                                syncore::fail(ErrorCode::InvalidArgument, where() + ": update needs 'fields'");
                            tx.update(coll, id, syncore::parseJsonText(fields.data, fields.size, "fields"));
                        } else if (kind == "delete") {
                            tx.remove(coll, id);
                        } else if (kind == "increment") {
                            Value n = by.data ? syncore::parseJsonText(by.data, by.size, "transaction") : Value();
                            if (!n.is_number())
                                syncore::fail(ErrorCode::InvalidArgument, where() + ": 'by' must be a number");
                            tx.increment(coll, id, field, n.get<double>());
                        } else {
                            syncore::fail(ErrorCode::InvalidArgument, where() + ": unknown op '" + kind + "'");
                        }
                        ++i;
                    });
            });
            return commitOut(r);
        });
    }

    val get(const std::string &collection, const std::string &id) const {
        return guard([&] {
            auto d = m_store->get(collection, id);
            return d ? jsonOut(*d) : val(std::string("null"));
        });
    }
    val find(const std::string &collection, const std::string &queryJson) const {
        return guard([&] {
            auto q = syncore::Query::fromJson(parseJson(queryJson, "query"));
            std::vector<Value> docs = m_store->find(collection, q);
            // One text for the whole result: JSON.parse on the JS side builds the objects natively.
            std::string out = "[";
            for (size_t i = 0; i < docs.size(); ++i) {
                if (i)
                    out += ',';
                syncore::writeJsonText(out, docs[i]);
            }
            out += ']';
            return val(out);
        });
    }
    val count(const std::string &collection) const {
        return guard([&] { return val(static_cast<double>(m_store->count(collection))); });
    }
    val collections() const {
        return guard([&] { return jsonOut(Value(m_store->collections())); });
    }

    val syncVector() const {
        return guard([&] { return jsonOut(syncVectorOut(m_store->syncVector())); });
    }
    /** {collection: seq} of this replica's own site: what a local commit raised, without carrying every
     *  site's entry across the boundary (the sync client keeps a mirror of the vector). */
    val ownVector() const {
        return guard([&] {
            Value out = Value::object();
            for (const auto &[c, seq] : m_store->ownVector())
                out[c] = seq;
            return jsonOut(out);
        });
    }
    /** Batches (an array of Uint8Array) of everything this replica holds that `have` lacks. */
    val changesSince(const std::string &haveJson, const std::string &collectionsJson, double maxBatchBytes) const {
        return guard([&] {
            auto have = syncVectorIn(parseJson(haveJson, "sync vector"));
            Value colls = parseJson(collectionsJson, "collections");
            std::vector<std::string> names;
            if (!colls.is_array())
                syncore::fail(ErrorCode::InvalidArgument, "collections must be an array of names");
            for (const auto &c : colls) {
                if (!c.is_string())
                    syncore::fail(ErrorCode::InvalidArgument, "collections must be an array of names");
                names.push_back(c.get<std::string>());
            }
            if (!(maxBatchBytes >= 0))
                syncore::fail(ErrorCode::OutOfRange, "maxBatchBytes must be >= 0");
            auto batches = m_store->changesSince(have, names, static_cast<size_t>(maxBatchBytes));
            val out = val::array();
            for (const auto &b : batches)
                out.call<void>("push", bytesOut(b));
            return out;
        });
    }
    /** Applies a change set atomically; returns {changed, newConflicts, clearedConflicts, rowsApplied}. */
    val apply(const std::string &bytes) {
        return guard([&] {
            auto r = m_store->apply(bytesIn(bytes));
            std::string out = "{\"changed\":";
            out.reserve(r.changed.size() * 24 + 96);
            writeDocRefs(out, r.changed);
            out += ",\"newConflicts\":";
            writeStrings(out, r.newConflicts);
            out += ",\"clearedConflicts\":";
            writeStrings(out, r.clearedConflicts);
            out += ",\"rowsApplied\":" + std::to_string(r.rowsApplied);
            out += ",\"raised\":[";
            for (size_t i = 0; i < r.raised.size(); ++i) { // [[collection, site, seq], ...]
                if (i)
                    out += ',';
                out += '[';
                syncore::writeJsonString(out, r.raised[i].collection);
                out += ",\"" + r.raised[i].site.hex() + "\"," + std::to_string(r.raised[i].seq) + ']';
            }
            out += "]}";
            return val(out);
        });
    }
    val encodeState() const {
        return guard([&] { return bytesOut(m_store->encodeState()); });
    }
    /** 16 hex digits (a 64-bit hash does not fit a JS number). */
    val stateHash() const {
        return guard([&] {
            static const char *hex = "0123456789abcdef";
            uint64_t h = m_store->stateHash();
            std::string s(16, '0');
            for (int i = 15; i >= 0; --i, h >>= 4)
                s[i] = hex[h & 15];
            return val(s);
        });
    }

    val conflicts() const {
        return guard([&] {
            Value out = Value::array();
            for (const auto &c : m_store->conflicts())
                out.push_back(c.toJson());
            return jsonOut(out);
        });
    }
    val conflict(const std::string &id) const {
        return guard([&] {
            auto c = m_store->conflict(id);
            return c ? jsonOut(c->toJson()) : val(std::string("null"));
        });
    }
    /** mode: keep_local | keep_remote | merge | value (then valueJson is the value). */
    val resolveConflict(const std::string &id, const std::string &mode, const std::string &valueJson) {
        return guard([&] {
            if (mode == "value")
                return commitOut(
                    m_store->resolveConflict(id, syncore::ResolveMode::Value, parseJson(valueJson, "value")));
            return commitOut(m_store->resolveConflict(id, syncore::parseResolveMode(mode)));
        });
    }
    val dismissConflict(const std::string &id) {
        return guard([&] {
            m_store->dismissConflict(id);
            return val(true);
        });
    }

    val createSnapshot(const std::string &label, const std::string &author) {
        return guard([&] { return jsonOut(m_store->createSnapshot(label, author).toJson()); });
    }
    val snapshots() const {
        return guard([&] {
            Value out = Value::array();
            for (const auto &s : m_store->snapshots())
                out.push_back(s.toJson());
            return jsonOut(out);
        });
    }
    val restoreSnapshot(const std::string &id) {
        return guard([&] { return commitOut(m_store->restoreSnapshot(id)); });
    }

    val compact() {
        return guard([&] {
            m_store->compact();
            return val(true);
        });
    }
    val journalBytes() const {
        return guard([&] { return val(static_cast<double>(m_store->journalBytes())); });
    }
    val checkInvariants() const {
        return guard([&] {
            m_store->checkInvariants();
            return val(true);
        });
    }

  private:
    std::unique_ptr<syncore::Store> m_store;
    syncore::OpenReport m_report;
};

size_t sizeOption(const Value &o, const char *key, size_t fallback) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null())
        return fallback;
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0)
        syncore::fail(ErrorCode::InvalidArgument, std::string("option '") + key + "' must be a positive integer");
    return static_cast<size_t>(it->get<uint64_t>());
}

/** optionsJson: {directory?, siteId?, segmentBytes?, compactBytes?, fsync?, maxDocumentBytes?}.
 *  Returns a new CoreStore (JS owns it: delete() closes it) or null, with the reason in lastError(). */
CoreStore *openCoreStore(const std::string &optionsJson) {
    CoreStore *out = nullptr;
    guard([&] {
        Value o = parseJson(optionsJson, "store options");
        if (!o.is_object())
            syncore::fail(ErrorCode::InvalidArgument, "store options must be an object");
        syncore::StoreOptions opt;
        if (auto it = o.find("directory"); it != o.end() && !it->is_null())
            opt.directory = it->get<std::string>();
        if (auto it = o.find("siteId"); it != o.end() && !it->is_null())
            opt.siteId = syncore::SiteId::fromHex(it->get<std::string>());
        opt.segmentBytes = sizeOption(o, "segmentBytes", opt.segmentBytes);
        opt.compactBytes = sizeOption(o, "compactBytes", opt.compactBytes);
        opt.maxDocumentBytes = sizeOption(o, "maxDocumentBytes", opt.maxDocumentBytes);
        if (auto it = o.find("fsync"); it != o.end() && it->is_boolean())
            opt.fsync = it->get<bool>();
        syncore::OpenReport report;
        auto store = syncore::Store::open(opt, &report);
        out = new CoreStore(std::move(store), std::move(report));
        return val(true);
    });
    return out;
}

// ------------------------------------------------------------------------------------------ protocol frames
// A frame's header crosses as JSON text (docs/PROTOCOL.md, site ids as hex, `have` as {collection: {site:
// seq}}), the change set of a "changes" frame as bytes beside it. Same shapes both ways.

// encodeFrame's view of a header: each field checked, and named in the error when missing or mistyped.
struct FrameHeader {
    const Value &h;
    std::string t;
    [[noreturn]] void bad(const char *key, const char *must) const {
        syncore::fail(ErrorCode::InvalidArgument, "frame '" + t + "': " + key + " must be " + must);
    }
    const Value *get(const char *key, bool required, const char *must, bool ok(const Value &)) const {
        auto it = h.find(key);
        if (it == h.end() && !required)
            return nullptr;
        if (it == h.end() || !ok(*it))
            bad(key, must);
        return &*it;
    }
    uint64_t num(const char *key, bool required, uint64_t max = UINT64_MAX) const {
        const char *must = max == UINT64_MAX ? "a non-negative integer" : "an integer in 0..2^32-1";
        const Value *v = get(key, required, must, [](const Value &x) { return x.is_number_unsigned(); });
        uint64_t n = v ? v->get<uint64_t>() : 0;
        if (n > max)
            bad(key, must);
        return n;
    }
    std::string str(const char *key, bool required) const {
        const Value *v = get(key, required, "a string", [](const Value &x) { return x.is_string(); });
        return v ? v->get<std::string>() : std::string();
    }
    syncore::SiteId site() const {
        auto s = syncore::SiteId::fromHex(
            get("site", true, "32 hex digits", [](const Value &x) { return x.is_string(); })->get<std::string>());
        if (s.isZero())
            bad("site", "a site id other than zero");
        return s;
    }
    syncore::SyncVector have() const {
        return syncVectorIn(
            *get("have", true, "an object {collection: {site: seq}}", [](const Value &x) { return x.is_object(); }));
    }
};

val encodeFrame(const std::string &headerJson, const std::string &data) {
    return guard([&] {
        Value h = parseJson(headerJson, "frame header");
        auto t = h.is_object() ? h.find("t") : h.end();
        FrameHeader f{h, t != h.end() && t->is_string() ? t->get<std::string>() : ""};
        syncore::Message m;
        int type = 0;
        while (type < 6 && f.t != syncore::messageTypeName(static_cast<syncore::MessageType>(type)))
            ++type;
        if (type == 6)
            syncore::fail(ErrorCode::InvalidArgument,
                          "frame: t must be one of hello, changes, ack, end, presence, error");
        m.type = static_cast<syncore::MessageType>(type);
        if (m.type != syncore::MessageType::Changes && !data.empty())
            syncore::fail(ErrorCode::InvalidArgument, "frame '" + f.t + "' carries no data");
        switch (m.type) {
        case syncore::MessageType::Hello:
            if (h.contains("v"))
                m.protocolVersion = static_cast<uint32_t>(f.num("v", true, UINT32_MAX));
            m.site = f.site();
            m.schemaVersion = static_cast<uint32_t>(f.num("schema", false, UINT32_MAX));
            m.have = f.have();
            if (auto *c = f.get("collections", false, "an array of names", [](const Value &x) {
                    for (const auto &n : x)
                        if (!n.is_string())
                            return false;
                    return x.is_array();
                }))
                m.collections = c->get<std::vector<std::string>>();
            m.token = f.str("token", false);
            break;
        case syncore::MessageType::Changes:
            if (data.empty() || static_cast<uint8_t>(data[0]) != syncore::kChangeSetVersion)
                syncore::fail(ErrorCode::InvalidArgument, "frame 'changes': data must be an encoded change set");
            m.changes = bytesIn(data);
            [[fallthrough]];
        case syncore::MessageType::Ack:
            m.batch = f.num("batch", true);
            break;
        case syncore::MessageType::End:
            m.have = f.have();
            break;
        case syncore::MessageType::Presence:
            m.site = f.site();
            m.presence = *f.get("state", true, "present (any JSON)", [](const Value &) { return true; });
            break;
        case syncore::MessageType::Error:
            m.code = f.str("code", true);
            m.message = f.str("message", true);
            if (auto *x = f.get("fatal", false, "a boolean", [](const Value &x) { return x.is_boolean(); }))
                m.fatal = x->get<bool>();
            m.batch = f.num("batch", false);
            break;
        }
        auto out = syncore::encodeMessage(m);
        // What we send, the peer must read: the decoder's limits (lengths, nesting, empty names) apply here
        // too. A changes frame is checked above (its decode would copy the whole change set).
        if (m.type != syncore::MessageType::Changes) {
            try {
                syncore::decodeMessage(out);
            } catch (const syncore::Error &e) {
                syncore::fail(ErrorCode::InvalidArgument, "frame '" + f.t + "': " + e.what());
            }
        }
        return bytesOut(out);
    });
}

/** {json: header JSON text, data?: Uint8Array (changes only)}. */
val decodeFrame(const std::string &bytes) {
    return guard([&] {
        auto m = syncore::decodeMessage(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
        Value h = Value::object();
        h["t"] = syncore::messageTypeName(m.type);
        val out = val::object();
        switch (m.type) {
        case syncore::MessageType::Hello:
            h["v"] = m.protocolVersion;
            h["site"] = m.site.hex();
            h["schema"] = m.schemaVersion;
            h["have"] = syncVectorOut(m.have);
            h["collections"] = m.collections;
            h["token"] = m.token;
            break;
        case syncore::MessageType::Changes:
            out.set("data", bytesOut(m.changes));
            [[fallthrough]];
        case syncore::MessageType::Ack:
            h["batch"] = m.batch;
            break;
        case syncore::MessageType::End:
            h["have"] = syncVectorOut(m.have);
            break;
        case syncore::MessageType::Presence:
            h["site"] = m.site.hex();
            h["state"] = m.presence;
            break;
        case syncore::MessageType::Error:
            h["code"] = m.code;
            h["message"] = m.message;
            h["fatal"] = m.fatal;
            h["batch"] = m.batch;
            break;
        }
        out.set("json", jsonOut(h));
        return out;
    });
}

syncore::ChangeSet changeSetIn(const std::string &bytes) {
    return syncore::decodeChangeSet(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
}

/** true, or null with CLOCK_SKEW when a row is stamped more than maxSkewMs ahead of nowMs. */
val checkClockSkew(const std::string &bytes, double nowMs, double maxSkewMs) {
    return guard([&] {
        // the sum must stay a physical time the clock can pack (48 bits of ms)
        if (!(nowMs >= 0 && maxSkewMs >= 0 && nowMs + maxSkewMs < 281474976710656.0))
            syncore::fail(ErrorCode::OutOfRange, "checkClockSkew: nowMs and maxSkewMs must be non-negative ms");
        syncore::checkClockSkew(changeSetIn(bytes), static_cast<uint64_t>(nowMs), static_cast<uint64_t>(maxSkewMs));
        return val(true);
    });
}

/** {"rows": n, "collections": {name: rows}, "docs": documents named} of a change set, as JSON text. */
val changeSetInfo(const std::string &bytes) {
    return guard([&] {
        auto cs = changeSetIn(bytes);
        Value colls = Value::object();
        size_t docs = 0;
        // the largest document part the batch carries, measured as a local put measures a document
        size_t largest = 0;
        std::string largestId;
        std::vector<size_t> sizes;
        for (const auto &c : cs.collections) {
            colls[c.name] = c.rows.size();
            docs += c.docIds.size(); // ids are unique per collection, collections unique per change set
            sizes.assign(c.docIds.size(), 0);
            for (const auto &r : c.rows)
                if (r.kind == syncore::RowKind::Field && !(r.flags & syncore::rowflag::Absent))
                    sizes[r.doc] += cs.fieldNames[r.field].size() + 2 + r.value.approxSize();
            for (size_t d = 0; d < sizes.size(); ++d)
                if (sizes[d] && sizes[d] + c.docIds[d].size() + 8 > largest) {
                    largest = sizes[d] + c.docIds[d].size() + 8;
                    largestId = c.name + "/" + c.docIds[d];
                }
        }
        return jsonOut(Value{{"rows", cs.rowCount()},
                             {"collections", std::move(colls)},
                             {"docs", docs},
                             {"largestDocBytes", largest},
                             {"largestDoc", largestId}});
    });
}

/** {code, message} of the last failed call, as JSON text. */
std::string lastError() {
    std::string out = "{\"code\":";
    syncore::writeJsonString(out, g_error.code);
    out += ",\"message\":";
    // messages quote what the caller sent: keep them valid UTF-8 whatever was in it
    syncore::writeJsonString(out, syncore::isValidUtf8(g_error.message) ? g_error.message
                                                                        : std::string("(message not UTF-8)"));
    out += '}';
    return out;
}

} // namespace

EMSCRIPTEN_BINDINGS(syncore) {
    using emscripten::class_;
    using emscripten::function;
    class_<CoreStore>("CoreStore")
        .function("siteId", &CoreStore::siteId)
        .function("openReport", &CoreStore::openReport)
        .function("configureCollection", &CoreStore::configureCollection)
        .function("policy", &CoreStore::policy)
        .function("schemaVersion", &CoreStore::schemaVersion)
        .function("setSchemaVersion", &CoreStore::setSchemaVersion)
        .function("put", &CoreStore::put)
        .function("update", &CoreStore::update)
        .function("remove", &CoreStore::remove)
        .function("increment", &CoreStore::increment)
        .function("transaction", &CoreStore::transaction)
        .function("get", &CoreStore::get)
        .function("find", &CoreStore::find)
        .function("count", &CoreStore::count)
        .function("collections", &CoreStore::collections)
        .function("syncVector", &CoreStore::syncVector)
        .function("ownVector", &CoreStore::ownVector)
        .function("changesSince", &CoreStore::changesSince)
        .function("apply", &CoreStore::apply)
        .function("encodeState", &CoreStore::encodeState)
        .function("stateHash", &CoreStore::stateHash)
        .function("conflicts", &CoreStore::conflicts)
        .function("conflict", &CoreStore::conflict)
        .function("resolveConflict", &CoreStore::resolveConflict)
        .function("dismissConflict", &CoreStore::dismissConflict)
        .function("createSnapshot", &CoreStore::createSnapshot)
        .function("snapshots", &CoreStore::snapshots)
        .function("restoreSnapshot", &CoreStore::restoreSnapshot)
        .function("compact", &CoreStore::compact)
        .function("journalBytes", &CoreStore::journalBytes)
        .function("checkInvariants", &CoreStore::checkInvariants);
    function("openCoreStore", &openCoreStore, emscripten::allow_raw_pointers());
    function("lastError", &lastError);
    function("encodeFrame", &encodeFrame);
    function("decodeFrame", &decodeFrame);
    function("checkClockSkew", &checkClockSkew);
    function("changeSetInfo", &changeSetInfo);
}
