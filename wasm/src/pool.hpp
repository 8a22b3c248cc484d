#pragma once
// Small blocks for what every document holds: its field rows and its long string or packed values
// (docs/ARCHITECTURE.md, "Memory layout": "Decision: documents' small blocks come from a size-class pool").
//
// Blocks of up to kMaxBytes come from per-thread free lists, one per 16-byte size class, carved from
// slabs that are never given back (they are reused by later blocks of the same class). No header per
// block: the caller passes the size back on deallocate, as std::allocator and Cell both know it. Larger
// blocks go to operator new. Only WebAssembly builds use it for documents (acquire, below), so the
// native sanitizer and fuzz builds see every document block through operator new.
#include <cstddef>
#include <new>

namespace syncore {
namespace pool {

constexpr size_t kMaxBytes = 1024;

void *allocate(size_t bytes);
void deallocate(void *p, size_t bytes) noexcept;

/** Bytes of slab memory obtained so far by this thread (what the pool holds, used or free). */
size_t slabBytes();

// Where documents' blocks come from. In WebAssembly, the pool: emscripten's dlmalloc made the benchmark's
// insert 15-20% and its load 12% slower than the pool does. Natively, glibc's malloc: there the pool saved
// 4% on the insert but made the load 13% slower (docs/ARCHITECTURE.md, "Memory layout").
#if defined(__EMSCRIPTEN__)
inline void *acquire(size_t bytes) { return allocate(bytes); }
inline void release(void *p, size_t bytes) noexcept { deallocate(p, bytes); }
#else
inline void *acquire(size_t bytes) { return ::operator new(bytes); }
inline void release(void *p, size_t) noexcept { ::operator delete(p); }
#endif

/** std::allocator's interface over acquire/release. Stateless: blocks may be freed by any instance. */
template <typename T> struct Allocator {
    using value_type = T;
    Allocator() noexcept = default;
    template <typename U> Allocator(const Allocator<U> &) noexcept {}
    T *allocate(size_t n) {
        if (n > static_cast<size_t>(-1) / sizeof(T))
            throw std::bad_alloc();
        return static_cast<T *>(acquire(n * sizeof(T)));
    }
    void deallocate(T *p, size_t n) noexcept { release(p, n * sizeof(T)); }
    template <typename U> bool operator==(const Allocator<U> &) const noexcept { return true; }
    template <typename U> bool operator!=(const Allocator<U> &) const noexcept { return false; }
};

} // namespace pool
} // namespace syncore
