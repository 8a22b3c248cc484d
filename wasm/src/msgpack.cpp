#include "syncore/msgpack.hpp"

#include <cstring>
#include <limits>
#include <vector>

namespace syncore {

namespace {

void be(Bytes &out, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

/** A length header: the fix form (fixBase | n) when there is one and n fits, else the smallest of the
 *  8/16/32-bit length forms (tag8 0: no 8-bit form). */
void header(Bytes &out, size_t n, uint8_t fixBase, size_t fixMax, uint8_t tag8, uint8_t tag16, uint8_t tag32) {
    if (fixBase && n <= fixMax)
        out.push_back(static_cast<uint8_t>(fixBase | n));
    else if (tag8 && n <= 0xff)
        out.push_back(tag8), be(out, n, 1);
    else if (n <= 0xffff)
        out.push_back(tag16), be(out, n, 2);
    else
        out.push_back(tag32), be(out, n, 4);
}

void unsignedInt(Bytes &out, uint64_t u) {
    if (u < 128)
        out.push_back(static_cast<uint8_t>(u));
    else if (u <= 0xff)
        out.push_back(0xcc), be(out, u, 1);
    else if (u <= 0xffff)
        out.push_back(0xcd), be(out, u, 2);
    else if (u <= 0xffffffff)
        out.push_back(0xce), be(out, u, 4);
    else
        out.push_back(0xcf), be(out, u, 8);
}

void string(Bytes &out, const std::string &s) {
    header(out, s.size(), 0xa0, 31, 0xd9, 0xda, 0xdb);
    out.insert(out.end(), s.begin(), s.end());
}

void write(Bytes &out, const Value &v) {
    switch (v.type()) {
    case Value::value_t::null:
        out.push_back(0xc0);
        break;
    case Value::value_t::boolean:
        out.push_back(v.get<bool>() ? 0xc3 : 0xc2);
        break;
    case Value::value_t::number_integer: {
        int64_t i = v.get<int64_t>();
        if (i >= 0)
            unsignedInt(out, static_cast<uint64_t>(i));
        else if (i >= -32)
            out.push_back(static_cast<uint8_t>(i));
        else if (i >= INT8_MIN)
            out.push_back(0xd0), be(out, static_cast<uint64_t>(i), 1);
        else if (i >= INT16_MIN)
            out.push_back(0xd1), be(out, static_cast<uint64_t>(i), 2);
        else if (i >= INT32_MIN)
            out.push_back(0xd2), be(out, static_cast<uint64_t>(i), 4);
        else
            out.push_back(0xd3), be(out, static_cast<uint64_t>(i), 8);
        break;
    }
    case Value::value_t::number_unsigned:
        unsignedInt(out, v.get<uint64_t>());
        break;
    case Value::value_t::number_float: {
        double d = v.get<double>();
        if (d >= static_cast<double>(std::numeric_limits<float>::lowest()) &&
            d <= static_cast<double>(std::numeric_limits<float>::max()) &&
            static_cast<double>(static_cast<float>(d)) == d) {
            float f = static_cast<float>(d);
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            out.push_back(0xca), be(out, bits, 4);
        } else {
            uint64_t bits;
            std::memcpy(&bits, &d, 8);
            out.push_back(0xcb), be(out, bits, 8);
        }
        break;
    }
    case Value::value_t::string:
        string(out, v.get_ref<const std::string &>());
        break;
    case Value::value_t::array:
        header(out, v.size(), 0x90, 15, 0, 0xdc, 0xdd);
        for (const auto &x : v)
            write(out, x);
        break;
    case Value::value_t::object:
        header(out, v.size(), 0x80, 15, 0, 0xde, 0xdf);
        for (auto it = v.begin(); it != v.end(); ++it) {
            string(out, it.key());
            write(out, it.value());
        }
        break;
    case Value::value_t::binary: {
        const auto &b = v.get_binary();
        size_t n = b.size();
        if (!b.has_subtype())
            header(out, n, 0, 0, 0xc4, 0xc5, 0xc6);
        else if (n == 1 || n == 2 || n == 4 || n == 8 || n == 16) // fixext 1..16
            out.push_back(static_cast<uint8_t>(n == 1 ? 0xd4 : n == 2 ? 0xd5 : n == 4 ? 0xd6 : n == 8 ? 0xd7 : 0xd8));
        else
            header(out, n, 0, 0, 0xc7, 0xc8, 0xc9);
        if (b.has_subtype())
            out.push_back(static_cast<uint8_t>(b.subtype()));
        out.insert(out.end(), b.begin(), b.end());
        break;
    }
    default: // discarded: nothing
        break;
    }
}

} // namespace

Bytes toMsgpack(const Value &v) {
    Bytes out;
    write(out, v);
    return out;
}

Value fromMsgpack(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    auto has = [&](uint64_t n) { return static_cast<uint64_t>(end - p) >= n; };
    auto num = [&](int n) {
        uint64_t v = 0;
        for (int i = 0; i < n; ++i)
            v = (v << 8) | *p++;
        return v;
    };
    struct Open {
        Value *container;
        uint64_t left; // items (map: members) still to read
    };
    std::vector<Open> stack;
    Value root;
    Value *slot = &root; // where the next value goes
    const auto bad = Value::value_t::discarded;
    for (;;) {
        // the slot for the next item: the root, an array's new element, or a map member named by its key
        if (!stack.empty()) {
            Open &o = stack.back();
            if (o.container->is_array()) {
                o.container->push_back(nullptr);
                slot = &o.container->back();
            } else {
                if (!has(1))
                    return bad;
                uint8_t k = *p++;
                uint64_t n;
                if (k >= 0xa0 && k <= 0xbf)
                    n = k & 0x1f;
                else if (k >= 0xd9 && k <= 0xdb && has(1u << (k - 0xd9)))
                    n = num(1 << (k - 0xd9));
                else
                    return bad; // not a string key (or truncated)
                if (!has(n))
                    return bad;
                slot = &(*o.container)[std::string(reinterpret_cast<const char *>(p), n)];
                p += n;
                *slot = nullptr; // a repeated key: the later value replaces the earlier
            }
            --o.left;
        }
        if (!has(1))
            return bad;
        uint8_t b = *p++;
        uint64_t n = 0; // a length, or a count of items
        int kind = 0;   // 1 string, 2 binary, 3 ext (binary with a subtype), 4 array, 5 map
        if (b <= 0x7f) {
            *slot = static_cast<uint64_t>(b);
        } else if (b >= 0xe0) {
            *slot = static_cast<int64_t>(static_cast<int8_t>(b));
        } else if (b <= 0x8f) {
            kind = 5, n = b & 0x0f;
        } else if (b <= 0x9f) {
            kind = 4, n = b & 0x0f;
        } else if (b <= 0xbf) {
            kind = 1, n = b & 0x1f;
        } else {
            // fixed-size payloads: their width in bytes
            static const uint8_t width[] = {
                0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8, // c0..cf
                1, 2, 4, 8, 1, 1, 1, 1, 1, 1, 2, 4, 2, 4, 2, 4, // d0..df
            };
            int w = width[b - 0xc0];
            if (!has(static_cast<uint64_t>(w)))
                return bad;
            switch (b) {
            case 0xc0:
                *slot = nullptr;
                break;
            case 0xc2:
            case 0xc3:
                *slot = b == 0xc3;
                break;
            case 0xc4:
            case 0xc5:
            case 0xc6:
                kind = 2, n = num(w);
                break;
            case 0xc7:
            case 0xc8:
            case 0xc9:
                kind = 3, n = num(w);
                break;
            case 0xca: {
                uint32_t bits = static_cast<uint32_t>(num(4));
                float f;
                std::memcpy(&f, &bits, 4);
                *slot = static_cast<double>(f);
                break;
            }
            case 0xcb: {
                uint64_t bits = num(8);
                double d;
                std::memcpy(&d, &bits, 8);
                *slot = d;
                break;
            }
            case 0xcc:
            case 0xcd:
            case 0xce:
            case 0xcf:
                *slot = num(w);
                break;
            case 0xd0:
            case 0xd1:
            case 0xd2:
            case 0xd3: {
                uint64_t u = num(w);
                int shift = 64 - 8 * w; // sign-extend
                *slot = static_cast<int64_t>(u << shift) >> shift;
                break;
            }
            case 0xd4:
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8:
                kind = 3, n = uint64_t(1) << (b - 0xd4);
                break;
            case 0xd9:
            case 0xda:
            case 0xdb:
                kind = 1, n = num(w);
                break;
            case 0xdc:
            case 0xdd:
                kind = 4, n = num(w);
                break;
            case 0xde:
            case 0xdf:
                kind = 5, n = num(w);
                break;
            default: // 0xc1: never used
                return bad;
            }
        }
        if (kind == 1 || kind == 2 || kind == 3) {
            int subtype = 0;
            if (kind == 3) {
                if (!has(1))
                    return bad;
                subtype = static_cast<int8_t>(*p++);
            }
            if (!has(n))
                return bad;
            if (kind == 1) {
                *slot = std::string(reinterpret_cast<const char *>(p), n);
            } else {
                std::vector<uint8_t> bytes(p, p + n);
                *slot = kind == 3 ? Value::binary(std::move(bytes), static_cast<uint8_t>(subtype))
                                  : Value::binary(std::move(bytes));
            }
            p += n;
        } else if (kind >= 4) {
            // every item takes a byte at least: a count beyond the input cannot be complete
            if (!has(kind == 5 ? 2 * n : n))
                return bad;
            *slot = kind == 5 ? Value::object() : Value::array();
            if (n)
                stack.push_back({slot, n});
        }
        while (!stack.empty() && stack.back().left == 0)
            stack.pop_back();
        if (stack.empty())
            break;
    }
    if (p != end)
        return bad; // strict: one value, nothing after it
    return root;
}

} // namespace syncore
