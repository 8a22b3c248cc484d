#include "syncore/hlc.hpp"

#include <time.h>

namespace syncore {

uint64_t systemNowMs() {
    // clock_gettime rather than std::chrono::system_clock, whose std::system_error path pulls printf
    // into the WebAssembly module (docs/ARCHITECTURE.md, "Module size")
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

Clock::Clock(Source source) : m_source(std::move(source)) {}

uint64_t Clock::nowMs() const { return m_source ? m_source() : systemNowMs(); }

uint64_t Clock::next() {
    uint64_t wall = hlc::pack(nowMs(), 0);
    m_last = wall > m_last ? wall : m_last + 1;
    return m_last;
}

} // namespace syncore
