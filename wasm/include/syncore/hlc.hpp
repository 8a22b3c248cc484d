#pragma once
// Hybrid logical clock: 48 bits of physical milliseconds, 16 bits of logical counter, packed in one
// uint64 so that comparing two packed values compares (ms, counter).
#include <cstdint>
#include <functional>

namespace syncore {

namespace hlc {
constexpr uint64_t kLogicalBits = 16;
inline uint64_t pack(uint64_t ms, uint64_t counter) { return (ms << kLogicalBits) | (counter & 0xffff); }
inline uint64_t physicalMs(uint64_t h) { return h >> kLogicalBits; }
inline uint64_t logical(uint64_t h) { return h & 0xffff; }
} // namespace hlc

/** Milliseconds since the Unix epoch from the system clock. */
uint64_t systemNowMs();

/**
 * The local clock of a replica: next() = max(wall clock, highest stamp seen) + 1, so local writes always
 * win over everything this replica has seen, and a fast remote clock cannot make local writes lose.
 */
class Clock {
  public:
    using Source = std::function<uint64_t()>;
    explicit Clock(Source source = nullptr);

    uint64_t next();
    /** Records a stamp seen in a remote change. */
    void observe(uint64_t h) {
        if (h > m_last)
            m_last = h;
    }
    uint64_t last() const { return m_last; }
    uint64_t nowMs() const;
    void setSource(Source source) { m_source = std::move(source); }

  private:
    Source m_source;
    uint64_t m_last = 0;
};

} // namespace syncore
