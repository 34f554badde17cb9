// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_CPU_H
#define TRACERING_COMMON_CPU_H

#include <cstddef>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tracering::detail {

//! Tells the CPU we are spinning (x86 `pause`, ARM `yield`): cheaper for the sibling thread
//! and for the memory system than a tight loop.
inline void CpuRelax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

//! Asks for the cache line at `p` in a state this core may write (x86 `prefetchw`, a hint
//! NOP on CPUs without it), so that stores to it later do not wait for it.
inline void PrefetchForWrite(const void* p) noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

//! The bytes one EvictLines() line covers: the smallest cache line of x86-64 CPUs, which
//! `clflushopt` flushes whole (abi.h's CACHE_LINE is the padding against false sharing).
inline constexpr size_t EVICT_LINE = 64;

//! Whether EvictLines() does anything on this CPU: x86 with `clflushopt` (CPUID leaf 7,
//! EBX bit 23). Computed once.
bool CanEvictLines() noexcept;

//! Writes back and drops from every cache of the machine the `count` lines of EVICT_LINE bytes
//! from `first` (EVICT_LINE-aligned), without waiting for it (`clflushopt`: unordered with other
//! lines, so it takes a few cycles per line). A reader calls it on lines it will not read
//! again, so that the writer's next store to them finds no copy to take back from this
//! core. Needs only read access; nothing where CanEvictLines() is false.
void EvictLines(const void* first, size_t count) noexcept;

} // namespace tracering::detail

#endif // TRACERING_COMMON_CPU_H
