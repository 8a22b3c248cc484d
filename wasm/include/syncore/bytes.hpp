#pragma once
// Byte buffers: a writer and a bounds-checked reader with LEB128 varints and zigzag. Every read checks
// the remaining length first, so no decoder built on Reader can read out of bounds; a malformed input
// throws Error(Decode) naming what was being read.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "syncore/error.hpp"

namespace syncore {

using Bytes = std::vector<uint8_t>;

inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

class Writer {
  public:
    Bytes &bytes() { return m_buf; }
    const Bytes &bytes() const { return m_buf; }
    size_t size() const { return m_buf.size(); }

    void u8(uint8_t v) { m_buf.push_back(v); }
    void varint(uint64_t v) {
        while (v >= 0x80) {
            m_buf.push_back(static_cast<uint8_t>(v | 0x80));
            v >>= 7;
        }
        m_buf.push_back(static_cast<uint8_t>(v));
    }
    void svarint(int64_t v) { varint(zigzag(v)); }
    void u32le(uint32_t v) {
        for (int i = 0; i < 4; ++i)
            m_buf.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    void u64le(uint64_t v) {
        for (int i = 0; i < 8; ++i)
            m_buf.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    void f64(double d) {
        uint64_t v;
        std::memcpy(&v, &d, 8);
        u64le(v);
    }
    void raw(const void *p, size_t n) {
        auto b = static_cast<const uint8_t *>(p);
        m_buf.insert(m_buf.end(), b, b + n);
    }
    void str(const std::string &s) {
        varint(s.size());
        raw(s.data(), s.size());
    }
    void blob(const Bytes &b) {
        varint(b.size());
        raw(b.data(), b.size());
    }

  private:
    Bytes m_buf;
};

class Reader {
  public:
    Reader(const uint8_t *data, size_t size) : m_p(data), m_end(data + size) {}
    explicit Reader(const Bytes &b) : Reader(b.data(), b.size()) {}

    size_t remaining() const { return static_cast<size_t>(m_end - m_p); }
    bool done() const { return m_p == m_end; }
    const uint8_t *pos() const { return m_p; }
    const uint8_t *end() const { return m_end; }

    uint8_t u8(const char *what) {
        need(1, what);
        return *m_p++;
    }
    uint64_t varint(const char *what) {
        if (m_p != m_end && *m_p < 0x80) // one byte: most values of every format here
            return *m_p++;
        return varintLong(what);
    }
    int64_t svarint(const char *what) { return unzigzag(varint(what)); }
    uint32_t u32le(const char *what) {
        need(4, what);
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i)
            v |= static_cast<uint32_t>(m_p[i]) << (8 * i);
        m_p += 4;
        return v;
    }
    uint64_t u64le(const char *what) {
        need(8, what);
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i)
            v |= static_cast<uint64_t>(m_p[i]) << (8 * i);
        m_p += 8;
        return v;
    }
    double f64(const char *what) {
        uint64_t v = u64le(what);
        double d;
        std::memcpy(&d, &v, 8);
        return d;
    }
    /** A count of items that each take at least `minItemBytes` of the remaining input: bounds allocations. */
    size_t count(const char *what, size_t minItemBytes = 1) {
        uint64_t n = varint(what);
        if (minItemBytes > 0 && n > remaining() / minItemBytes)
            fail(ErrorCode::Decode, std::string("count of ") + what + " exceeds the input size");
        return static_cast<size_t>(n);
    }
    /** A count that need not be backed by input bytes (e.g. run lengths), capped by `max`. */
    size_t bounded(const char *what, uint64_t max) {
        uint64_t n = varint(what);
        if (n > max)
            fail(ErrorCode::Decode, std::string(what) + " out of range");
        return static_cast<size_t>(n);
    }
    void raw(void *out, size_t n, const char *what) {
        need(n, what);
        std::memcpy(out, m_p, n);
        m_p += n;
    }
    std::string str(const char *what) {
        size_t n = count(what);
        std::string s(reinterpret_cast<const char *>(m_p), n);
        m_p += n;
        return s;
    }
    Reader sub(size_t n, const char *what) {
        need(n, what);
        Reader r(m_p, n);
        m_p += n;
        return r;
    }
    void skip(size_t n, const char *what) {
        need(n, what);
        m_p += n;
    }

  private:
    // The checks stay small enough to inline; building an error message does not (bytes.cpp).
    void need(size_t n, const char *what) const {
        if (remaining() < n)
            truncated(what);
    }
    [[noreturn]] static void truncated(const char *what);
    uint64_t varintLong(const char *what);
    const uint8_t *m_p;
    const uint8_t *m_end;
};

uint32_t crc32(const uint8_t *data, size_t size, uint32_t crc = 0);
inline uint32_t crc32(const Bytes &b) { return crc32(b.data(), b.size()); }

/** 64-bit FNV-1a, used for state hashes and stable ids (not for security). */
struct Fnv64 {
    uint64_t h = 0xcbf29ce484222325ull;
    void add(const void *p, size_t n) {
        auto b = static_cast<const uint8_t *>(p);
        for (size_t i = 0; i < n; ++i) {
            h ^= b[i];
            h *= 0x100000001b3ull;
        }
    }
    /** Length, then bytes (so "ab"+"c" and "a"+"bc" differ). */
    void add(std::string_view s) {
        add64(s.size());
        add(s.data(), s.size());
    }
    void add64(uint64_t v) { add(&v, 8); }
};

} // namespace syncore
