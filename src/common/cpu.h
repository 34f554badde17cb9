// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_CPU_H
#define TRACERING_COMMON_CPU_H

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

} // namespace tracering::detail

#endif // TRACERING_COMMON_CPU_H
