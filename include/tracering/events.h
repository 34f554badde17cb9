// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EVENTS_H
#define TRACERING_EVENTS_H

//! @file
//! The catalogue of rings (subsystems) and event types. Part of the ABI: the numbers are
//! stored in every record and are assigned once, never reused. Type 0 is padding.

#include <array>
#include <cstdint>
#include <string_view>

namespace tracering {

//! One ring per subsystem. The value is the ring's index in the segment.
enum class Subsystem : uint16_t {
    Net = 0,
    Mempool = 1,
    Utxocache = 2,
    Validation = 3,
    CoinSelection = 4,
};
inline constexpr uint32_t SUBSYSTEM_COUNT = 5;

//! Record types. Grouped by ring; the groups leave room for events added later.
enum class EventType : uint16_t {
    Padding = 0,

    NetInboundMessage = 1,
    NetOutboundMessage = 2,
    NetInboundConnection = 3,
    NetOutboundConnection = 4,
    NetEvictedInboundConnection = 5,
    NetMisbehavingConnection = 6,
    NetClosedConnection = 7,

    MempoolAdded = 64,
    MempoolRemoved = 65,
    MempoolReplaced = 66,
    MempoolRejected = 67,

    UtxocacheFlush = 128,
    UtxocacheAdd = 129,
    UtxocacheSpent = 130,
    UtxocacheUncache = 131,

    ValidationBlockConnected = 192,

    CoinSelectionSelectedCoins = 256,
    CoinSelectionNormalCreateTxInternal = 257,
    CoinSelectionAttemptingApsCreateTx = 258,
    CoinSelectionApsCreateTxInternal = 259,

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

//! Every Bitcoin Core tracepoint, in the order of its documentation.
inline constexpr std::array<EventInfo, 20> EVENTS{{
    {EventType::NetInboundMessage, Subsystem::Net, "net", "inbound_message"},
    {EventType::NetOutboundMessage, Subsystem::Net, "net", "outbound_message"},
    {EventType::NetInboundConnection, Subsystem::Net, "net", "inbound_connection"},
    {EventType::NetOutboundConnection, Subsystem::Net, "net", "outbound_connection"},
    {EventType::NetEvictedInboundConnection, Subsystem::Net, "net", "evicted_inbound_connection"},
    {EventType::NetMisbehavingConnection, Subsystem::Net, "net", "misbehaving_connection"},
    {EventType::NetClosedConnection, Subsystem::Net, "net", "closed_connection"},
    {EventType::ValidationBlockConnected, Subsystem::Validation, "validation", "block_connected"},
    {EventType::UtxocacheFlush, Subsystem::Utxocache, "utxocache", "flush"},
    {EventType::UtxocacheAdd, Subsystem::Utxocache, "utxocache", "add"},
    {EventType::UtxocacheSpent, Subsystem::Utxocache, "utxocache", "spent"},
    {EventType::UtxocacheUncache, Subsystem::Utxocache, "utxocache", "uncache"},
    {EventType::CoinSelectionSelectedCoins, Subsystem::CoinSelection, "coin_selection",
     "selected_coins"},
    {EventType::CoinSelectionNormalCreateTxInternal, Subsystem::CoinSelection, "coin_selection",
     "normal_create_tx_internal"},
    {EventType::CoinSelectionAttemptingApsCreateTx, Subsystem::CoinSelection, "coin_selection",
     "attempting_aps_create_tx"},
    {EventType::CoinSelectionApsCreateTxInternal, Subsystem::CoinSelection, "coin_selection",
     "aps_create_tx_internal"},
    {EventType::MempoolAdded, Subsystem::Mempool, "mempool", "added"},
    {EventType::MempoolRemoved, Subsystem::Mempool, "mempool", "removed"},
    {EventType::MempoolReplaced, Subsystem::Mempool, "mempool", "replaced"},
    {EventType::MempoolRejected, Subsystem::Mempool, "mempool", "rejected"},
}};

//! Ring names as they appear in the segment's ring table, indexed by Subsystem.
inline constexpr std::array<std::string_view, SUBSYSTEM_COUNT> SUBSYSTEM_NAMES{
    "net", "mempool", "utxocache", "validation", "coin_selection"};

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

//! Tracepoint names as constants, for TRACERING_TRACEPOINT(context, event, ...):
//! `tp::net::inbound_message` is EventType::NetInboundMessage.
namespace tp {
namespace net {
inline constexpr EventType inbound_message = EventType::NetInboundMessage;
inline constexpr EventType outbound_message = EventType::NetOutboundMessage;
inline constexpr EventType inbound_connection = EventType::NetInboundConnection;
inline constexpr EventType outbound_connection = EventType::NetOutboundConnection;
inline constexpr EventType evicted_inbound_connection = EventType::NetEvictedInboundConnection;
inline constexpr EventType misbehaving_connection = EventType::NetMisbehavingConnection;
inline constexpr EventType closed_connection = EventType::NetClosedConnection;
} // namespace net
namespace validation {
inline constexpr EventType block_connected = EventType::ValidationBlockConnected;
} // namespace validation
namespace utxocache {
inline constexpr EventType flush = EventType::UtxocacheFlush;
inline constexpr EventType add = EventType::UtxocacheAdd;
inline constexpr EventType spent = EventType::UtxocacheSpent;
inline constexpr EventType uncache = EventType::UtxocacheUncache;
} // namespace utxocache
namespace coin_selection {
inline constexpr EventType selected_coins = EventType::CoinSelectionSelectedCoins;
inline constexpr EventType normal_create_tx_internal =
    EventType::CoinSelectionNormalCreateTxInternal;
inline constexpr EventType attempting_aps_create_tx = EventType::CoinSelectionAttemptingApsCreateTx;
inline constexpr EventType aps_create_tx_internal = EventType::CoinSelectionApsCreateTxInternal;
} // namespace coin_selection
namespace mempool {
inline constexpr EventType added = EventType::MempoolAdded;
inline constexpr EventType removed = EventType::MempoolRemoved;
inline constexpr EventType replaced = EventType::MempoolReplaced;
inline constexpr EventType rejected = EventType::MempoolRejected;
} // namespace mempool
} // namespace tp

} // namespace tracering

#endif // TRACERING_EVENTS_H
