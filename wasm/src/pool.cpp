// The size-class pool of pool.hpp.
#include "pool.hpp"

#include <cstdint>

namespace syncore {
namespace pool {

namespace {

constexpr size_t kGranule = 16;
constexpr size_t kClasses = kMaxBytes / kGranule;
constexpr size_t kFirstSlab = 32 * 1024; // a store of a few documents costs little
constexpr size_t kLargestSlab = 1 << 20; // slabs double up to this

struct FreeBlock {
    FreeBlock *next;
};

// Trivially destructible on purpose: blocks may be freed while thread-local and static objects are
// destroyed at exit (cells in reused scratch buffers), after a pool with a destructor would be gone.
struct Pool {
    FreeBlock *free[kClasses];
    char *bump;
    char *end;
    size_t slabs;
    size_t slabBytes;
};
thread_local Pool t_pool{};

inline size_t classOf(size_t bytes) { return (bytes + kGranule - 1) / kGranule - 1; }

void pushFree(Pool &p, char *block, size_t bytes) {
    auto *f = reinterpret_cast<FreeBlock *>(block);
    size_t c = bytes / kGranule - 1;
    f->next = p.free[c];
    p.free[c] = f;
}

// A new slab; what is left of the old one goes to the free lists (whole granules, largest class first).
void refill(Pool &p, size_t need) {
    size_t rest = static_cast<size_t>(p.end - p.bump);
    while (rest >= kGranule) {
        size_t take = rest < kMaxBytes ? rest / kGranule * kGranule : kMaxBytes;
        pushFree(p, p.bump, take);
        p.bump += take;
        rest -= take;
    }
    size_t size = p.slabs < 6 ? kFirstSlab << p.slabs : kLargestSlab;
    if (size < need)
        size = need;
    p.bump = static_cast<char *>(::operator new(size)); // never freed: reused through the free lists
    p.end = p.bump + size;
    ++p.slabs;
    p.slabBytes += size;
}

} // namespace

void *allocate(size_t bytes) {
    if (bytes == 0 || bytes > kMaxBytes)
        return ::operator new(bytes);
    Pool &p = t_pool;
    const size_t c = classOf(bytes);
    if (FreeBlock *f = p.free[c]) {
        p.free[c] = f->next;
        return f;
    }
    const size_t size = (c + 1) * kGranule;
    if (static_cast<size_t>(p.end - p.bump) < size)
        refill(p, size);
    void *out = p.bump;
    p.bump += size;
    return out;
}

void deallocate(void *ptr, size_t bytes) noexcept {
    if (!ptr)
        return;
    if (bytes == 0 || bytes > kMaxBytes) {
        ::operator delete(ptr);
        return;
    }
    Pool &p = t_pool;
    auto *f = static_cast<FreeBlock *>(ptr);
    const size_t c = classOf(bytes);
    f->next = p.free[c];
    p.free[c] = f;
}

size_t slabBytes() { return t_pool.slabBytes; }

} // namespace pool
} // namespace syncore
