// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Tracepoints TRACERING_FORWARD must refuse at compile time. Each case is compiled alone by
// tests/CMakeLists.txt (-DTRACERING_CASE_<name>), which checks the compiler's message; the OK
// case must compile, so a failure of the others cannot come from anything else.

#include <tracering/tracepoint.h>

#include <cstdint>

void Case()
{
#if defined(TRACERING_CASE_OK)
    TRACERING_FORWARD(mempool, added, static_cast<const void*>(nullptr), int32_t{1}, int64_t{2});
    TRACERING_FORWARD(test, anything_at_all, 1, 2, 3);
#elif defined(TRACERING_CASE_UNKNOWN_EVENT)
    // A tracepoint in a context tracering has a ring for, with an event it does not know.
    TRACERING_FORWARD(mempool, evicted, static_cast<const void*>(nullptr));
#elif defined(TRACERING_CASE_UNKNOWN_EVENT_ACTIVE)
    (void)TRACERING_FORWARD_ACTIVE(net, new_message_kind);
#elif defined(TRACERING_CASE_NARROWING)
    // mempool:added's vsize is int32_t; an int64_t would be cut silently.
    const int64_t vsize = 1;
    TRACERING_FORWARD(mempool, added, static_cast<const void*>(nullptr), vsize, int64_t{2});
#elif defined(TRACERING_CASE_ARGUMENT_COUNT)
    TRACERING_FORWARD(mempool, added, static_cast<const void*>(nullptr), int32_t{1});
#else
#error "compile with -DTRACERING_CASE_<name>"
#endif
}
