// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EVENTS_H
#define TRACERING_EVENTS_H

//! @file
//! The catalogue of rings (subsystems) and event types. Part of the ABI: the numbers are
//! stored in every record and are assigned once, never reused. Type 0 is padding.
//!
//! Everything here follows from schemas/*.fbs: the `tracering.Ring` enum gives the rings, and
//! each table with `(event: N)` in namespace `tracering.<ring>` is an event of that ring with
//! record type N. The build derives tracering/catalogue_generated.h from them
//! (src/catalogue/catalogue_gen.cpp); adding an event is one schema edit plus its emitter.

#include <tracering/catalogue_generated.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace tracering {

//! One ring per subsystem. The value is the ring's index in the segment.
enum class Subsystem : uint16_t {
#define TRACERING_X(Ring, ring, index) Ring = index,
    TRACERING_FOR_EACH_RING(TRACERING_X)
#undef TRACERING_X
};
inline constexpr uint32_t SUBSYSTEM_COUNT = TRACERING_RING_COUNT;

//! Record types: `Net` + `InboundMessage` for table tracering.net.InboundMessage. Grouped by
//! ring; the groups leave room for events added later.
enum class EventType : uint16_t {
    Padding = 0,
#define TRACERING_X(Ring, ring, Table, event, type) Ring##Table = type,
    TRACERING_FOR_EACH_EVENT(TRACERING_X)
#undef TRACERING_X
    //! First type free for embedders' own events (tests, benchmarks, other programs).
    UserFirst = 0x8000,
};

//! Event types of one ring are `RingFirstType(ring) + i` for i in [0, EVENTS_PER_RING_MAX).
inline constexpr uint32_t EVENTS_PER_RING_MAX = 64;
constexpr uint16_t RingFirstType(Subsystem s) noexcept
{
    return static_cast<uint16_t>(static_cast<uint16_t>(s) * EVENTS_PER_RING_MAX);
}

struct EventInfo {
    EventType type;
    Subsystem subsystem;
    std::string_view context; //!< Bitcoin Core's tracepoint context, e.g. "net"
    std::string_view name;    //!< Bitcoin Core's tracepoint name, e.g. "inbound_message"
};

//! Every event this build knows, by type.
inline constexpr std::array<EventInfo, TRACERING_EVENT_COUNT> EVENTS{{
#define TRACERING_X(Ring, ring, Table, event, type)                                                \
    {EventType::Ring##Table, Subsystem::Ring, #ring, #event},
    TRACERING_FOR_EACH_EVENT(TRACERING_X)
#undef TRACERING_X
}};

//! Ring names as they appear in the segment's ring table, indexed by Subsystem.
inline constexpr std::array<std::string_view, SUBSYSTEM_COUNT> SUBSYSTEM_NAMES{
#define TRACERING_X(Ring, ring, index) #ring,
    TRACERING_FOR_EACH_RING(TRACERING_X)
#undef TRACERING_X
};

//! The subsystem whose ring carries `type` (meaningful for types below UserFirst).
constexpr Subsystem SubsystemOf(EventType type) noexcept
{
    return static_cast<Subsystem>(static_cast<uint16_t>(type) / EVENTS_PER_RING_MAX);
}

//! The EventInfo for `type`, or nullptr for padding, user and unknown types.
constexpr const EventInfo* FindEvent(EventType type) noexcept
{
    for (const EventInfo& e : EVENTS) {
        if (e.type == type) return &e;
    }
    return nullptr;
}

//! The EventInfo named "context:name" or just "name" within `ring`, or nullptr.
constexpr const EventInfo* FindEvent(std::string_view ring, std::string_view name) noexcept
{
    for (const EventInfo& e : EVENTS) {
        if (e.context == ring && e.name == name) return &e;
    }
    return nullptr;
}

namespace detail {
//! The catalogue's rules, checked by the compiler (the generator checks them as well, with
//! messages; these keep a hand-edited catalogue_generated.h honest).
constexpr bool CatalogueIsValid() noexcept
{
    for (size_t i = 0; i < EVENTS.size(); ++i) {
        const auto type = static_cast<uint16_t>(EVENTS[i].type);
        if (type == 0 || type >= static_cast<uint16_t>(EventType::UserFirst)) return false;
        if (SubsystemOf(EVENTS[i].type) != EVENTS[i].subsystem) return false;
        if (static_cast<uint32_t>(EVENTS[i].subsystem) >= SUBSYSTEM_COUNT) return false;
        if (EVENTS[i].context != SUBSYSTEM_NAMES[static_cast<uint32_t>(EVENTS[i].subsystem)]) {
            return false;
        }
        if (i > 0 && static_cast<uint16_t>(EVENTS[i - 1].type) >= type) return false;
    }
    return true;
}
static_assert(CatalogueIsValid(), "schemas/*.fbs: every event must be numbered inside its "
                                  "ring's range, once, and listed by type");
} // namespace detail

//! Tracepoint names as constants, for TRACERING_TRACEPOINT(context, event, ...):
//! `tp::net::inbound_message` is EventType::NetInboundMessage.
#define TRACERING_X(Ring, ring, Table, event, type)                                                \
    namespace tp::ring {                                                                           \
    inline constexpr EventType event = EventType::Ring##Table;                                     \
    }
TRACERING_FOR_EACH_EVENT(TRACERING_X)
#undef TRACERING_X

} // namespace tracering

#endif // TRACERING_EVENTS_H
