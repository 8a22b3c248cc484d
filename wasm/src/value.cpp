#include "syncore/value.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "syncore/cell.hpp"
#include "syncore/error.hpp"
#include "value_format.hpp"

namespace syncore {

namespace {

// Walks without building paths; only on failure is the path of the bad value spelled out.
struct PathStep {
    const PathStep *parent;
    const std::string *key; // object member, or null for an array index
    size_t index;
};

std::string spell(const std::string &root, const PathStep *step) {
    std::vector<const PathStep *> steps;
    for (; step; step = step->parent)
        steps.push_back(step);
    std::string out = root;
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
        if ((*it)->key)
            out += "." + *(*it)->key;
        else
            out += "[" + std::to_string((*it)->index) + "]";
    }
    return out;
}

void validateAt(const Value &v, const std::string &root, const PathStep *at, int depth) {
    if (v.is_string() && !isValidUtf8(v.get_ref<const std::string &>()))
        fail(ErrorCode::InvalidArgument, "string at '" + spell(root, at) + "' is not valid UTF-8");
    if (depth > kMaxValueDepth)
        fail(ErrorCode::InvalidArgument,
             "value at '" + spell(root, at) + "' nests deeper than " + std::to_string(kMaxValueDepth) + " levels");
    switch (v.type()) {
    case Value::value_t::number_float: {
        double d = v.get<double>();
        if (!std::isfinite(d))
            fail(ErrorCode::InvalidArgument, "value at '" + spell(root, at) + "' is " +
                                                 (std::isnan(d) ? "NaN" : "Infinity") + ", which JSON cannot hold");
        break;
    }
    case Value::value_t::array: {
        size_t i = 0;
        for (const auto &item : v) {
            PathStep step{at, nullptr, i++};
            validateAt(item, root, &step, depth + 1);
        }
        break;
    }
    case Value::value_t::object:
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!isValidUtf8(it.key()))
                fail(ErrorCode::InvalidArgument, "a key at '" + spell(root, at) + "' is not valid UTF-8");
            PathStep step{at, &it.key(), 0};
            validateAt(it.value(), root, &step, depth + 1);
        }
        break;
    case Value::value_t::binary:
    case Value::value_t::discarded:
        fail(ErrorCode::InvalidArgument, "value at '" + spell(root, at) + "' is not JSON");
    default:
        break;
    }
}

} // namespace

void writeInt(Writer &w, int64_t i) {
    if (i >= 0 && i < kSmallIntCount) {
        w.u8(static_cast<uint8_t>(TSmallInt + i));
    } else {
        w.u8(TInt);
        w.svarint(i);
    }
}

void writeUint(Writer &w, uint64_t u) {
    if (u <= static_cast<uint64_t>(INT64_MAX)) {
        writeInt(w, static_cast<int64_t>(u));
    } else {
        w.u8(TUint);
        w.varint(u);
    }
}

void writeDouble(Writer &w, double d) {
    if (integralDouble(d)) {
        writeInt(w, static_cast<int64_t>(d));
    } else {
        w.u8(TDouble);
        w.f64(d);
    }
}

const StringTable &noStringTable() {
    static const StringTable empty;
    return empty;
}

void writeString(Writer &w, std::string_view s, const StringTable &table) {
    int64_t idx = table.find(s);
    if (idx >= 0) {
        w.u8(TStrRef);
        w.varint(static_cast<uint64_t>(idx));
    } else if (s.size() <= kShortStrMax) {
        w.u8(static_cast<uint8_t>(TShortStr + s.size()));
        w.raw(s.data(), s.size());
    } else {
        w.u8(TStr);
        w.varint(s.size());
        w.raw(s.data(), s.size());
    }
}

namespace {

std::string checkedUtf8(std::string s) {
    if (!isValidUtf8(s))
        fail(ErrorCode::Decode, "string is not valid UTF-8");
    return s;
}

std::string readString(Reader &r, uint8_t tag, const std::vector<std::string> &table) {
    if (tag == TStrRef) {
        uint64_t idx = r.varint("string reference");
        if (idx >= table.size())
            fail(ErrorCode::Decode, "string reference out of range");
        return table[idx];
    }
    if (tag == TStr)
        return checkedUtf8(r.str("string"));
    if (tag >= TShortStr && tag < TShortStr + 0x40) {
        size_t n = tag - TShortStr;
        std::string s(n, '\0');
        r.raw(s.data(), n, "string");
        return checkedUtf8(std::move(s));
    }
    fail(ErrorCode::Decode, "expected a string, found tag " + std::to_string(tag));
}

} // namespace

