// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_SCHEMAS_H
#define TRACERING_SCHEMAS_H

//! @file
//! The generated FlatBuffers tables of every event (from schemas/*.fbs, generated at build
//! time) and the map from each table type to its EventType, used by EventView::as<T>().

#include <tracering/events.h>
#include <tracering/schemas/coin_selection_generated.h>
#include <tracering/schemas/common_generated.h>
#include <tracering/schemas/mempool_generated.h>
#include <tracering/schemas/net_generated.h>
#include <tracering/schemas/utxocache_generated.h>
#include <tracering/schemas/validation_generated.h>

namespace tracering {

template <typename T>
struct EventTypeOf;

#define TRACERING_EVENT_TABLE(table, event_type)                                                   \
    template <>                                                                                    \
    struct EventTypeOf<table> {                                                                    \
        static constexpr EventType value = event_type;                                             \
    }

TRACERING_EVENT_TABLE(net::InboundMessage, EventType::NetInboundMessage);
TRACERING_EVENT_TABLE(net::OutboundMessage, EventType::NetOutboundMessage);
TRACERING_EVENT_TABLE(net::InboundConnection, EventType::NetInboundConnection);
TRACERING_EVENT_TABLE(net::OutboundConnection, EventType::NetOutboundConnection);
TRACERING_EVENT_TABLE(net::EvictedInboundConnection, EventType::NetEvictedInboundConnection);
TRACERING_EVENT_TABLE(net::MisbehavingConnection, EventType::NetMisbehavingConnection);
TRACERING_EVENT_TABLE(net::ClosedConnection, EventType::NetClosedConnection);
TRACERING_EVENT_TABLE(validation::BlockConnected, EventType::ValidationBlockConnected);
TRACERING_EVENT_TABLE(utxocache::Flush, EventType::UtxocacheFlush);
TRACERING_EVENT_TABLE(utxocache::Add, EventType::UtxocacheAdd);
TRACERING_EVENT_TABLE(utxocache::Spent, EventType::UtxocacheSpent);
TRACERING_EVENT_TABLE(utxocache::Uncache, EventType::UtxocacheUncache);
TRACERING_EVENT_TABLE(coin_selection::SelectedCoins, EventType::CoinSelectionSelectedCoins);
TRACERING_EVENT_TABLE(coin_selection::NormalCreateTxInternal,
                      EventType::CoinSelectionNormalCreateTxInternal);
TRACERING_EVENT_TABLE(coin_selection::AttemptingApsCreateTx,
                      EventType::CoinSelectionAttemptingApsCreateTx);
TRACERING_EVENT_TABLE(coin_selection::ApsCreateTxInternal,
                      EventType::CoinSelectionApsCreateTxInternal);
TRACERING_EVENT_TABLE(mempool::Added, EventType::MempoolAdded);
TRACERING_EVENT_TABLE(mempool::Removed, EventType::MempoolRemoved);
TRACERING_EVENT_TABLE(mempool::Replaced, EventType::MempoolReplaced);
TRACERING_EVENT_TABLE(mempool::Rejected, EventType::MempoolRejected);

#undef TRACERING_EVENT_TABLE

} // namespace tracering

#endif // TRACERING_SCHEMAS_H
