#include "syncore/protocol.hpp"

#include <vector>

#include "syncore/changeset.hpp"
#include "syncore/error.hpp"
#include "syncore/msgpack.hpp"

namespace syncore {

const char *messageTypeName(MessageType t) {
    switch (t) {
    case MessageType::Hello:
        return "hello";
    case MessageType::Changes:
        return "changes";
    case MessageType::Ack:
        return "ack";
    case MessageType::End:
        return "end";
    case MessageType::Presence:
        return "presence";
    case MessageType::Error:
        return "error";
    }
    return "?";
}

Message Message::hello(const SiteId &site, uint32_t schemaVersion, SyncVector have,
                       std::vector<std::string> collections, std::string token) {
    Message m;
    m.type = MessageType::Hello;
    m.site = site;
    m.schemaVersion = schemaVersion;
    m.have = std::move(have);
    m.collections = std::move(collections);
    m.token = std::move(token);
    return m;
}

Message Message::changeBatch(uint64_t batch, Bytes changes) {
    Message m;
    m.type = MessageType::Changes;
    m.batch = batch;
    m.changes = std::move(changes);
    return m;
}

Message Message::ack(uint64_t batch) {
    Message m;
    m.type = MessageType::Ack;
    m.batch = batch;
    return m;
}

Message Message::end(SyncVector have) {
    Message m;
    m.type = MessageType::End;
    m.have = std::move(have);
    return m;
}

Message Message::presenceUpdate(const SiteId &site, Value state) {
    Message m;
    m.type = MessageType::Presence;
    m.site = site;
    m.presence = std::move(state);
    return m;
}

Message Message::error(std::string code, std::string message, bool fatal, uint64_t batch) {
    Message m;
    m.type = MessageType::Error;
    m.code = std::move(code);
    m.message = std::move(message);
    m.fatal = fatal;
    m.batch = batch;
    return m;
}

void checkMsgpack(const uint8_t *data, size_t size, int maxDepth) {
    Reader r(data, size);
    std::vector<uint64_t> pending; // items still to read at each open container level
    uint64_t top = 1;              // items still to read at the top level
    auto be = [&](int n, const char *what) {
        uint64_t v = 0;
        for (int i = 0; i < n; ++i)
            v = (v << 8) | r.u8(what);
        return v;
    };
    auto open = [&](uint64_t items) {
        if (items > r.remaining())
            fail(ErrorCode::Decode, "MessagePack container larger than the frame");
        if (items == 0)
            return;
        if (static_cast<int>(pending.size()) >= maxDepth)
            fail(ErrorCode::Decode, "frame nests deeper than " + std::to_string(maxDepth) + " levels");
        pending.push_back(items);
    };
    auto skip = [&](uint64_t n) {
        if (n > r.remaining())
            fail(ErrorCode::Decode, "truncated MessagePack string or binary");
        r.skip(static_cast<size_t>(n), "MessagePack payload");
    };
    while (true) {
        // Count the item about to be read against its container.
        if (!pending.empty()) {
            if (pending.back() == 0) {
                pending.pop_back();
                continue;
            }
            --pending.back();
        } else {
            if (top == 0)
                break;
            --top;
        }
        uint8_t b = r.u8("MessagePack item");
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        } else if (b >= 0x80 && b <= 0x8f) {
            open(2ull * (b & 0x0f));
        } else if (b >= 0x90 && b <= 0x9f) {
            open(b & 0x0f);
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip(b & 0x1f);
        } else {
            switch (b) {
            case 0xc4:
                skip(be(1, "bin8 length"));
                break;
            case 0xc5:
                skip(be(2, "bin16 length"));
                break;
            case 0xc6:
                skip(be(4, "bin32 length"));
                break;
            case 0xca:
                skip(4);
                break;
            case 0xcb:
                skip(8);
                break;
            case 0xcc:
            case 0xd0:
                skip(1);
                break;
            case 0xcd:
            case 0xd1:
                skip(2);
                break;
            case 0xce:
            case 0xd2:
                skip(4);
                break;
            case 0xcf:
            case 0xd3:
                skip(8);
                break;
            case 0xd9:
                skip(be(1, "str8 length"));
                break;
            case 0xda:
                skip(be(2, "str16 length"));
                break;
            case 0xdb:
                skip(be(4, "str32 length"));
                break;
            case 0xdc:
                open(be(2, "array16 length"));
                break;
            case 0xdd:
                open(be(4, "array32 length"));
                break;
            case 0xde:
                open(2 * be(2, "map16 length"));
                break;
            case 0xdf:
                open(2 * be(4, "map32 length"));
                break;
            default:
                fail(ErrorCode::Decode, "unsupported MessagePack type byte " + std::to_string(b));
            }
        }
        while (!pending.empty() && pending.back() == 0)
            pending.pop_back();
        if (pending.empty() && top == 0)
            break;
    }
    if (!r.done())
        fail(ErrorCode::Decode, "trailing bytes after the frame");
}

