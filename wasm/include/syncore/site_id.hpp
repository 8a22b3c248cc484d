#pragma once
// A replica's identity: 128 random bits, persisted with its data. Also the last tie-break of stamps.
#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace syncore {

struct SiteId {
    std::array<uint8_t, 16> bytes{};

    static SiteId random();
    /** Parses 32 hex digits; throws Error(InvalidArgument) otherwise. */
    static SiteId fromHex(const std::string &hex);
    std::string hex() const;
    bool isZero() const;

    friend bool operator==(const SiteId &a, const SiteId &b) { return a.bytes == b.bytes; }
    friend bool operator!=(const SiteId &a, const SiteId &b) { return a.bytes != b.bytes; }
    friend bool operator<(const SiteId &a, const SiteId &b) { return a.bytes < b.bytes; }
};

struct SiteIdHash {
    size_t operator()(const SiteId &s) const noexcept {
        uint64_t h = 0;
        for (int i = 0; i < 8; ++i)
            h = (h << 8) | s.bytes[i];
        return static_cast<size_t>(h ^ (h >> 29));
    }
};

} // namespace syncore
