// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// LTTng-UST tracepoint provider of the peer comparison (lttng_bench.cpp): one event,
// tracering_bench:inbound_message, with the fields of tracering's net:inbound_message (and of
// Bitcoin Core's USDT net:inbound_message): peer id, address, connection type, message type,
// size and the payload bytes. The connection type is recorded as the string the tracepoint
// is given, as the USDT probe passes it. lttng_provider.c builds the probes into
// libtracering_bench_lttng.so, which lttng_bench.cpp loads with dlopen once LTTNG_HOME is set
// (liblttng-ust reads it when it loads).

#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER tracering_bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "lttng_provider.h"

#if !defined(TRACERING_BENCH_LTTNG_PROVIDER_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define TRACERING_BENCH_LTTNG_PROVIDER_H

#include <stdint.h>

#include <lttng/tracepoint.h>

// clang-format off
LTTNG_UST_TRACEPOINT_EVENT(tracering_bench, inbound_message,
    LTTNG_UST_TP_ARGS(int64_t, peer_id, const char*, addr, const char*, conn_type,
                      const char*, msg_type, uint64_t, size, const uint8_t*, payload),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(int64_t, peer_id, peer_id)
        lttng_ust_field_string(addr, addr)
        lttng_ust_field_string(conn_type, conn_type)
        lttng_ust_field_string(msg_type, msg_type)
        lttng_ust_field_integer(uint64_t, size, size)
        lttng_ust_field_sequence(uint8_t, payload, payload, uint32_t, size)
    )
)
// clang-format on

#endif // TRACERING_BENCH_LTTNG_PROVIDER_H

#include <lttng/tracepoint-event.h>
