// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_SCHEMAS_H
#define TRACERING_SCHEMAS_H

//! @file
//! The generated FlatBuffers tables of every event (from schemas/*.fbs, generated at build
//! time) and the map from each table type to its EventType, used by EventView::as<T>(),
//! derived like events.h from tracering/catalogue_generated.h.

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

#define TRACERING_X(Ring, ring, Table, event, type)                                                \
    template <>                                                                                    \
    struct EventTypeOf<ring::Table> {                                                              \
        static constexpr EventType value = EventType::Ring##Table;                                 \
    };
TRACERING_FOR_EACH_EVENT(TRACERING_X)
#undef TRACERING_X

} // namespace tracering

#endif // TRACERING_SCHEMAS_H
