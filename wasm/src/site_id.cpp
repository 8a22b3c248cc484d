#include "syncore/site_id.hpp"

#include <unistd.h> // getentropy (glibc 2.25+, musl, Emscripten)

#include "syncore/error.hpp"

namespace syncore {

SiteId SiteId::random() {
    // crypto.getRandomValues under Emscripten, getrandom(2) natively. Not std::random_device: its
    // std::system_error path pulls printf into the WebAssembly module (docs/ARCHITECTURE.md, "Module size").
    SiteId s;
    if (::getentropy(s.bytes.data(), s.bytes.size()) != 0)
        fail(ErrorCode::Internal, "no random source for a new site id");
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
