// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_CHECK_H
#define TRACERING_COMMON_CHECK_H

//! Invariants of tracering's own code, never of its input: bad input from a consumer, a
//! segment or a file is an Error, not a failed check.
//!
//!   TRACERING_CHECK(cond)   always evaluated; aborts with the file, line and condition.
//!                           For cold paths (setup, layout), where a broken invariant would
//!                           otherwise corrupt memory.
//!   TRACERING_DCHECK(cond)  evaluated in debug builds and in sanitizer builds
//!                           (TRACERING_ENABLE_DCHECK, set by TRACERING_SANITIZERS); compiled
//!                           out otherwise, so it costs the hot path nothing.

#include <cstdio>
#include <cstdlib>

namespace tracering::detail {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition) noexcept
{
    std::fprintf(stderr, "tracering: %s:%d: internal check failed: %s\n", file, line, condition);
    std::abort();
}

} // namespace tracering::detail

#define TRACERING_CHECK(condition)                                                                 \
    do {                                                                                           \
        if (!(condition)) [[unlikely]]                                                             \
            ::tracering::detail::CheckFailed(__FILE__, __LINE__, #condition);                      \
    } while (false)

#if !defined(NDEBUG) || defined(TRACERING_ENABLE_DCHECK)
#define TRACERING_DCHECK(condition) TRACERING_CHECK(condition)
#else
#define TRACERING_DCHECK(condition)                                                                \
    do {                                                                                           \
        if (false) (void)(condition);                                                              \
    } while (false)
#endif

#endif // TRACERING_COMMON_CHECK_H
