// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "common/cpu.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace tracering::detail {

#if defined(__x86_64__) || defined(__i386__)
namespace {

bool DetectClflushopt() noexcept
{
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    return (ebx >> 23) & 1;
}

// Only called once DetectClflushopt() said yes: the instruction is not part of baseline x86-64.
__attribute__((target("clflushopt"))) void Clflushopt(const void* first, size_t count) noexcept
{
    const char* p = static_cast<const char*>(first);
    for (size_t i = 0; i < count; ++i)
        _mm_clflushopt(const_cast<char*>(p + i * EVICT_LINE));
}

} // namespace

bool CanEvictLines() noexcept
{
    static const bool can = DetectClflushopt();
    return can;
}

void EvictLines(const void* first, size_t count) noexcept
{
    if (CanEvictLines()) Clflushopt(first, count);
}

#else

bool CanEvictLines() noexcept { return false; }
void EvictLines(const void*, size_t) noexcept {}

#endif

} // namespace tracering::detail
