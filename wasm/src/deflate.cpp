// Raw DEFLATE (RFC 1951): an LZ77 matcher with hash chains and one-step lazy matching, dynamic Huffman
// blocks with length-limited codes (stored blocks when that is smaller), and a table-driven inflater.
#include "syncore/deflate.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "syncore/error.hpp"

namespace syncore {

namespace {

// ---------------------------------------------------------------------------------------------------
// Tables of RFC 1951, 3.2.5

constexpr uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint16_t kDistBase[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                    33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// Order in which code-length code lengths are sent.
constexpr uint8_t kClOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

constexpr int kMaxBits = 15;
constexpr size_t kWindow = 32768;
constexpr int kMinMatch = 3, kMaxMatch = 258;

// ---------------------------------------------------------------------------------------------------
// Inflate

class BitReader {
  public:
    BitReader(const uint8_t *p, size_t n) : m_p(p), m_end(p + n) {}
    // Makes at least `n` (<= 32) bits available; past the end, zero bits are supplied and counted.
    void fill(int n) {
        if (m_count >= n)
            return;
        if (m_end - m_p >= 8) {
            // Eight bytes at once; only whole bytes that fit are counted as read. The bits above m_count
            // hold the following bytes, and the next refill ORs the same bytes onto the same positions.
            uint64_t v;
            std::memcpy(&v, m_p, 8);
            m_bits |= v << m_count;
            int take = (63 - m_count) >> 3;
            m_p += take;
            m_count += take * 8;
            return;
        }
        fillTail(n);
    }
    // The last bytes of the input, one at a time (out of line: fill() is on every symbol's path).
    __attribute__((noinline)) void fillTail(int n) {
        while (m_count < n) {
            uint64_t byte = 0;
            if (m_p < m_end) {
                byte = *m_p++;
            } else {
                m_over += 8;
                if (m_over > 64) // a real code never reads this far past the end
                    fail(ErrorCode::Decode, "deflate: truncated stream");
            }
            m_bits |= byte << m_count;
            m_count += 8;
        }
    }
    uint32_t peek(int n) {
        fill(n);
        return static_cast<uint32_t>(m_bits & ((1ull << n) - 1));
    }
    void drop(int n) {
        m_bits >>= n;
        m_count -= n;
    }
    uint32_t bits(int n) {
        if (n == 0)
            return 0;
        uint32_t v = peek(n);
        drop(n);
        return v;
    }
    void alignToByte() { drop(m_count % 8); }
    // Whole bytes straight from the input (after alignToByte).
    void bytes(uint8_t *out, size_t n) {
        while (n > 0 && m_count - m_over >= 8) { // real bytes still in the bit buffer
            *out++ = static_cast<uint8_t>(m_bits);
            drop(8);
            --n;
        }
        if (n == 0)
            return;
        // The bit buffer is drained; bits above m_count (a refill's look-ahead) describe bytes copied below.
        m_bits = 0;
        if (static_cast<size_t>(m_end - m_p) < n)
            fail(ErrorCode::Decode, "deflate: truncated stored block");
        if (n > 0) // an empty stored block may have no output buffer at all
            std::memcpy(out, m_p, n);
        m_p += n;
    }
    // Input really consumed: fails if the decoder used bits past the end.
    void checkNotOverrun() const {
        if (m_over > m_count)
            fail(ErrorCode::Decode, "deflate: truncated stream");
    }
    // Bytes of input after the last bit used, ignoring the final partial byte's padding.
    size_t unusedBytes() const {
        size_t buffered = m_count >= m_over ? (m_count - m_over) / 8 : 0;
        return static_cast<size_t>(m_end - m_p) + buffered;
    }

  private:
    const uint8_t *m_p, *m_end;
    uint64_t m_bits = 0;
    int m_count = 0;
    int m_over = 0; // bits supplied past the end of the input
};

// Canonical Huffman decoder: a 10-bit lookup table, and a canonical walk for longer codes.
class Decoder {
  public:
    static constexpr int kFast = 10;
    // lengths: code length per symbol (0 = unused). Throws on over-subscribed sets; incomplete sets are
    // refused (as zlib does) except a single code of length 1 and the fixed distance code (30 of 32).
    void build(const uint8_t *lengths, int n, const char *what, bool fixed = false) {
        std::memset(m_count, 0, sizeof m_count);
        for (int s = 0; s < n; ++s)
            ++m_count[lengths[s]];
        m_count[0] = 0;
        int left = 1, used = 0;
        for (int len = 1; len <= kMaxBits; ++len) {
            left <<= 1;
            left -= m_count[len];
            used += m_count[len];
            if (left < 0)
                fail(ErrorCode::Decode, std::string("deflate: over-subscribed ") + what + " code");
        }
        if (left > 0 && !fixed && !(used == 1 && m_count[1] == 1) && used != 0)
            fail(ErrorCode::Decode, std::string("deflate: incomplete ") + what + " code");
        // Symbols sorted by (length, symbol); offsets of each length's first symbol.
        int offs[kMaxBits + 2];
        offs[1] = 0;
        for (int len = 1; len <= kMaxBits; ++len)
            offs[len + 1] = offs[len] + m_count[len];
        for (int s = 0; s < n; ++s)
            if (lengths[s])
                m_symbol[offs[lengths[s]]++] = static_cast<uint16_t>(s);
        // Fast table: for every kFast-bit prefix, the symbol and length of a code of <= kFast bits.
        std::fill(std::begin(m_fast), std::end(m_fast), 0);
        int code = 0, index = 0;
        for (int len = 1; len <= kFast; ++len) {
            for (int k = 0; k < m_count[len]; ++k, ++code, ++index) {
                // Deflate sends codes most-significant bit first; the reader sees them reversed.
                uint32_t rev = reverse(static_cast<uint32_t>(code), len);
                for (uint32_t fill = rev; fill < (1u << kFast); fill += 1u << len)
                    m_fast[fill] = static_cast<uint32_t>((m_symbol[index] << 4) | len);
            }
            code <<= 1;
        }
        m_empty = used == 0;
    }
    int decode(BitReader &br) const {
        uint32_t e = m_fast[br.peek(kFast)]; // an empty code's table is all zeros: the slow path refuses it
        if (e != 0) {
            br.drop(static_cast<int>(e & 15));
            return static_cast<int>(e >> 4);
        }
        return decodeLong(br);
    }
    // Longer code: canonical walk, one bit at a time (rare: only codes of 11..15 bits).
    int decodeLong(BitReader &br) const {
        if (m_empty)
            fail(ErrorCode::Decode, "deflate: symbol from an empty code");
        int code = 0, first = 0, index = 0;
        for (int len = 1; len <= kMaxBits; ++len) {
            code |= static_cast<int>(br.bits(1));
            int count = m_count[len];
            if (code - first < count)
                return m_symbol[index + (code - first)];
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        fail(ErrorCode::Decode, "deflate: invalid code");
    }
    static uint32_t reverse(uint32_t v, int n) {
        uint32_t r = 0;
        for (int i = 0; i < n; ++i) {
            r = (r << 1) | (v & 1);
            v >>= 1;
        }
        return r;
    }

  private:
    uint16_t m_count[kMaxBits + 1];
    uint16_t m_symbol[288];
    uint32_t m_fast[1 << kFast];
    bool m_empty = false;
};

void fixedTables(Decoder &lit, Decoder &dist) {
    uint8_t l[288];
    std::fill(l, l + 144, 8);
    std::fill(l + 144, l + 256, 9);
    std::fill(l + 256, l + 280, 7);
    std::fill(l + 280, l + 288, 8);
    lit.build(l, 288, "literal/length");
    uint8_t d[30];
    std::fill(d, d + 30, 5);
    dist.build(d, 30, "distance", true);
}

void dynamicTables(BitReader &br, Decoder &lit, Decoder &dist) {
    int hlit = static_cast<int>(br.bits(5)) + 257;
    int hdist = static_cast<int>(br.bits(5)) + 1;
    int hclen = static_cast<int>(br.bits(4)) + 4;
    if (hlit > 286 || hdist > 30)
        fail(ErrorCode::Decode, "deflate: too many length or distance codes");
    uint8_t cl[19] = {0};
    for (int i = 0; i < hclen; ++i)
        cl[kClOrder[i]] = static_cast<uint8_t>(br.bits(3));
    Decoder clDec;
    clDec.build(cl, 19, "code-length");
    uint8_t lengths[286 + 30] = {0};
    int n = 0;
    while (n < hlit + hdist) {
        int sym = clDec.decode(br);
        if (sym < 16) {
            lengths[n++] = static_cast<uint8_t>(sym);
            continue;
        }
        int repeat;
        uint8_t value = 0;
        if (sym == 16) {
            if (n == 0)
                fail(ErrorCode::Decode, "deflate: repeat with no previous length");
            value = lengths[n - 1];
            repeat = 3 + static_cast<int>(br.bits(2));
        } else if (sym == 17) {
            repeat = 3 + static_cast<int>(br.bits(3));
        } else {
            repeat = 11 + static_cast<int>(br.bits(7));
        }
        if (n + repeat > hlit + hdist)
            fail(ErrorCode::Decode, "deflate: code lengths overflow");
        std::fill(lengths + n, lengths + n + repeat, value);
        n += repeat;
    }
    if (lengths[256] == 0)
        fail(ErrorCode::Decode, "deflate: no end-of-block code");
    lit.build(lengths, hlit, "literal/length");
    dist.build(lengths + hlit, hdist, "distance");
}

} // namespace

Bytes inflateRaw(const uint8_t *data, size_t size, size_t maxOutput) {
    BitReader br(data, size);
    // The output is written through a position into a buffer grown by doubling (never past maxOutput) and
    // cut to size at the end: no per-byte push_back.
    Bytes out(std::min<size_t>(maxOutput, size * 4 + 64));
    size_t n = 0;
    auto tooLarge = [] { fail(ErrorCode::Decode, "deflate: output larger than the declared size"); };
    auto grow = [&](size_t k) {
        if (k > maxOutput - n)
            tooLarge();
        out.resize(std::min(maxOutput, std::max(out.size() * 2, n + k)));
    };
    auto room = [&](size_t k) { // out.size() never exceeds maxOutput, so this one compare is the usual case
        if (k > out.size() - n)
            grow(k);
    };
    Decoder lit, dist;
    bool last = false;
    while (!last) {
        last = br.bits(1) == 1;
        uint32_t type = br.bits(2);
        if (type == 0) {
            br.alignToByte();
            uint32_t len = br.bits(16), nlen = br.bits(16);
            if ((len ^ 0xFFFF) != nlen)
                fail(ErrorCode::Decode, "deflate: stored block length check failed");
            room(len);
            br.bytes(out.data() + n, len);
            n += len;
            continue;
        }
        if (type == 3)
            fail(ErrorCode::Decode, "deflate: invalid block type");
        if (type == 1)
            fixedTables(lit, dist);
        else
            dynamicTables(br, lit, dist);
        for (;;) {
            int sym = lit.decode(br);
            if (sym < 256) {
                room(1);
                out[n++] = static_cast<uint8_t>(sym);
                continue;
            }
            if (sym == 256)
                break;
            sym -= 257;
            if (sym >= 29)
                fail(ErrorCode::Decode, "deflate: invalid length code");
            size_t len = kLengthBase[sym] + br.bits(kLengthExtra[sym]);
            int ds = dist.decode(br);
            if (ds >= 30)
                fail(ErrorCode::Decode, "deflate: invalid distance code");
            size_t d = kDistBase[ds] + br.bits(kDistExtra[ds]);
            if (d > n)
                fail(ErrorCode::Decode, "deflate: distance before the start of the output");
            room(len);
            uint8_t *o = out.data() + n;
            const uint8_t *src = o - d;
            if (d >= 8 && out.size() - n >= len + 8) {
                // Eight bytes at a time (most matches are short: a memcpy call each cost more than the
                // copy in WebAssembly); may write up to 7 bytes past the match, which the next symbols
                // overwrite. With d >= 8 every chunk reads bytes already written.
                for (size_t i = 0; i < len; i += 8) {
                    uint64_t w;
                    std::memcpy(&w, src + i, 8);
                    std::memcpy(o + i, &w, 8);
                }
            } else if (d >= len) {
                std::memcpy(o, src, len);
            } else {
                for (size_t i = 0; i < len; ++i) // overlapping: the copy repeats the pattern, byte by byte
                    o[i] = src[i];
            }
            n += len;
        }
        br.checkNotOverrun();
    }
    br.checkNotOverrun();
    if (br.unusedBytes() != 0)
        fail(ErrorCode::Decode, "deflate: bytes after the final block");
    out.resize(n);
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Deflate

namespace {

class BitWriter {
  public:
    explicit BitWriter(Bytes &out) : m_out(out) {}
    void put(uint32_t value, int n) { // n <= 32
        m_bits |= static_cast<uint64_t>(value) << m_count;
        m_count += n;
        while (m_count >= 8) {
            m_out.push_back(static_cast<uint8_t>(m_bits));
            m_bits >>= 8;
            m_count -= 8;
        }
    }
    void alignToByte() {
        if (m_count > 0)
            put(0, 8 - m_count);
    }

  private:
    Bytes &m_out;
    uint64_t m_bits = 0;
    int m_count = 0;
};

// Code lengths (<= maxBits) for the given frequencies, Huffman-optimal up to the length limit.
void buildLengths(const uint32_t *freq, int n, int maxBits, uint8_t *lengths) {
    std::fill(lengths, lengths + n, 0);
    std::vector<int> syms;
    for (int s = 0; s < n; ++s)
        if (freq[s])
            syms.push_back(s);
    if (syms.empty())
        return;
    if (syms.size() == 1) {
        // One symbol: pair it with a dummy so the code is complete (zlib refuses incomplete code-length
        // codes; a 1-bit code costs the same either way).
        lengths[syms[0]] = 1;
        lengths[syms[0] == 0 ? 1 : 0] = 1;
        return;
    }
    std::sort(syms.begin(), syms.end(), [&](int a, int b) { return freq[a] != freq[b] ? freq[a] < freq[b] : a < b; });
    // Two-queue Huffman over the sorted leaves: node weights, then depths by walking parents.
    const size_t m = syms.size();
    std::vector<uint64_t> weight(2 * m);
    std::vector<int> parent(2 * m, -1);
    for (size_t i = 0; i < m; ++i)
        weight[i] = freq[syms[i]];
    size_t leaf = 0, node = m, next = m;
    auto take = [&]() -> size_t {
        if (leaf < m && (node >= next || weight[leaf] <= weight[node]))
            return leaf++;
        return node++;
    };
    for (; next < 2 * m - 1; ++next) {
        size_t a = take(), b = take();
        weight[next] = weight[a] + weight[b];
        parent[a] = parent[b] = static_cast<int>(next);
    }
    std::vector<int> depth(2 * m - 1, 0);
    for (size_t i = 2 * m - 2; i-- > 0;)
        depth[i] = depth[static_cast<size_t>(parent[i])] + 1;
    // Count codes per length, folding lengths over the limit in and repairing the Kraft sum (as miniz
    // does): then hand the shortest lengths to the most frequent symbols.
    int count[64] = {0};
    for (size_t i = 0; i < m; ++i)
        ++count[std::min(depth[i], 63)];
    for (int len = maxBits + 1; len < 64; ++len) {
        count[maxBits] += count[len];
        count[len] = 0;
    }
    uint64_t total = 0;
    for (int len = 1; len <= maxBits; ++len)
        total += static_cast<uint64_t>(count[len]) << (maxBits - len);
    while (total > (1ull << maxBits)) {
        --count[maxBits];
        for (int len = maxBits - 1; len > 0; --len)
            if (count[len]) {
                --count[len];
                count[len + 1] += 2;
                break;
            }
        --total;
    }
    size_t i = 0; // syms ascending by frequency: the longest codes go first
    for (int len = maxBits; len >= 1; --len)
        for (int k = 0; k < count[len]; ++k)
            lengths[syms[i++]] = static_cast<uint8_t>(len);
}

// Canonical codes (bit-reversed, ready for an LSB-first writer) from lengths.
void buildCodes(const uint8_t *lengths, int n, uint16_t *codes) {
    int count[kMaxBits + 1] = {0}, next[kMaxBits + 2] = {0};
    for (int s = 0; s < n; ++s)
        ++count[lengths[s]];
    count[0] = 0;
    int code = 0;
    for (int len = 1; len <= kMaxBits; ++len) {
        code = (code + count[len - 1]) << 1;
        next[len] = code;
    }
    for (int s = 0; s < n; ++s)
        if (lengths[s])
            codes[s] = static_cast<uint16_t>(Decoder::reverse(static_cast<uint32_t>(next[lengths[s]]++), lengths[s]));
}

int lengthCode(int len) { // 3..258 -> 0..28
    int c = 0;
    while (c < 28 && kLengthBase[c + 1] <= len)
        ++c;
    return c;
}

int distCode(int d) { // 1..32768 -> 0..29
    int c = 0;
    while (c < 29 && kDistBase[c + 1] <= d)
        ++c;
    return c;
}

// Length of the common prefix of a and b, at most maxLen: eight bytes at a time.
int matchLength(const uint8_t *a, const uint8_t *b, int maxLen) {
    int len = 0;
    while (len + 8 <= maxLen) {
        uint64_t x, y;
        std::memcpy(&x, a + len, 8);
        std::memcpy(&y, b + len, 8);
        if (uint64_t diff = x ^ y) {
            // Little endian: the first differing byte is the lowest set byte.
            int byte = 0;
            while ((diff & 0xFF) == 0) {
                diff >>= 8;
                ++byte;
            }
            return len + byte;
        }
        len += 8;
    }
    while (len < maxLen && a[len] == b[len])
        ++len;
    return len;
}

struct Symbol {
    uint16_t litlen; // literal byte, or match length (3..258) when dist > 0
    uint16_t dist;   // 0 for a literal
};

class Encoder {
  public:
    Encoder(const uint8_t *data, size_t size, Bytes &out) : m_data(data), m_size(size), m_bw(out) {
        for (int len = 3; len <= kMaxMatch; ++len)
            m_lenCode[len] = static_cast<uint8_t>(lengthCode(len));
        for (int d = 1; d <= 512; ++d)
            m_distCodeSmall[d] = static_cast<uint8_t>(distCode(d));
    }

    int dcode(int d) const { return d <= 512 ? m_distCodeSmall[d] : distCode(d); }

    // Emits one block for symbols [0, m_syms.size()) covering input [start, end).
    void flushBlock(size_t start, size_t end, bool last) {
        uint32_t lf[286] = {0}, df[30] = {0};
        for (const Symbol &s : m_syms) {
            if (s.dist == 0) {
                ++lf[s.litlen];
            } else {
                ++lf[257 + m_lenCode[s.litlen]];
                ++df[dcode(s.dist)];
            }
        }
        lf[256] = 1;
        uint8_t ll[286], dl[30];
        buildLengths(lf, 286, kMaxBits, ll);
        buildLengths(df, 30, kMaxBits, dl);
        int hlit = 286;
        while (hlit > 257 && ll[hlit - 1] == 0)
            --hlit;
        int hdist = 30;
        while (hdist > 1 && dl[hdist - 1] == 0)
            --hdist;
        // Run-length code the lengths (16: repeat previous 3-6, 17: zeros 3-10, 18: zeros 11-138).
        uint8_t all[286 + 30];
        std::memcpy(all, ll, static_cast<size_t>(hlit));
        std::memcpy(all + hlit, dl, static_cast<size_t>(hdist));
        const int total = hlit + hdist;
        struct Rle {
            uint8_t sym, extra;
        };
        std::vector<Rle> rle;
        for (int i = 0; i < total;) {
            int run = 1;
            while (i + run < total && all[i + run] == all[i])
                ++run;
            if (all[i] == 0) {
                int left = run;
                while (left >= 11) {
                    int k = std::min(left, 138);
                    rle.push_back({18, static_cast<uint8_t>(k - 11)});
                    left -= k;
                }
                if (left >= 3) {
                    rle.push_back({17, static_cast<uint8_t>(left - 3)});
                    left = 0;
                }
                while (left-- > 0)
                    rle.push_back({0, 0});
            } else {
                rle.push_back({all[i], 0});
                int left = run - 1;
                while (left >= 3) {
                    int k = std::min(left, 6);
                    rle.push_back({16, static_cast<uint8_t>(k - 3)});
                    left -= k;
                }
                while (left-- > 0)
                    rle.push_back({all[i], 0});
            }
            i += run;
        }
        uint32_t cf[19] = {0};
        for (const Rle &r : rle)
            ++cf[r.sym];
        uint8_t cl[19];
        buildLengths(cf, 19, 7, cl);
        int hclen = 19;
        while (hclen > 4 && cl[kClOrder[hclen - 1]] == 0)
            --hclen;

        // Size of the dynamic block in bits, against a stored block.
        uint64_t bits = 3 + 5 + 5 + 4 + 3ull * static_cast<unsigned>(hclen);
        for (const Rle &r : rle)
            bits += cl[r.sym] + (r.sym == 16 ? 2 : r.sym == 17 ? 3 : r.sym == 18 ? 7 : 0);
        for (int s = 0; s < 286; ++s)
            if (lf[s])
                bits += static_cast<uint64_t>(lf[s]) * (ll[s] + (s > 256 ? kLengthExtra[s - 257] : 0));
        for (int s = 0; s < 30; ++s)
            if (df[s])
                bits += static_cast<uint64_t>(df[s]) * (dl[s] + kDistExtra[s]);
        const size_t raw = end - start;
        const uint64_t storedBits = (raw / 65535 + 1) * 40 + raw * 8 + 10;
        if (storedBits < bits) {
            writeStored(start, end, last);
            m_syms.clear();
            return;
        }

        uint16_t lc[286] = {0}, dc[30] = {0}, cc[19] = {0};
        buildCodes(ll, 286, lc);
        buildCodes(dl, 30, dc);
        buildCodes(cl, 19, cc);
        m_bw.put(last ? 1 : 0, 1);
        m_bw.put(2, 2);
        m_bw.put(static_cast<uint32_t>(hlit - 257), 5);
        m_bw.put(static_cast<uint32_t>(hdist - 1), 5);
        m_bw.put(static_cast<uint32_t>(hclen - 4), 4);
        for (int i = 0; i < hclen; ++i)
            m_bw.put(cl[kClOrder[i]], 3);
        for (const Rle &r : rle) {
            m_bw.put(cc[r.sym], cl[r.sym]);
            if (r.sym == 16)
                m_bw.put(r.extra, 2);
            else if (r.sym == 17)
                m_bw.put(r.extra, 3);
            else if (r.sym == 18)
                m_bw.put(r.extra, 7);
        }
        for (const Symbol &s : m_syms) {
            if (s.dist == 0) {
                m_bw.put(lc[s.litlen], ll[s.litlen]);
                continue;
            }
            int c = m_lenCode[s.litlen];
            m_bw.put(lc[257 + c], ll[257 + c]);
            m_bw.put(static_cast<uint32_t>(s.litlen - kLengthBase[c]), kLengthExtra[c]);
            int d = dcode(s.dist);
            m_bw.put(dc[d], dl[d]);
            m_bw.put(static_cast<uint32_t>(s.dist - kDistBase[d]), kDistExtra[d]);
        }
        m_bw.put(lc[256], ll[256]);
        m_syms.clear();
    }

    void writeStored(size_t start, size_t end, bool last) {
        do {
            size_t n = std::min<size_t>(end - start, 65535);
            bool fin = last && start + n == end;
            m_bw.put(fin ? 1 : 0, 1);
            m_bw.put(0, 2);
            m_bw.alignToByte();
            m_bw.put(static_cast<uint32_t>(n), 16);
            m_bw.put(static_cast<uint32_t>(n ^ 0xFFFF), 16);
            for (size_t i = 0; i < n; ++i)
                m_bw.put(m_data[start + i], 8);
            start += n;
        } while (start < end);
    }

    void run(int effort) {
        const int maxChain = effort <= 1 ? 4 : effort <= 3 ? 8 : effort <= 6 ? 32 : effort <= 8 ? 128 : 1024;
        const int niceLength = effort <= 3 ? 32 : effort <= 6 ? 128 : kMaxMatch;
        constexpr int kHashBits = 15;
        constexpr size_t kBlockSymbols = 1 << 16;
        std::vector<int32_t> head(1 << kHashBits, -1);
        std::vector<int32_t> prev(kWindow, -1);
        auto hash3 = [&](size_t i) {
            uint32_t v = static_cast<uint32_t>(m_data[i]) | (static_cast<uint32_t>(m_data[i + 1]) << 8) |
                         (static_cast<uint32_t>(m_data[i + 2]) << 16);
            return (v * 2654435761u) >> (32 - kHashBits);
        };
        auto insert = [&](size_t i) {
            if (i + kMinMatch > m_size)
                return;
            uint32_t h = hash3(i);
            prev[i & (kWindow - 1)] = head[h];
            head[h] = static_cast<int32_t>(i);
        };
        // The positions a match covers go into the chains too, but of a long match only its ends (as
        // zlib's faster levels do): runs and repeated blocks would otherwise cost a chain step per byte.
        const size_t insertAll = effort >= 7 ? kMaxMatch : 16;
        auto insertMatch = [&](size_t from, size_t to) {
            if (to - from <= insertAll) {
                for (size_t k = from; k < to; ++k)
                    insert(k);
                return;
            }
            for (size_t k = from; k < from + 4; ++k)
                insert(k);
            for (size_t k = to - 4; k < to; ++k)
                insert(k);
        };
        // Longest match for position i (0 if none of at least kMinMatch).
        auto longest = [&](size_t i, int *dist) {
            int best = 0;
            if (i + kMinMatch > m_size)
                return 0;
            const int maxLen = static_cast<int>(std::min<size_t>(kMaxMatch, m_size - i));
            int32_t cand = head[hash3(i)];
            int chain = maxChain;
            while (cand >= 0 && chain-- > 0) {
                size_t c = static_cast<size_t>(cand);
                if (i - c > kWindow)
                    break;
                if (m_data[c + best] == m_data[i + best] && m_data[c] == m_data[i]) {
                    int len = matchLength(m_data + c, m_data + i, maxLen);
                    if (len > best) {
                        best = len;
                        *dist = static_cast<int>(i - c);
                        if (len >= niceLength ||
                            len >= maxLen) // maxLen: nothing longer, and m_data[i + best] would be past the end
                            break;
                    }
                }
                int32_t p = prev[c & (kWindow - 1)];
                if (p >= cand)
                    break; // the slot was reused by a newer position: the chain ends here
                cand = p;
            }
            return best >= kMinMatch ? best : 0;
        };

        size_t blockStart = 0, i = 0;
        while (i < m_size) {
            int dist = 0;
            int len = longest(i, &dist);
            if (len > 0 && len < niceLength && i + 1 < m_size) {
                // Lazy: a longer match one byte later beats this one.
                insert(i);
                int dist2 = 0;
                int len2 = longest(i + 1, &dist2);
                if (len2 > len) {
                    m_syms.push_back({m_data[i], 0});
                    ++i;
                    len = len2;
                    dist = dist2;
                } else {
                    m_syms.push_back({static_cast<uint16_t>(len), static_cast<uint16_t>(dist)});
                    insertMatch(i + 1, i + static_cast<size_t>(len));
                    i += static_cast<size_t>(len);
                    goto next;
                }
            }
            if (len > 0) {
                m_syms.push_back({static_cast<uint16_t>(len), static_cast<uint16_t>(dist)});
                insertMatch(i, i + static_cast<size_t>(len));
                i += static_cast<size_t>(len);
            } else {
                insert(i);
                m_syms.push_back({m_data[i], 0});
                ++i;
            }
        next:
            if (m_syms.size() >= kBlockSymbols) {
                flushBlock(blockStart, i, i == m_size);
                blockStart = i;
            }
        }
        // Unless the flush inside the loop already wrote the final block (it ended exactly at the end).
        if (!m_syms.empty() || blockStart < m_size || m_size == 0)
            flushBlock(blockStart, m_size, true);
        m_bw.alignToByte();
    }

  private:
    const uint8_t *m_data;
    size_t m_size;
    BitWriter m_bw;
    std::vector<Symbol> m_syms;
    uint8_t m_lenCode[kMaxMatch + 1] = {0};
    uint8_t m_distCodeSmall[513] = {0};
};

} // namespace

Bytes deflateRaw(const uint8_t *data, size_t size, int effort) {
    Bytes out;
    out.reserve(size / 3 + 64);
    Encoder enc(data, size, out);
    enc.run(effort);
    return out;
}

} // namespace syncore
