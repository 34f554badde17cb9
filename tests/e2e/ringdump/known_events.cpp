// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "known_events.h"

#include <tracering/tracepoint.h>

namespace tracering::test::ringdump {

void EmitAll()
{
    TRACERING_TRACEPOINT(net, inbound_message, 7, "127.0.0.1:18444", "inbound", "ping",
                         PING_NONCE.size(), PING_NONCE.data());
    TRACERING_TRACEPOINT(net, outbound_message, -3, "[2001:db8::1]:8333", "outbound-full-relay",
                         "getcfcheckpt", CF_PAYLOAD.size(), CF_PAYLOAD.data());
    TRACERING_TRACEPOINT(net, inbound_connection, 11, "10.0.0.2:50000", "inbound", 1, 3);
    TRACERING_TRACEPOINT(net, outbound_connection, 12, ONION_ADDR.c_str(), "block-relay-only", 3,
                         8);
    TRACERING_TRACEPOINT(net, evicted_inbound_connection, 13, "1.2.3.4:5", "inbound", 2,
                         int64_t{-1});
    TRACERING_TRACEPOINT(net, misbehaving_connection, 14, MISBEHAVING.c_str());
    TRACERING_TRACEPOINT(net, closed_connection, INT64_HIGH, "127.0.0.1:1234", "weird-type", 9,
                         INT64_LOW);
    TRACERING_TRACEPOINT(validation, block_connected, BLOCK_HASH.data(), 413567, 1557, 4887,
                         int64_t{12345678901}, int64_t{-987654321});
    TRACERING_TRACEPOINT(utxocache, flush, -7, 4, UINT64_HIGH, 9876543210ULL, true);
    TRACERING_TRACEPOINT(utxocache, add, TXID_A.data(), 4294967295U, 800000, INT64_HIGH, true);
    TRACERING_TRACEPOINT(utxocache, spent, TXID_B.data(), 0, 1, INT64_LOW, false);
    TRACERING_TRACEPOINT(utxocache, uncache, TXID_C.data(), 5, 2, 50, true);
    TRACERING_TRACEPOINT(coin_selection, selected_coins, "", "bnb", 100000, -250, 100500);
    TRACERING_TRACEPOINT(coin_selection, normal_create_tx_internal, "w1", true, 1410, -1);
    TRACERING_TRACEPOINT(coin_selection, attempting_aps_create_tx, APS_WALLET.c_str());
    TRACERING_TRACEPOINT(coin_selection, aps_create_tx_internal, "w1", false, true, 1500, 1);
    TRACERING_TRACEPOINT(mempool, added, TXID_A.data(), 141, 1410);
    TRACERING_TRACEPOINT(mempool, removed, TXID_A.data(), "sizelimit", 141, 1410, 1700000000ULL);
    TRACERING_TRACEPOINT(mempool, replaced, TXID_B.data(), 200, 2000, 1700000001ULL, TXID_C.data(),
                         300, -4000, false);
    TRACERING_TRACEPOINT(mempool, rejected, TXID_C.data(), "min relay fee not met");
}

void EmitMessages()
{
    for (const Message& m : Messages()) {
        if (m.inbound) {
            TRACERING_TRACEPOINT(net, inbound_message, m.peer_id, m.addr.c_str(),
                                 m.conn_type.c_str(), m.msg_type.c_str(), m.payload.size(),
                                 m.payload.data());
        } else {
            TRACERING_TRACEPOINT(net, outbound_message, m.peer_id, m.addr.c_str(),
                                 m.conn_type.c_str(), m.msg_type.c_str(), m.payload.size(),
                                 m.payload.data());
        }
    }
}

} // namespace tracering::test::ringdump