void validateValue(const Value &v, const std::string &path) { validateAt(v, path, nullptr, 0); }

bool isValidUtf8(const char *s, size_t n) {
    const auto *p = reinterpret_cast<const unsigned char *>(s);
    size_t i = 0;
    while (i < n) {
        // ASCII eight bytes at a time (most text is), then one character at a time.
        while (n - i >= 8) {
            uint64_t word;
            std::memcpy(&word, p + i, 8);
            if (word & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

int typeRank(const Value &v) {
    switch (v.type()) {
    case Value::value_t::null:
        return 0;
    case Value::value_t::boolean:
        return 1;
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
    case Value::value_t::number_float:
        return 2;
    case Value::value_t::string:
        return 3;
    case Value::value_t::array:
        return 4;
    case Value::value_t::object:
        return 5;
    default:
        return 6;
    }
}

int compareValues(const Value &a, const Value &b) {
    int ra = typeRank(a), rb = typeRank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 0:
        return 0;
    case 1:
        return static_cast<int>(a.get<bool>()) - static_cast<int>(b.get<bool>());
    case 2:
        return a < b ? -1 : (b < a ? 1 : 0); // nlohmann compares int/uint/float numerically
    case 3: {
        const auto &sa = a.get_ref<const std::string &>();
        const auto &sb = b.get_ref<const std::string &>();
        int c = sa.compare(sb);
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case 4: {
        size_t n = std::min(a.size(), b.size());
        for (size_t i = 0; i < n; ++i)
            if (int c = compareValues(a[i], b[i]))
                return c;
        return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
    }
    case 5: {
        auto ia = a.begin(), ib = b.begin(); // nlohmann::json objects iterate in key order
        for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
            int c = ia.key().compare(ib.key());
            if (c)
                return c < 0 ? -1 : 1;
            if (int cv = compareValues(ia.value(), ib.value()))
                return cv;
        }
        if (ia == a.end() && ib == b.end())
            return 0;
        return ia == a.end() ? -1 : 1;
    }
    default:
        return 0;
    }
}

size_t approxValueSize(const Value &v) {
    switch (v.type()) {
    case Value::value_t::string:
        return v.get_ref<const std::string &>().size() + 2;
    case Value::value_t::array: {
        size_t n = 2;
        for (const auto &x : v)
            n += approxValueSize(x);
        return n;
    }
    case Value::value_t::object: {
        size_t n = 2;
        for (auto it = v.begin(); it != v.end(); ++it)
            n += it.key().size() + 2 + approxValueSize(it.value());
        return n;
    }
    case Value::value_t::number_float:
        return 9;
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
        return 5;
    default:
        return 1;
    }
}

void hashValue(Fnv64 &h, const Value &v) { Cell::of(v).hash(h); } // one set of hashing rules: the cell's

void StringTable::countValue(const Value &v) {
    switch (v.type()) {
    case Value::value_t::string:
        count(v.get_ref<const std::string &>());
        break;
    case Value::value_t::array:
        for (const auto &x : v)
            countValue(x);
        break;
    case Value::value_t::object:
        for (auto it = v.begin(); it != v.end(); ++it) {
            count(it.key());
            countValue(it.value());
        }
        break;
    default:
        break;
    }
}

uint32_t StringTable::hashOf(std::string_view s) {
    Fnv64 h; // strings here are at most kMaxLength bytes
    h.add(s.data(), s.size());
    return static_cast<uint32_t>(h.h ^ (h.h >> 32));
}

void StringTable::grow() {
    std::vector<Slot> old;
    old.swap(m_slots);
    m_slots.resize(old.empty() ? 64 : old.size() * 2);
    const size_t mask = m_slots.size() - 1;
    for (const Slot &o : old)
        if (o.n) {
            size_t i = o.hash & mask;
            while (m_slots[i].n)
                i = (i + 1) & mask;
            m_slots[i] = o;
        }
}

StringTable::Slot &StringTable::slot(std::string_view s) {
    if ((m_used + 1) * 2 > m_slots.size())
        grow();
    const uint32_t h = hashOf(s);
    const size_t mask = m_slots.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        Slot &e = m_slots[i];
        if (!e.n) {
            e.p = s.data();
            e.n = static_cast<uint32_t>(s.size());
            e.hash = h;
            ++m_used;
            return e;
        }
        if (e.hash == h && e.n == s.size() && std::memcmp(e.p, s.data(), s.size()) == 0)
            return e;
    }
}

void StringTable::build() {
    std::vector<std::pair<uint32_t, std::string_view>> repeated;
    for (const Slot &e : m_slots)
        if (e.n && e.count >= 2)
            repeated.push_back({e.count, std::string_view(e.p, e.n)});
    // Most used first, so the common strings get one-byte indexes; ties by text for determinism.
    std::sort(repeated.begin(), repeated.end(), [](const auto &a, const auto &b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    m_strings.reserve(repeated.size()); // no reallocation: the slots view these strings
    for (auto &[n, s] : repeated)
        m_strings.emplace_back(s);
    // From here on the slots hold only the indexed strings, viewing the table's own copies (the
    // counted views may not outlive build()).
    m_slots.clear();
    m_used = 0;
    for (size_t k = 0; k < m_strings.size(); ++k)
        slot(m_strings[k]).index = static_cast<int32_t>(k);
}

int64_t StringTable::find(std::string_view s) const {
    if (m_strings.empty() || s.size() < 2 || s.size() > kMaxLength)
        return -1;
    const uint32_t h = hashOf(s);
    const size_t mask = m_slots.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot &e = m_slots[i];
        if (!e.n)
            return -1;
        if (e.hash == h && e.n == s.size() && std::memcmp(e.p, s.data(), s.size()) == 0)
            return e.index;
    }
}

void writeValue(Writer &w, const Value &v, const StringTable &table) {
    switch (v.type()) {
    case Value::value_t::null:
        w.u8(TNull);
        break;
    case Value::value_t::boolean:
        w.u8(v.get<bool>() ? TTrue : TFalse);
        break;
    case Value::value_t::number_integer:
        writeInt(w, v.get<int64_t>());
        break;
    case Value::value_t::number_unsigned:
        writeUint(w, v.get<uint64_t>());
        break;
    case Value::value_t::number_float:
        writeDouble(w, v.get<double>()); // canonical, as cells are (hashValue's rule)
        break;
    case Value::value_t::string:
        writeString(w, v.get_ref<const std::string &>(), table);
        break;
    case Value::value_t::array:
        w.u8(TArray);
        w.varint(v.size());
        for (const auto &x : v)
            writeValue(w, x, table);
        break;
    case Value::value_t::object:
        w.u8(TObject);
        w.varint(v.size());
        for (auto it = v.begin(); it != v.end(); ++it) {
            writeString(w, it.key(), table);
            writeValue(w, it.value(), table);
        }
        break;
    default:
        fail(ErrorCode::InvalidArgument, "cannot encode a non-JSON value");
    }
}

Value readValue(Reader &r, const std::vector<std::string> &table, int depth) {
    if (depth > kMaxValueDepth)
        fail(ErrorCode::Decode, "value nests too deep");
    uint8_t tag = r.u8("value tag");
    switch (tag) {
    case TNull:
        return Value();
    case TFalse:
        return Value(false);
    case TTrue:
        return Value(true);
    case TInt:
        return Value(r.svarint("integer"));
    case TUint: {
        uint64_t u = r.varint("integer");
        if (u <= static_cast<uint64_t>(INT64_MAX))
            fail(ErrorCode::Decode, "non-canonical unsigned integer");
        return Value(u);
    }
    case TDouble: {
        double d = r.f64("number");
        if (!std::isfinite(d))
            fail(ErrorCode::Decode, "number is NaN or Infinity");
        return Value(d);
    }
    case TArray: {
        size_t n = r.count("array items");
        Value a = Value::array();
        a.get_ref<Value::array_t &>().reserve(n);
        for (size_t i = 0; i < n; ++i)
            a.push_back(readValue(r, table, depth + 1));
        return a;
    }
    case TObject: {
        size_t n = r.count("object members", 2);
        Value o = Value::object();
        for (size_t i = 0; i < n; ++i) {
            std::string key = readString(r, r.u8("object key"), table);
            Value item = readValue(r, table, depth + 1);
            if (o.contains(key))
                fail(ErrorCode::Decode, "duplicate object key '" + key + "'");
            o[std::move(key)] = std::move(item);
        }
        return o;
    }
    default:
        if (tag >= TSmallInt && tag < TSmallInt + kSmallIntCount)
            return Value(static_cast<int64_t>(tag - TSmallInt));
        if (tag == TStr || tag == TStrRef || (tag >= TShortStr && tag < TShortStr + 0x40))
            return Value(readString(r, tag, table));
        fail(ErrorCode::Decode, "unknown value tag " + std::to_string(tag));
    }
}

} // namespace syncore
