#include "syncore/hlc.hpp"

#include <chrono>

namespace syncore {

uint64_t systemNowMs() {
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

Clock::Clock(Source source) : m_source(std::move(source)) {}

uint64_t Clock::nowMs() const { return m_source ? m_source() : systemNowMs(); }

uint64_t Clock::next() {
    uint64_t wall = hlc::pack(nowMs(), 0);
    m_last = wall > m_last ? wall : m_last + 1;
    return m_last;
}

} // namespace syncore