namespace {

Value::binary_t bin(const uint8_t *p, size_t n) { return Value::binary_t(std::vector<uint8_t>(p, p + n)); }

Value vectorJson(const SyncVector &sv) {
    Value out = Value::object();
    for (const auto &[coll, vv] : sv) {
        Value pairs = Value::array();
        for (const auto &[site, seq] : vv)
            pairs.push_back(Value::array({Value::binary(bin(site.bytes.data(), 16)), seq}));
        out[coll] = std::move(pairs);
    }
    return out;
}

const Value &field(const Value &m, const char *key, const char *type) {
    auto it = m.find(key);
    if (it == m.end())
        fail(ErrorCode::Decode, std::string(type) + " frame without '" + key + "'");
    return *it;
}

uint64_t u64(const Value &v, const char *what) {
    if (v.is_number_unsigned())
        return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0)
        return static_cast<uint64_t>(v.get<int64_t>());
    fail(ErrorCode::Decode, std::string("'") + what + "' must be a non-negative integer");
}

std::string string(const Value &v, const char *what, size_t max) {
    if (!v.is_string())
        fail(ErrorCode::Decode, std::string("'") + what + "' must be a string");
    if (v.get_ref<const std::string &>().size() > max)
        fail(ErrorCode::Decode, std::string("'") + what + "' is too long");
    if (!isValidUtf8(v.get_ref<const std::string &>()))
        fail(ErrorCode::Decode, std::string("'") + what + "' is not valid UTF-8");
    return v.get<std::string>();
}

SiteId siteOf(const Value &v, const char *what) {
    if (!v.is_binary() || v.get_binary().size() != 16)
        fail(ErrorCode::Decode, std::string("'") + what + "' must be 16 bytes of binary");
    SiteId s;
    std::copy(v.get_binary().begin(), v.get_binary().end(), s.bytes.begin());
    if (s.isZero())
        fail(ErrorCode::Decode, std::string("'") + what + "' is the zero site id");
    return s;
}

SyncVector vectorOf(const Value &v) {
    if (!v.is_object())
        fail(ErrorCode::Decode, "'have' must be a map of collection to version vector");
    SyncVector out;
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.key().empty())
            fail(ErrorCode::Decode, "'have' names an empty collection");
        if (!isValidUtf8(it.key()))
            fail(ErrorCode::Decode, "'have' names a collection that is not valid UTF-8");
        if (!it.value().is_array())
            fail(ErrorCode::Decode, "version vector must be an array of [site, seq]");
        VersionVector vv;
        for (const auto &pair : it.value()) {
            if (!pair.is_array() || pair.size() != 2)
                fail(ErrorCode::Decode, "version vector entry must be [site, seq]");
            vv[siteOf(pair[0], "version vector site")] = u64(pair[1], "version vector seq");
        }
        out[it.key()] = std::move(vv);
    }
    return out;
}

} // namespace

