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
//!
//! A node that keeps its own `TRACEPOINT` macro and forwards every tracepoint to tracering
//! (Bitcoin Core's patched src/util/trace.h, in contrib/bitcoin-core/) uses
//! TRACERING_FORWARD_ACTIVE and TRACERING_FORWARD instead: they also accept tracepoints of
//! contexts tracering has no ring for (Bitcoin Core's unit tests use `test`), which compile to
//! nothing, and they refuse at compile time an event tracering does not know in a context it
//! does, and an argument that would be narrowed on its way to the typed emitter.

#include <tracering/bitcoin/coin_selection.h>
#include <tracering/bitcoin/mempool.h>
#include <tracering/bitcoin/net.h>
#include <tracering/bitcoin/utxocache.h>
#include <tracering/bitcoin/validation.h>
#include <tracering/events.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

namespace tracering::detail {

class RingWriter;

inline constexpr uint32_t EVENT_SLOTS = SUBSYSTEM_COUNT * EVENTS_PER_RING_MAX;

//! Process-local switch of every event type, indexed by EventType value: the writer of the
//! event's ring while some reader has the event enabled, nullptr otherwise.
//! Writer: the installed Producer (RingWriter::RecomputeLocked when a reader is added,
//! removed or detached, and at Seal), relaxed store under the ring's slow-path lock.
//! Readers: every tracepoint, relaxed load. The pointer is only a hint that work may be done;
//! the writer re-checks that the ring is enabled, and a sealed ring refuses the reservation.
extern std::atomic<RingWriter*> g_event_writers[EVENT_SLOTS];

inline bool EventActive(EventType type) noexcept
{
    return g_event_writers[static_cast<uint16_t>(type)].load(std::memory_order_relaxed) != nullptr;
}

//! ForwardedType's answer for an event tracering has no type for, in a context it has a ring
//! for. Never stored anywhere; it only makes TRACERING_FORWARD fail to compile.
inline constexpr EventType FORWARD_UNKNOWN_EVENT = static_cast<EventType>(0xffff);

//! The event type of the embedder's tracepoint `context:event`: EventType::Padding when
//! tracering has no ring named `context` (such tracepoints are not forwarded), and
//! FORWARD_UNKNOWN_EVENT when it has the ring but no event of that name.
constexpr EventType ForwardedType(std::string_view context, std::string_view event) noexcept
{
    bool traced_context = false;
    for (std::string_view ring : SUBSYSTEM_NAMES) {
        if (ring == context) traced_context = true;
    }
    if (!traced_context) return EventType::Padding;
    // Compared by value, not through FindEvent's pointer: with sanitizers GCC does not treat
    // comparing a pointer into EVENTS with null as a constant expression.
    for (const EventInfo& e : EVENTS) {
        if (e.context == context && e.name == event) return e.type;
    }
    return FORWARD_UNKNOWN_EVENT;
}

//! The typed emitter of each event type (tracering/bitcoin/*.h); `fn` is nullptr for types
//! that have none.
template <EventType T>
struct Emitter {
    static constexpr std::nullptr_t fn = nullptr;
};
#define TRACERING_DETAIL_EMITTER(context, event)                                                   \
    template <>                                                                                    \
    struct Emitter<tp::context::event> {                                                           \
        static constexpr auto fn = &::tracering::bitcoin::context::event;                          \
    }
TRACERING_DETAIL_EMITTER(net, inbound_message);
TRACERING_DETAIL_EMITTER(net, outbound_message);
TRACERING_DETAIL_EMITTER(net, inbound_connection);
TRACERING_DETAIL_EMITTER(net, outbound_connection);
TRACERING_DETAIL_EMITTER(net, evicted_inbound_connection);
TRACERING_DETAIL_EMITTER(net, misbehaving_connection);
TRACERING_DETAIL_EMITTER(net, closed_connection);
TRACERING_DETAIL_EMITTER(validation, block_connected);
TRACERING_DETAIL_EMITTER(utxocache, flush);
TRACERING_DETAIL_EMITTER(utxocache, add);
TRACERING_DETAIL_EMITTER(utxocache, spent);
TRACERING_DETAIL_EMITTER(utxocache, uncache);
TRACERING_DETAIL_EMITTER(coin_selection, selected_coins);
TRACERING_DETAIL_EMITTER(coin_selection, normal_create_tx_internal);
TRACERING_DETAIL_EMITTER(coin_selection, attempting_aps_create_tx);
TRACERING_DETAIL_EMITTER(coin_selection, aps_create_tx_internal);
TRACERING_DETAIL_EMITTER(mempool, added);
TRACERING_DETAIL_EMITTER(mempool, removed);
TRACERING_DETAIL_EMITTER(mempool, replaced);
TRACERING_DETAIL_EMITTER(mempool, rejected);
#undef TRACERING_DETAIL_EMITTER

template <size_t... I>
constexpr bool EveryEventHasAnEmitter(std::index_sequence<I...>) noexcept
{
    return (!std::is_same_v<decltype(Emitter<EVENTS[I].type>::fn), const std::nullptr_t> && ...);
}
// A schema set that adds events only for WriteRaw (tests/evolution/evolution.cmake) opts out.
#ifndef TRACERING_ALLOW_EVENTS_WITHOUT_EMITTER
static_assert(EveryEventHasAnEmitter(std::make_index_sequence<EVENTS.size()>{}),
              "an event of EVENTS (events.h) has no emitter in tracepoint.h");
#endif

//! `To` initialised from `From` without a narrowing conversion (list-initialisation rules).
template <typename To>
struct Holder {
    To value;
};
template <typename From, typename To, typename = void>
struct ConvertsWithoutNarrowing : std::false_type {
};
template <typename From, typename To>
struct ConvertsWithoutNarrowing<From, To, std::void_t<decltype(Holder<To>{std::declval<From>()})>>
    : std::true_type {
};

template <typename... Params, typename... Args>
inline void CallEmitter(void (*emit)(Params...) noexcept, Args&&... args) noexcept
{
    static_assert(sizeof...(Params) == sizeof...(Args),
                  "this tracepoint gives another number of arguments than its tracering event "
                  "takes (see the emitter in tracering/bitcoin/<context>.h)");
    static_assert((ConvertsWithoutNarrowing<Args&&, Params>::value && ...),
                  "an argument of this tracepoint does not convert to its tracering event's "
                  "field without narrowing (see the emitter in tracering/bitcoin/<context>.h)");
    emit(std::forward<Args>(args)...);
}

//! Fails to compile for FORWARD_UNKNOWN_EVENT, saying what to do.
template <EventType T>
constexpr void RequireForwardable() noexcept
{
    static_assert(T != FORWARD_UNKNOWN_EVENT,
                  "tracering has a ring for this tracepoint's context but no event of this "
                  "name: add the event to tracering (schemas/, events.h, tracering/bitcoin/)");
}

template <EventType T>
inline bool ForwardActive() noexcept
{
    RequireForwardable<T>();
    if constexpr (T == EventType::Padding) {
        return false;
    } else {
        return EventActive(T);
    }
}

template <EventType T, typename... Args>
inline void Forward([[maybe_unused]] Args&&... args) noexcept
{
    RequireForwardable<T>();
    if constexpr (T != EventType::Padding) {
        CallEmitter(Emitter<T>::fn, std::forward<Args>(args)...);
    }
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

//! True while a reader has the embedder's tracepoint `context:event` enabled; a constant false
//! for contexts tracering has no ring for. One relaxed load, like TRACERING_TRACEPOINT_ACTIVE.
#define TRACERING_FORWARD_ACTIVE(context, event)                                                   \
    (::tracering::detail::ForwardActive<::tracering::detail::ForwardedType(#context, #event)>())

//! Writes the embedder's tracepoint `context:event` with its arguments, each converted to the
//! typed emitter's parameter (no narrowing allowed); nothing for contexts tracering has no
//! ring for. Check TRACERING_FORWARD_ACTIVE first: this evaluates its arguments.
#define TRACERING_FORWARD(context, event, ...)                                                     \
    ::tracering::detail::Forward<::tracering::detail::ForwardedType(#context, #event)>(__VA_ARGS__)

#endif // TRACERING_TRACEPOINT_H
