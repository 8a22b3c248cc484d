#include "syncore/site_id.hpp"

#include <random>

#include "syncore/error.hpp"

namespace syncore {

SiteId SiteId::random() {
    std::random_device rd; // crypto.getRandomValues under Emscripten, /dev/urandom natively
    SiteId s;
    for (size_t i = 0; i < s.bytes.size(); i += 4) {
        uint32_t v = rd();
        for (size_t j = 0; j < 4; ++j)
            s.bytes[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    if (s.isZero())
        s.bytes[0] = 1; // zero is reserved for "no site"
    return s;
}

static int hexDigit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

SiteId SiteId::fromHex(const std::string &hex) {
    if (hex.size() != 32)
        fail(ErrorCode::InvalidArgument, "site id must be 32 hex digits, got '" + hex + "'");
    SiteId s;
    for (size_t i = 0; i < 16; ++i) {
        int hi = hexDigit(hex[2 * i]), lo = hexDigit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            fail(ErrorCode::InvalidArgument, "site id must be 32 hex digits, got '" + hex + "'");
        s.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return s;
}

std::string SiteId::hex() const {
    static const char *digits = "0123456789abcdef";
    std::string out(32, '0');
    for (size_t i = 0; i < 16; ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    return out;
}

bool SiteId::isZero() const {
    for (auto b : bytes)
        if (b)
            return false;
    return true;
}

} // namespace syncore