Bytes encodeMessage(const Message &m) {
    Value v = Value::object();
    v["t"] = messageTypeName(m.type);
    switch (m.type) {
    case MessageType::Hello:
        v["v"] = m.protocolVersion;
        v["site"] = Value::binary(bin(m.site.bytes.data(), 16));
        v["schema"] = m.schemaVersion;
        v["have"] = vectorJson(m.have);
        v["collections"] = m.collections;
        if (!m.token.empty())
            v["token"] = m.token;
        break;
    case MessageType::Changes:
        v["batch"] = m.batch;
        v["data"] = Value::binary(std::vector<uint8_t>(m.changes.begin(), m.changes.end()));
        break;
    case MessageType::Ack:
        v["batch"] = m.batch;
        break;
    case MessageType::End:
        v["have"] = vectorJson(m.have);
        break;
    case MessageType::Presence:
        v["site"] = Value::binary(bin(m.site.bytes.data(), 16));
        v["state"] = m.presence;
        break;
    case MessageType::Error:
        v["code"] = m.code;
        v["message"] = m.message;
        v["fatal"] = m.fatal;
        if (m.batch)
            v["batch"] = m.batch;
        break;
    }
    return toMsgpack(v);
}

Message decodeMessage(const uint8_t *data, size_t size) {
    checkMsgpack(data, size, kMaxFrameDepth);
    Value v = fromMsgpack(data, size);
    if (v.is_discarded() || !v.is_object())
        fail(ErrorCode::Decode, "frame is not a MessagePack map");
    std::string t = string(field(v, "t", "a"), "t", 32);
    Message m;
    if (t == "hello") {
        m.type = MessageType::Hello;
        m.protocolVersion = static_cast<uint32_t>(std::min<uint64_t>(u64(field(v, "v", "hello"), "v"), UINT32_MAX));
        m.site = siteOf(field(v, "site", "hello"), "site");
        uint64_t schema = u64(field(v, "schema", "hello"), "schema");
        if (schema > UINT32_MAX)
            fail(ErrorCode::Decode, "'schema' out of range");
        m.schemaVersion = static_cast<uint32_t>(schema);
        m.have = vectorOf(field(v, "have", "hello"));
        const Value &colls = field(v, "collections", "hello");
        if (!colls.is_array())
            fail(ErrorCode::Decode, "'collections' must be an array of names");
        for (const auto &c : colls) {
            std::string name = string(c, "collection name", 256);
            if (name.empty())
                fail(ErrorCode::Decode, "empty collection name");
            m.collections.push_back(std::move(name));
        }
        if (v.contains("token"))
            m.token = string(v["token"], "token", 16384);
    } else if (t == "changes") {
        m.type = MessageType::Changes;
        m.batch = u64(field(v, "batch", "changes"), "batch");
        const Value &d = field(v, "data", "changes");
        if (!d.is_binary())
            fail(ErrorCode::Decode, "'data' must be binary (an encoded change set)");
        m.changes.assign(d.get_binary().begin(), d.get_binary().end());
        if (m.changes.empty() || m.changes[0] != kChangeSetVersion)
            fail(ErrorCode::Decode, "'data' is not a change set of a version this build reads");
    } else if (t == "ack") {
        m.type = MessageType::Ack;
        m.batch = u64(field(v, "batch", "ack"), "batch");
    } else if (t == "end") {
        m.type = MessageType::End;
        m.have = vectorOf(field(v, "have", "end"));
    } else if (t == "presence") {
        m.type = MessageType::Presence;
        m.site = siteOf(field(v, "site", "presence"), "site");
        m.presence = field(v, "state", "presence");
        try {
            try {
                validateValue(m.presence, "presence");
            } catch (const Error &e) {
                fail(ErrorCode::Decode, e.what());
            }
        } catch (const Error &e) {
            fail(ErrorCode::Decode, e.what());
        }
    } else if (t == "error") {
        m.type = MessageType::Error;
        m.code = string(field(v, "code", "error"), "code", 64);
        m.message = string(field(v, "message", "error"), "message", 4096);
        const Value &f = field(v, "fatal", "error");
        if (!f.is_boolean())
            fail(ErrorCode::Decode, "'fatal' must be a boolean");
        m.fatal = f.get<bool>();
        if (v.contains("batch"))
            m.batch = u64(v["batch"], "batch");
    } else {
        fail(ErrorCode::Decode, "unknown frame type '" + t + "'");
    }
    return m;
}

} // namespace syncore
