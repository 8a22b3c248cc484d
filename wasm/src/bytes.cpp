// Reader's slow paths (bytes.hpp): varints of more than one byte, and the errors.
#include "syncore/bytes.hpp"

namespace syncore {

void Reader::truncated(const char *what) {
    fail(ErrorCode::Decode, std::string("truncated input while reading ") + what);
}

uint64_t Reader::varintLong(const char *what) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        need(1, what);
        uint8_t b = *m_p++;
        if (shift == 63 && b > 1)
            break;
        v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail(ErrorCode::Decode, std::string("malformed varint in ") + what);
}

} // namespace syncore
