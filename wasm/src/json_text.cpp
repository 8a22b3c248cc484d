// JSON text parser and writer (see syncore/json_text.hpp). Iterative over nesting: a stack of open
// containers, so hostile nesting cannot overflow the (small) WebAssembly stack.
#include "syncore/json_text.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include "syncore/error.hpp"
#include "syncore/number_text.hpp"

namespace syncore {

namespace {

class Parser {
  public:
    Parser(const char *data, size_t size, const char *what) : p_(data), begin_(data), end_(data + size), what_(what) {}

    Value run() {
        Value root;
        // Open containers; for an object, the key its next value goes to.
        struct Open {
            Value *v;
            std::string key;
        };
        std::vector<Open> stack;
        Value *slot = &root; // where the next value goes
        for (;;) {
            skipWs();
            // ---- a value into *slot
            char c = peek();
            if (c == '{' || c == '[') {
                ++p_;
                *slot = c == '{' ? Value::object() : Value::array();
                if (stack.size() >= static_cast<size_t>(kMaxJsonTextDepth))
                    fail("nesting deeper than " + std::to_string(kMaxJsonTextDepth));
                stack.push_back({slot, std::string()});
                skipWs();
                if (peek() == (c == '{' ? '}' : ']')) {
                    ++p_;
                    stack.pop_back();
                } else {
                    slot = nextSlot(stack.back(), true);
                    continue;
                }
            } else if (c == '"') {
                ++p_;
                std::string s;
                readString(s);
                *slot = std::move(s);
            } else {
                readScalar(*slot);
            }
            // ---- after a value: close containers or move to the next member
            for (;;) {
                if (stack.empty()) {
                    skipWs();
                    if (p_ != end_)
                        fail("trailing characters after the value");
                    return root;
                }
                skipWs();
                Open &top = stack.back();
                const bool isObject = top.v->is_object();
                char d = peek();
                if (d == ',') {
                    ++p_;
                    slot = nextSlot(top, false);
                    break;
                }
                if (d == (isObject ? '}' : ']')) {
                    ++p_;
                    stack.pop_back();
                    continue;
                }
                fail(isObject ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
    }

    // Walks the top-level object (or array) calling onMember(key, span) / onElement(span).
    void walk(bool object, const std::function<void(const std::string &, const JsonSpan &)> *onMember,
              const std::function<void(const JsonSpan &)> *onElement) {
        skipWs();
        if (peek() != (object ? '{' : '['))
            fail(object ? "expected an object" : "expected an array");
        ++p_;
        skipWs();
        std::string key;
        if (peek() == (object ? '}' : ']')) {
            ++p_;
        } else {
            for (;;) {
                skipWs();
                if (object) {
                    if (peek() != '"')
                        fail("expected a key");
                    ++p_;
                    key.clear();
                    readString(key);
                    skipWs();
                    if (peek() != ':')
                        fail("expected ':'");
                    ++p_;
                    skipWs();
                }
                JsonSpan span = skipValue();
                if (object)
                    (*onMember)(key, span);
                else
                    (*onElement)(span);
                skipWs();
                if (peek() == ',') {
                    ++p_;
                    continue;
                }
                if (peek() == (object ? '}' : ']')) {
                    ++p_;
                    break;
                }
                fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
        skipWs();
        if (p_ != end_)
            fail("trailing characters after the value");
    }

  private:
    // Checks one value and returns its span (strings, numbers and literals fully checked; nested
    // containers checked by parsing them, which the caller does anyway for their value).
    JsonSpan skipValue() {
        JsonSpan span;
        const char *start = p_;
        char c = peek();
        if (c == '"') {
            ++p_;
            const char *q = p_;
            while (q < end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20)
                ++q;
            if (q < end_ && *q == '"' && isValidUtf8(p_, static_cast<size_t>(q - p_))) {
                p_ = q + 1;
                span.plainString = true;
            } else {
                std::string scratch;
                readString(scratch); // escapes, or an error at the right byte
            }
        } else if (c == '{' || c == '[') {
            // find the matching close, skipping strings; parseJsonText checks the inside later
            int depth = 0;
            do {
                char d = *p_;
                if (d == '"') {
                    ++p_;
                    while (p_ < end_ && *p_ != '"') {
                        if (*p_ == '\\' && p_ + 1 < end_)
                            ++p_;
                        ++p_;
                    }
                    if (p_ == end_)
                        fail("unterminated string");
                } else if (d == '{' || d == '[') {
                    if (++depth > kMaxJsonTextDepth)
                        fail("nesting deeper than " + std::to_string(kMaxJsonTextDepth));
                } else if (d == '}' || d == ']') {
                    --depth;
                }
                ++p_;
            } while (depth > 0 && p_ < end_);
            if (depth > 0)
                fail("unexpected end");
        } else {
            Value ignored;
            readScalar(ignored);
        }
        span.data = start;
        span.size = static_cast<size_t>(p_ - start);
        return span;
    }

    template <class Open> Value *nextSlot(Open &top, bool first) {
        if (top.v->is_array()) {
            top.v->push_back(nullptr);
            return &top.v->back();
        }
        skipWs();
        if (peek() != '"')
            fail(first ? "expected a key or '}'" : "expected a key");
        ++p_;
        top.key.clear();
        readString(top.key);
        skipWs();
        if (peek() != ':')
            fail("expected ':'");
        ++p_;
        // A repeated key keeps the last value, as JSON.parse does.
        return &(*top.v)[top.key];
    }

    // true, false, null or a number (anything else is an error here)
    void readScalar(Value &out) {
        char c = peek();
        if (c == 't') {
            literal("true");
            out = true;
        } else if (c == 'f') {
            literal("false");
            out = false;
        } else if (c == 'n') {
            literal("null");
            out = nullptr;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            readNumber(out);
        } else {
            fail(p_ == end_ ? "unexpected end" : "unexpected character");
        }
    }

    char peek() const { return p_ < end_ ? *p_ : '\0'; }

    void skipWs() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
            ++p_;
    }

    void literal(const char *word) {
        size_t n = std::strlen(word);
        if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
            fail("unexpected character");
        p_ += n;
    }

    [[noreturn]] void fail(const std::string &msg) const {
        syncore::fail(ErrorCode::InvalidArgument,
                      std::string("invalid ") + what_ + ": " + msg + " at byte " + std::to_string(p_ - begin_));
    }

    unsigned hex4() {
        if (end_ - p_ < 4)
            fail("truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = *p_++;
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail("bad hex digit in \\u escape");
        }
        return v;
    }

    static void putUtf8(std::string &out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    // After the opening quote; consumes the closing one.
    void readString(std::string &out) {
        const char *start = p_;
        for (;;) {
            // copy a run of plain bytes at once
            const char *q = p_;
            while (q < end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20)
                ++q;
            out.append(p_, q);
            p_ = q;
            if (p_ == end_)
                fail("unterminated string");
            char c = *p_++;
            if (c == '"')
                break;
            if (c != '\\') {
                --p_;
                fail("control character in a string");
            }
            if (p_ == end_)
                fail("unterminated string");
            char e = *p_++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out += e;
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                unsigned cp = hex4();
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u')
                        fail("lone surrogate in a \\u escape");
                    p_ += 2;
                    unsigned lo = hex4();
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        fail("lone surrogate in a \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail("lone surrogate in a \\u escape");
                }
                putUtf8(out, cp);
                break;
            }
            default:
                --p_;
                fail("bad escape in a string");
            }
        }
        (void)start;
        if (!isValidUtf8(out)) {
            p_ = start;
            fail("string is not valid UTF-8");
        }
    }

    void readNumber(Value &out) {
        const char *start = p_;
        bool negative = false;
        if (*p_ == '-') {
            negative = true;
            ++p_;
        }
        if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9'))
            fail("bad number");
        if (*p_ == '0') {
            ++p_;
            if (p_ < end_ && *p_ >= '0' && *p_ <= '9')
                fail("leading zero in a number");
        } else {
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9')
                ++p_;
        }
        bool integral = true;
        if (p_ < end_ && *p_ == '.') {
            integral = false;
            ++p_;
            if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9'))
                fail("bad number: digits must follow '.'");
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9')
                ++p_;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            integral = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-'))
                ++p_;
            if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9'))
                fail("bad number: digits must follow the exponent");
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9')
                ++p_;
        }
        if (integral) {
            // exact integer if it fits 64 bits
            const char *d = start + (negative ? 1 : 0);
            uint64_t v = 0;
            bool overflow = false;
            for (; d < p_; ++d) {
                unsigned digit = static_cast<unsigned>(*d - '0');
                if (v > (UINT64_MAX - digit) / 10) {
                    overflow = true;
                    break;
                }
                v = v * 10 + digit;
            }
            if (!overflow) {
                if (!negative)
                    out = v;
                else if (v <= static_cast<uint64_t>(INT64_MAX) + 1)
                    out = v == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(v);
                else
                    overflow = true;
                if (!overflow)
                    return;
            }
        }
        double d = 0;
        if (!decimalToDouble(start, static_cast<size_t>(p_ - start), d)) {
            p_ = start;
            fail("number out of range");
        }
        out = d;
    }

    const char *p_;
    const char *begin_;
    const char *end_;
    const char *what_;
};

} // namespace

void writeJsonString(std::string &out, const std::string &s) {
    static const char *hex = "0123456789abcdef";
    out += '"';
    size_t run = 0; // start of the pending run of plain bytes
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(s, run, i - run);
        run = i + 1;
        out += '\\';
        switch (c) {
        case '"':
        case '\\':
            out += static_cast<char>(c);
            break;
        case '\n':
            out += 'n';
            break;
        case '\r':
            out += 'r';
            break;
        case '\t':
            out += 't';
            break;
        case '\b':
            out += 'b';
            break;
        case '\f':
            out += 'f';
            break;
        default:
            out += "u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    out.append(s, run, std::string::npos);
    out += '"';
}

namespace {

void writeDouble(std::string &out, double d) {
    if (!std::isfinite(d))
        fail(ErrorCode::InvalidArgument, "NaN and Infinity have no JSON text");
    // the shortest of %.15g..%.17g that reads back as the same double (17 always does)
    appendShortestDouble(out, d);
}

} // namespace

Value parseJsonText(const char *data, size_t size, const char *what) { return Parser(data, size, what).run(); }

void forEachJsonMember(const char *data, size_t size, const char *what,
                       const std::function<void(const std::string &key, const JsonSpan &value)> &fn) {
    Parser(data, size, what).walk(true, &fn, nullptr);
}

void forEachJsonElement(const char *data, size_t size, const char *what,
                        const std::function<void(const JsonSpan &value)> &fn) {
    Parser(data, size, what).walk(false, nullptr, &fn);
}

void writeJsonText(std::string &out, const Value &root) {
    // iterative, like the parser: a stack of (container, position)
    struct Frame {
        const Value *v;
        Value::const_iterator it;
        bool first;
    };
    std::vector<Frame> stack;
    const Value *v = &root;
    for (;;) {
        switch (v->type()) {
        case Value::value_t::null:
            out += "null";
            break;
        case Value::value_t::boolean:
            out += v->get<bool>() ? "true" : "false";
            break;
        case Value::value_t::number_integer:
            out += std::to_string(v->get<int64_t>());
            break;
        case Value::value_t::number_unsigned:
            out += std::to_string(v->get<uint64_t>());
            break;
        case Value::value_t::number_float:
            writeDouble(out, v->get<double>());
            break;
        case Value::value_t::string:
            writeJsonString(out, v->get_ref<const std::string &>());
            break;
        case Value::value_t::array:
        case Value::value_t::object:
            out += v->is_array() ? '[' : '{';
            stack.push_back({v, v->cbegin(), true});
            break;
        default:
            fail(ErrorCode::InvalidArgument, "binary values have no JSON text");
        }
        // next value: the next member of the innermost open container, closing finished ones
        for (;;) {
            if (stack.empty())
                return;
            Frame &f = stack.back();
            if (f.it == f.v->cend()) {
                out += f.v->is_array() ? ']' : '}';
                stack.pop_back();
                continue;
            }
            if (!f.first)
                out += ',';
            f.first = false;
            if (f.v->is_object()) {
                writeJsonString(out, f.it.key());
                out += ':';
            }
            v = &*f.it;
            ++f.it;
            break;
        }
    }
}

} // namespace syncore
