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

} // namespace tracering::detail

#endif // TRACERING_COMMON_CPU_H
