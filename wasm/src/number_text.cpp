#include "syncore/number_text.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace syncore {

namespace {

// An unsigned big integer, 32-bit words, least significant first, no leading zero words. Only what the
// two conversions need; they use it only when the double arithmetic cannot decide.
struct Big {
    std::vector<uint32_t> w;

    void trim() {
        while (!w.empty() && w.back() == 0)
            w.pop_back();
    }
    void mulAdd(uint32_t m, uint32_t add) {
        uint64_t carry = add;
        for (uint32_t &x : w) {
            uint64_t t = static_cast<uint64_t>(x) * m + carry;
            x = static_cast<uint32_t>(t);
            carry = t >> 32;
        }
        if (carry)
            w.push_back(static_cast<uint32_t>(carry));
    }
    void mulPow(uint32_t base, uint32_t big, int bigExp, int64_t n) {
        // times base^n, with big = base^bigExp (the largest that fits 32 bits)
        for (; n >= bigExp; n -= bigExp)
            mulAdd(big, 0);
        uint32_t rest = 1;
        for (; n > 0; --n)
            rest *= base;
        mulAdd(rest, 0);
    }
    void shiftLeft(size_t bits) {
        if (w.empty())
            return;
        unsigned b = bits % 32;
        if (b) {
            uint32_t carry = 0;
            for (uint32_t &x : w) {
                uint32_t next = x >> (32 - b);
                x = (x << b) | carry;
                carry = next;
            }
            if (carry)
                w.push_back(carry);
        }
        w.insert(w.begin(), bits / 32, 0);
    }
    void shiftRight1() {
        for (size_t i = 0; i < w.size(); ++i)
            w[i] = (w[i] >> 1) | (i + 1 < w.size() ? w[i + 1] << 31 : 0);
        trim();
    }
    size_t bitLength() const { return w.empty() ? 0 : 32 * w.size() - __builtin_clz(w.back()); }
    /** this >= o */
    bool atLeast(const Big &o) const {
        if (w.size() != o.w.size())
            return w.size() > o.w.size();
        for (size_t i = w.size(); i-- > 0;)
            if (w[i] != o.w[i])
                return w[i] > o.w[i];
        return true;
    }
    /** this -= o, for this >= o */
    void subtract(const Big &o) {
        uint64_t borrow = 0;
        for (size_t i = 0; i < w.size(); ++i) {
            uint64_t t = static_cast<uint64_t>(w[i]) - (i < o.w.size() ? o.w[i] : 0) - borrow;
            w[i] = static_cast<uint32_t>(t);
            borrow = t >> 63;
        }
        trim();
    }
    /** this /= d, returns the remainder */
    uint32_t divSmall(uint32_t d) {
        uint64_t r = 0;
        for (size_t i = w.size(); i-- > 0;) {
            uint64_t cur = (r << 32) | w[i];
            w[i] = static_cast<uint32_t>(cur / d);
            r = cur % d;
        }
        trim();
        return static_cast<uint32_t>(r);
    }
};

constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr size_t kMaxDigits = 800; // more than the 767 significant digits a halfway point can have

double fromBits(uint64_t bits) {
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

/**
 * The nearest double to digits * 10^exp10 (digits without leading zeros, not empty); `sticky` says
 * nonzero digits were cut off after them. False when it rounds past DBL_MAX.
 */
bool digitsToDouble(const std::string &digits, int64_t exp10, bool sticky, double &out) {
    int64_t magnitude = static_cast<int64_t>(digits.size()) + exp10; // value < 10^magnitude
    if (magnitude > 310)
        return false;
    if (magnitude < -330) { // below half the smallest denormal
        out = 0;
        return true;
    }
    if (!sticky && digits.size() <= 19 && exp10 >= -22 && exp10 <= 22) {
        uint64_t m = 0;
        for (char c : digits)
            m = m * 10 + static_cast<uint64_t>(c - '0');
        if (m <= (uint64_t(1) << 53)) { // exact operands, one correctly rounded operation
            out = exp10 < 0 ? static_cast<double>(m) / kPow10[-exp10] : static_cast<double>(m) * kPow10[exp10];
            return true;
        }
    }
    // exact: q = floor(num * 2^s / den) with 2^56 <= q < 2^58, value = (q + rem) * 2^-s
    Big num, den;
    for (char c : digits)
        num.mulAdd(10, static_cast<uint32_t>(c - '0'));
    den.w.push_back(1);
    if (exp10 >= 0)
        num.mulPow(10, 1000000000u, 9, exp10);
    else
        den.mulPow(10, 1000000000u, 9, -exp10);
    int64_t s = 57 + static_cast<int64_t>(den.bitLength()) - static_cast<int64_t>(num.bitLength());
    if (s > 0)
        num.shiftLeft(static_cast<size_t>(s));
    else
        den.shiftLeft(static_cast<size_t>(-s));
    den.shiftLeft(58);
    uint64_t q = 0;
    for (int i = 58; i >= 0; --i) {
        if (num.atLeast(den)) {
            num.subtract(den);
            q |= uint64_t(1) << i;
        }
        den.shiftRight1();
    }
    bool rem = sticky || !num.w.empty();
    int length = 64 - __builtin_clzll(q);
    int64_t e2 = length - 1 - s; // value in [2^e2, 2^(e2+1))
    int64_t keep = e2 >= -1022 ? 53 : 1075 + e2;
    int64_t drop = length - keep;
    uint64_t m = drop >= 64 ? 0 : q >> drop;
    uint64_t low = drop >= 64 ? q : q & ((uint64_t(1) << drop) - 1);
    uint64_t half = drop >= 64 ? uint64_t(1) << 63 : uint64_t(1) << (drop - 1);
    if (drop > 64)
        rem = rem || low != 0, low = 0; // q < 2^58 is far below half: rounds down
    if (low > half || (low == half && (rem || (m & 1))))
        ++m;
    uint64_t bits;
    if (keep == 53) {
        if (m == (uint64_t(1) << 53)) {
            m >>= 1;
            ++e2;
        }
        if (e2 > 1023)
            return false;
        bits = (static_cast<uint64_t>(e2 + 1023) << 52) | (m & ((uint64_t(1) << 52) - 1));
    } else {
        bits = m; // a denormal, or 2^52 = the smallest normal after rounding up
    }
    out = fromBits(bits);
    return true;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

} // namespace

bool decimalToDouble(const char *text, size_t size, double &out) {
    const char *p = text, *end = text + size;
    bool negative = p < end && *p == '-';
    if (negative)
        ++p;
    std::string digits;
    int64_t exp10 = 0;
    bool sticky = false;
    auto digit = [&](char c, bool fraction) {
        if (digits.empty() && c == '0') {
            if (fraction)
                --exp10;
            return;
        }
        if (digits.size() < kMaxDigits) {
            digits += c;
            if (fraction)
                --exp10;
        } else {
            sticky = sticky || c != '0';
            if (!fraction)
                ++exp10;
        }
    };
    for (; p < end && isDigit(*p); ++p)
        digit(*p, false);
    if (p < end && *p == '.')
        for (++p; p < end && isDigit(*p); ++p)
            digit(*p, true);
    if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        bool negativeExp = p < end && *p == '-';
        if (p < end && (*p == '-' || *p == '+'))
            ++p;
        int64_t e = 0;
        for (; p < end && isDigit(*p); ++p)
            if (e < 100000000)
                e = e * 10 + (*p - '0');
        exp10 += negativeExp ? -e : e;
    }
    double d = 0;
    if (!digits.empty() && !digitsToDouble(digits, exp10, sticky, d))
        return false;
    out = negative ? -d : d;
    return true;
}

void appendShortestDouble(std::string &out, double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    if (bits >> 63)
        out += '-';
    bits &= ~(uint64_t(1) << 63);
    if (bits == 0) {
        out += '0';
        return;
    }
    // |d| = m * 2^e exactly
    uint64_t m = bits & ((uint64_t(1) << 52) - 1);
    int64_t e = static_cast<int64_t>(bits >> 52);
    if (e == 0)
        e = -1074;
    else
        m |= uint64_t(1) << 52, e -= 1075;
    while (!(m & 1))
        m >>= 1, ++e;
    // all its decimal digits: |d| = all * 10^exp10
    Big n;
    n.w = {static_cast<uint32_t>(m), static_cast<uint32_t>(m >> 32)};
    n.trim();
    int64_t exp10 = 0;
    if (e >= 0) {
        n.shiftLeft(static_cast<size_t>(e));
    } else {
        n.mulPow(5, 1220703125u, 13, -e);
        exp10 = e;
    }
    std::vector<uint32_t> chunks; // base 10^9, least significant first
    while (!n.w.empty())
        chunks.push_back(n.divSmall(1000000000u));
    std::string all = std::to_string(chunks.back());
    for (size_t i = chunks.size() - 1; i-- > 0;) {
        std::string c = std::to_string(chunks[i]);
        all.append(9 - c.size(), '0');
        all += c;
    }
    const double magnitude = fromBits(bits);
    std::string digs;
    int64_t x = 0; // decimal exponent of the first digit, after rounding
    int prec = 15;
    for (;; ++prec) {
        x = static_cast<int64_t>(all.size()) - 1 + exp10;
        if (all.size() <= static_cast<size_t>(prec)) {
            digs = all;
        } else {
            digs = all.substr(0, static_cast<size_t>(prec));
            char next = all[static_cast<size_t>(prec)];
            bool up = next > '5';
            if (next == '5') {
                up = ((digs.back() - '0') & 1) != 0;
                for (size_t i = static_cast<size_t>(prec) + 1; !up && i < all.size(); ++i)
                    up = all[i] != '0';
            }
            if (up) {
                size_t i = digs.size();
                while (i > 0 && digs[i - 1] == '9')
                    digs[--i] = '0';
                if (i == 0) {
                    digs.insert(digs.begin(), '1');
                    digs.pop_back();
                    ++x;
                } else {
                    ++digs[i - 1];
                }
            }
        }
        while (digs.size() > 1 && digs.back() == '0')
            digs.pop_back();
        double back = 0;
        if (prec == 17 ||
            (digitsToDouble(digs, x + 1 - static_cast<int64_t>(digs.size()), false, back) && back == magnitude))
            break;
    }
    // %g: fixed notation when -4 <= x < precision, else exponential; no trailing zeros
    if (x >= -4 && x < prec) {
        if (x < 0) {
            out += "0.";
            out.append(static_cast<size_t>(-x - 1), '0');
            out += digs;
        } else if (digs.size() <= static_cast<size_t>(x) + 1) {
            out += digs;
            out.append(static_cast<size_t>(x) + 1 - digs.size(), '0');
        } else {
            out.append(digs, 0, static_cast<size_t>(x) + 1);
            out += '.';
            out.append(digs, static_cast<size_t>(x) + 1, std::string::npos);
        }
    } else {
        out += digs[0];
        if (digs.size() > 1) {
            out += '.';
            out.append(digs, 1, std::string::npos);
        }
        out += x < 0 ? "e-" : "e+";
        int64_t ax = x < 0 ? -x : x;
        if (ax < 10)
            out += '0';
        out += std::to_string(ax);
    }
}

} // namespace syncore
