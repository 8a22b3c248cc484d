#include "syncore/cell.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "pool.hpp"
#include "syncore/error.hpp"
#include "value_format.hpp"

namespace syncore {

namespace {

// A string in canonical bytes (always inline: canonical encodings have no table).
std::string_view readText(Reader &r, uint8_t tag) {
    size_t n;
    if (tag == TStr)
        n = r.count("string");
    else if (tag >= TShortStr && tag < TShortStr + 0x40)
        n = tag - TShortStr;
    else
        fail(ErrorCode::Decode, "expected a string, found tag " + std::to_string(tag));
    const uint8_t *p = r.pos();
    r.skip(n, "string");
    return std::string_view(reinterpret_cast<const char *>(p), n);
}

// A string on the wire: inline or from the table; validated.
std::string_view readWireText(Reader &r, uint8_t tag, const std::vector<std::string> &table) {
    if (tag == TStrRef) {
        uint64_t idx = r.varint("string reference");
        if (idx >= table.size())
            fail(ErrorCode::Decode, "string reference out of range");
        return table[idx]; // the decoder validated the table's strings
    }
    std::string_view s = readText(r, tag);
    if (!isValidUtf8(s.data(), s.size()))
        fail(ErrorCode::Decode, "string is not valid UTF-8");
    return s;
}

bool isStringTag(uint8_t tag) { return tag == TStr || tag == TStrRef || (tag >= TShortStr && tag < TShortStr + 0x40); }

// Wire value -> canonical bytes. Sets *unsorted if an object's keys are out of byte order (the caller
// then re-sorts through a JSON tree; our own encoder never produces that).
void transcode(Reader &r, Writer &w, const std::vector<std::string> &table, int depth, bool *unsorted) {
    if (depth > kMaxValueDepth)
        fail(ErrorCode::Decode, "value nests too deep");
    uint8_t tag = r.u8("value tag");
    switch (tag) {
    case TNull:
    case TFalse:
    case TTrue:
        w.u8(tag);
        return;
    case TInt:
        writeInt(w, r.svarint("integer"));
        return;
    case TUint: {
        uint64_t u = r.varint("integer");
        if (u <= static_cast<uint64_t>(INT64_MAX))
            fail(ErrorCode::Decode, "non-canonical unsigned integer");
        writeUint(w, u);
        return;
    }
    case TDouble: {
        double d = r.f64("number");
        if (!std::isfinite(d))
            fail(ErrorCode::Decode, "number is NaN or Infinity");
        writeDouble(w, d);
        return;
    }
    case TArray: {
        size_t n = r.count("array items");
        w.u8(TArray);
        w.varint(n);
        for (size_t i = 0; i < n; ++i)
            transcode(r, w, table, depth + 1, unsorted);
        return;
    }
    case TObject: {
        size_t n = r.count("object members", 2);
        w.u8(TObject);
        w.varint(n);
        size_t prevAt = 0, prevLen = 0;
        for (size_t i = 0; i < n; ++i) {
            std::string_view key = readWireText(r, r.u8("object key"), table);
            if (i > 0) {
                std::string_view prev(reinterpret_cast<const char *>(w.bytes().data()) + prevAt, prevLen);
                int c = prev.compare(key);
                if (c == 0)
                    fail(ErrorCode::Decode, "duplicate object key '" + std::string(key) + "'");
                if (c > 0)
                    *unsorted = true;
            }
            writeString(w, key, noStringTable());
            prevAt = w.bytes().size() - key.size();
            prevLen = key.size();
            transcode(r, w, table, depth + 1, unsorted);
        }
        return;
    }
    default:
        if (tag >= TSmallInt && tag < TSmallInt + kSmallIntCount) {
            w.u8(tag);
            return;
        }
        if (isStringTag(tag)) {
            writeString(w, readWireText(r, tag, table), noStringTable());
            return;
        }
        fail(ErrorCode::Decode, "unknown value tag " + std::to_string(tag));
    }
}

// ---- walks over canonical bytes (trusted: we wrote them)

int64_t readInt(Reader &r, uint8_t tag) {
    if (tag == TInt)
        return r.svarint("integer");
    return static_cast<int64_t>(tag - TSmallInt);
}

void hashCanon(Reader &r, Fnv64 &h) {
    uint8_t tag = r.u8("value tag");
    switch (tag) {
    case TNull:
        h.add64(0xA0);
        return;
    case TFalse:
        h.add64(0xA1);
        return;
    case TTrue:
        h.add64(0xA2);
        return;
    case TUint:
        h.add64(0xA3);
        h.add64(r.varint("integer"));
        h.add64(1);
        return;
    case TDouble: {
        double d = r.f64("number");
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        h.add64(0xA3);
        h.add64(bits);
        h.add64(2);
        return;
    }
    case TArray: {
        size_t n = r.count("array items");
        h.add64(0xA5);
        h.add64(n);
        for (size_t i = 0; i < n; ++i)
            hashCanon(r, h);
        return;
    }
    case TObject: {
        size_t n = r.count("object members", 2);
        h.add64(0xA6);
        h.add64(n);
        for (size_t i = 0; i < n; ++i) {
            std::string_view k = readText(r, r.u8("object key"));
            h.add(k);
            hashCanon(r, h);
        }
        return;
    }
    default:
        if (tag == TInt || (tag >= TSmallInt && tag < TSmallInt + kSmallIntCount)) {
            h.add64(0xA3);
            h.add64(static_cast<uint64_t>(readInt(r, tag)));
            return;
        }
        std::string_view s = readText(r, tag);
        h.add64(0xA4);
        h.add(s);
    }
}

// Walks canonical bytes in order: every string (a value or an object key) goes to onString(view), all
// other bytes (tags, counts, numbers) to onBytes(pointer, length).
template <typename OnString, typename OnBytes> void walkCanon(Reader &r, OnString &&onString, OnBytes &&onBytes) {
    const uint8_t *start = r.pos();
    uint8_t tag = r.u8("value tag");
    switch (tag) {
    case TArray: {
        size_t n = r.count("array items");
        onBytes(start, static_cast<size_t>(r.pos() - start));
        for (size_t i = 0; i < n; ++i)
            walkCanon(r, onString, onBytes);
        return;
    }
    case TObject: {
        size_t n = r.count("object members", 2);
        onBytes(start, static_cast<size_t>(r.pos() - start));
        for (size_t i = 0; i < n; ++i) {
            onString(readText(r, r.u8("object key")));
            walkCanon(r, onString, onBytes);
        }
        return;
    }
    case TInt:
        r.svarint("integer");
        break;
    case TUint:
        r.varint("integer");
        break;
    case TDouble:
        r.f64("number");
        break;
    default:
        if (isStringTag(tag)) {
            onString(readText(r, tag));
            return;
        }
        break; // null, booleans, small integers: the tag alone
    }
    onBytes(start, static_cast<size_t>(r.pos() - start));
}

Reader readerOf(std::string_view b) { return Reader(reinterpret_cast<const uint8_t *>(b.data()), b.size()); }

} // namespace

// ---------------------------------------------------------------------------------------------------
// Lifetime

void Cell::release() noexcept {
    if ((m_kind == Kind::Str || m_kind == Kind::Packed) && m_n > kInline)
        pool::release(m_v.p, m_n);
    m_kind = Kind::Null;
    m_n = 0;
    m_v.i = 0;
}

void Cell::setBytes(Kind k, const char *p, size_t n) {
    if (n > UINT32_MAX)
        fail(ErrorCode::LimitExceeded, "value larger than 4 GiB");
    release();
    if (n > kInline) {
        char *mem = static_cast<char *>(pool::acquire(n));
        std::memcpy(mem, p, n);
        m_v.p = mem;
    } else if (n > 0) {
        std::memcpy(m_v.inl, p, n);
    }
    m_n = static_cast<uint32_t>(n);
    m_kind = k;
}

Cell::Cell(const Cell &o) {
    m_v.i = 0;
    if ((o.m_kind == Kind::Str || o.m_kind == Kind::Packed) && o.m_n > kInline) {
        setBytes(o.m_kind, o.m_v.p, o.m_n);
    } else {
        m_v = o.m_v;
        m_n = o.m_n;
        m_kind = o.m_kind;
    }
}

Cell &Cell::operator=(const Cell &o) {
    if (this != &o) {
        Cell copy(o);
        *this = std::move(copy);
    }
    return *this;
}

// ---------------------------------------------------------------------------------------------------
// Building

Cell Cell::ofNumber(double d) {
    Cell c;
    if (integralDouble(d)) {
        c.m_kind = Kind::Int;
        c.m_v.i = static_cast<int64_t>(d);
    } else {
        c.m_kind = Kind::Double;
        c.m_v.d = d;
    }
    return c;
}

Cell Cell::ofString(std::string_view s) {
    Cell c;
    c.setBytes(Kind::Str, s.data(), s.size());
    return c;
}

Cell Cell::of(const Value &v) {
    Cell c;
    switch (v.type()) {
    case Value::value_t::null:
        break;
    case Value::value_t::boolean:
        c.m_kind = v.get<bool>() ? Kind::True : Kind::False;
        break;
    case Value::value_t::number_integer:
        c.m_kind = Kind::Int;
        c.m_v.i = v.get<int64_t>();
        break;
    case Value::value_t::number_unsigned: {
        uint64_t u = v.get<uint64_t>();
        if (u <= static_cast<uint64_t>(INT64_MAX)) {
            c.m_kind = Kind::Int;
            c.m_v.i = static_cast<int64_t>(u);
        } else {
            c.m_kind = Kind::Uint;
            c.m_v.u = u;
        }
        break;
    }
    case Value::value_t::number_float:
        return ofNumber(v.get<double>());
    case Value::value_t::string: {
        const auto &s = v.get_ref<const std::string &>();
        c.setBytes(Kind::Str, s.data(), s.size());
        break;
    }
    case Value::value_t::array:
    case Value::value_t::object: {
        // One scratch buffer per thread, so encoding a small array does not regrow a vector each time.
        static thread_local Writer scratch;
        scratch.bytes().clear();
        writeValue(scratch, v, noStringTable()); // canonical, as every writer is
        c.setBytes(Kind::Packed, reinterpret_cast<const char *>(scratch.bytes().data()), scratch.bytes().size());
        if (scratch.bytes().capacity() > (1u << 20))
            Bytes().swap(scratch.bytes()); // do not keep a huge document's buffer alive
        break;
    }
    default:
        fail(ErrorCode::InvalidArgument, "cannot store a non-JSON value");
    }
    return c;
}

Cell Cell::ofChecked(const Value &v, const std::string &path) {
    switch (v.type()) {
    case Value::value_t::null:
    case Value::value_t::boolean:
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
        return of(v);
    case Value::value_t::number_float:
        if (std::isfinite(v.get<double>()))
            return of(v);
        break;
    case Value::value_t::string: {
        const auto &s = v.get_ref<const std::string &>();
        if (isValidUtf8(s))
            return ofString(s);
        break;
    }
    default:
        break;
    }
    validateValue(v, path); // throws naming the problem, or the value (an array or object) is fine
    return of(v);
}

Cell Cell::read(Reader &r, const std::vector<std::string> &table) {
    const uint8_t *start = r.pos();
    uint8_t tag = r.u8("value tag");
    Cell c;
    switch (tag) {
    case TNull:
        return c;
    case TFalse:
        c.m_kind = Kind::False;
        return c;
    case TTrue:
        c.m_kind = Kind::True;
        return c;
    case TInt:
        c.m_kind = Kind::Int;
        c.m_v.i = r.svarint("integer");
        return c;
    case TUint: {
        uint64_t u = r.varint("integer");
        if (u <= static_cast<uint64_t>(INT64_MAX))
            fail(ErrorCode::Decode, "non-canonical unsigned integer");
        c.m_kind = Kind::Uint;
        c.m_v.u = u;
        return c;
    }
    case TDouble: {
        double d = r.f64("number");
        if (!std::isfinite(d))
            fail(ErrorCode::Decode, "number is NaN or Infinity");
        return ofNumber(d);
    }
    case TArray:
    case TObject: {
        Reader again(start, static_cast<size_t>(r.end() - start));
        static thread_local Writer scratch; // reused: decoding a state reads one small array per document
        Writer &w = scratch;
        w.bytes().clear();
        bool unsorted = false;
        transcode(again, w, table, 0, &unsorted);
        r.skip(static_cast<size_t>(again.pos() - r.pos()), "value");
        if (unsorted) { // keys out of order: let a JSON tree sort them
            Reader back(w.bytes().data(), w.bytes().size());
            Value v = readValue(back, {});
            return of(v); // (of() reuses its own scratch buffer, not this one)
        }
        c.setBytes(Kind::Packed, reinterpret_cast<const char *>(w.bytes().data()), w.bytes().size());
        if (w.bytes().capacity() > (1u << 20))
            Bytes().swap(w.bytes());
        return c;
    }
    default:
        if (tag >= TSmallInt && tag < TSmallInt + kSmallIntCount) {
            c.m_kind = Kind::Int;
            c.m_v.i = tag - TSmallInt;
            return c;
        }
        if (isStringTag(tag)) {
            std::string_view s = readWireText(r, tag, table);
            c.setBytes(Kind::Str, s.data(), s.size());
            return c;
        }
        fail(ErrorCode::Decode, "unknown value tag " + std::to_string(tag));
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading

double Cell::number() const {
    switch (m_kind) {
    case Kind::Int:
        return static_cast<double>(m_v.i);
    case Kind::Uint:
        return static_cast<double>(m_v.u);
    case Kind::Double:
        return m_v.d;
    default:
        fail(ErrorCode::Internal, "Cell::number() of a non-number");
    }
}

Value Cell::toValue() const {
    switch (m_kind) {
    case Kind::Null:
        return Value();
    case Kind::False:
        return Value(false);
    case Kind::True:
        return Value(true);
    case Kind::Int:
        return Value(m_v.i);
    case Kind::Uint:
        return Value(m_v.u);
    case Kind::Double:
        return Value(m_v.d);
    case Kind::Str:
        return Value(std::string(bytes()));
    case Kind::Packed: {
        Reader r = readerOf(bytes());
        return readValue(r, {});
    }
    }
    return Value();
}

int Cell::typeRank() const {
    switch (m_kind) {
    case Kind::Null:
        return 0;
    case Kind::False:
    case Kind::True:
        return 1;
    case Kind::Int:
    case Kind::Uint:
    case Kind::Double:
        return 2;
    case Kind::Str:
        return 3;
    case Kind::Packed:
        return bytes()[0] == static_cast<char>(TArray) ? 4 : 5;
    }
    return 0;
}

const char *Cell::typeName() const {
    switch (m_kind) {
    case Kind::Null:
        return "null";
    case Kind::False:
    case Kind::True:
        return "boolean";
    case Kind::Int:
    case Kind::Uint:
    case Kind::Double:
        return "number";
    case Kind::Str:
        return "string";
    case Kind::Packed:
        return bytes()[0] == static_cast<char>(TArray) ? "array" : "object";
    }
    return "null";
}

bool operator==(const Cell &a, const Cell &b) {
    if (a.m_kind != b.m_kind)
        return false;
    switch (a.m_kind) {
    case Cell::Kind::Null:
    case Cell::Kind::False:
    case Cell::Kind::True:
        return true;
    case Cell::Kind::Int:
        return a.m_v.i == b.m_v.i;
    case Cell::Kind::Uint:
        return a.m_v.u == b.m_v.u;
    case Cell::Kind::Double:
        return a.m_v.d == b.m_v.d;
    case Cell::Kind::Str:
    case Cell::Kind::Packed:
        return a.bytes() == b.bytes();
    }
    return false;
}

int Cell::compare(const Value &v) const {
    int ra = typeRank(), rb = syncore::typeRank(v);
    if (m_kind == Kind::Packed && ra == rb)
        return compareValues(toValue(), v);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 1:
        return static_cast<int>(m_kind == Kind::True) - static_cast<int>(v.get<bool>());
    case 2: {
        if (m_kind == Kind::Int && v.is_number_integer()) {
            int64_t x = m_v.i, y = v.get<int64_t>();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        double x = number(), y = v.get<double>();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    case 3: {
        int c = bytes().compare(v.get_ref<const std::string &>());
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    default:
        return 0;
    }
}

void Cell::hash(Fnv64 &h) const {
    switch (m_kind) {
    case Kind::Null:
        h.add64(0xA0);
        return;
    case Kind::False:
        h.add64(0xA1);
        return;
    case Kind::True:
        h.add64(0xA2);
        return;
    case Kind::Int:
        h.add64(0xA3);
        h.add64(static_cast<uint64_t>(m_v.i));
        return;
    case Kind::Uint:
        h.add64(0xA3);
        h.add64(m_v.u);
        h.add64(1);
        return;
    case Kind::Double: {
        uint64_t bits;
        std::memcpy(&bits, &m_v.d, 8);
        h.add64(0xA3);
        h.add64(bits);
        h.add64(2);
        return;
    }
    case Kind::Str: {
        std::string_view s = bytes();
        h.add64(0xA4);
        h.add(s);
        return;
    }
    case Kind::Packed: {
        Reader r = readerOf(bytes());
        hashCanon(r, h);
        return;
    }
    }
}

size_t Cell::approxSize() const {
    switch (m_kind) {
    case Kind::Double:
        return 9;
    case Kind::Int:
    case Kind::Uint:
        return 5;
    case Kind::Str:
    case Kind::Packed:
        return m_n + 2;
    default:
        return 1;
    }
}

void Cell::write(Writer &w, const StringTable &table) const {
    switch (m_kind) {
    case Kind::Null:
        w.u8(TNull);
        return;
    case Kind::False:
        w.u8(TFalse);
        return;
    case Kind::True:
        w.u8(TTrue);
        return;
    case Kind::Int:
        writeInt(w, m_v.i);
        return;
    case Kind::Uint:
        writeUint(w, m_v.u);
        return;
    case Kind::Double:
        w.u8(TDouble);
        w.f64(m_v.d);
        return;
    case Kind::Str:
        writeString(w, bytes(), table);
        return;
    case Kind::Packed:
        writePacked(w, bytes(), table);
        return;
    }
}

void Cell::countStrings(StringTable &table) const {
    if (m_kind == Kind::Str)
        table.count(bytes());
    else if (m_kind == Kind::Packed)
        countPackedStrings(bytes(), table, 1);
}

void Cell::countPackedStrings(std::string_view packed, StringTable &table, uint32_t times) {
    Reader r = readerOf(packed);
    walkCanon(
        r, [&](std::string_view str) { table.count(str, times); }, [](const uint8_t *, size_t) {});
}

void Cell::writePacked(Writer &w, std::string_view packed, const StringTable &table) {
    if (table.empty()) {
        w.raw(packed.data(), packed.size());
        return;
    }
    Reader r = readerOf(packed); // strings the table holds become references
    walkCanon(
        r, [&](std::string_view str) { writeString(w, str, table); }, [&](const uint8_t *p, size_t n) { w.raw(p, n); });
}

} // namespace syncore
