// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TRACEPOINT_H
#define TRACERING_TRACEPOINT_H

//! @file
//! `TRACERING_TRACEPOINT(context, event, ...)`, the drop-in for Bitcoin Core's
//! `TRACEPOINT(context, event, ...)` (src/util/trace.h), with the same contract:
//!
//!  - the arguments are evaluated only while a reader has that event enabled;
//!  - while nobody listens, the cost is one relaxed load of process-local memory and a
//!    predicted branch (no shared memory is touched, no function is called);
//!  - it never blocks the calling thread on a consumer and never throws.
//!
//! The arguments are exactly those of today's USDT tracepoint, so moving a call site is a
//! one-line change:
//!
//!     TRACEPOINT(net, inbound_message, node.GetId(), ...);          // USDT
//!     TRACERING_TRACEPOINT(net, inbound_message, node.GetId(), ...); // tracering
//!
//! Expensive argument preparation can be guarded with TRACERING_TRACEPOINT_ACTIVE.

#include <tracering/bitcoin/coin_selection.h>
#include <tracering/bitcoin/mempool.h>
#include <tracering/bitcoin/net.h>
#include <tracering/bitcoin/utxocache.h>
#include <tracering/bitcoin/validation.h>
#include <tracering/events.h>

#include <atomic>
#include <cstdint>

namespace tracering::detail {

class RingWriter;

inline constexpr uint32_t EVENT_SLOTS = SUBSYSTEM_COUNT * EVENTS_PER_RING_MAX;

//! Process-local switch of every event type, indexed by EventType value: the writer of the
//! event's ring while a reader has the event enabled, nullptr otherwise.
//! Writer: the installed Producer (EnableRing/DisableRing, a cursor violation), relaxed store;
//! the ring's own state is published by the writer lock taken inside RingWriter.
//! Readers: every tracepoint, relaxed load. The pointer is only a hint that work may be done;
//! the writer re-checks that the ring is enabled under its lock.
extern std::atomic<RingWriter*> g_event_writers[EVENT_SLOTS];

inline bool EventActive(EventType type) noexcept
{
    return g_event_writers[static_cast<uint16_t>(type)].load(std::memory_order_relaxed) != nullptr;
}

} // namespace tracering::detail

#if defined(__GNUC__) || defined(__clang__)
#define TRACERING_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TRACERING_UNLIKELY(x) (x)
#endif

#define TRACERING_TRACEPOINT_ACTIVE(context, event)                                                \
    (::tracering::detail::EventActive(::tracering::tp::context::event))

#define TRACERING_TRACEPOINT(context, event, ...)                                                  \
    do {                                                                                           \
        if (TRACERING_UNLIKELY(TRACERING_TRACEPOINT_ACTIVE(context, event))) {                     \
            ::tracering::bitcoin::context::event(__VA_ARGS__);                                     \
        }                                                                                          \
    } while (0)

#endif // TRACERING_TRACEPOINT_H
