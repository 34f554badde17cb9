// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_BITCOIN_NET_H
#define TRACERING_BITCOIN_NET_H

//! @file
//! Typed emitters for Bitcoin Core's `net:*` tracepoints (ring `net`, schema schemas/net.fbs).
//! Each takes exactly the arguments of the USDT tracepoint of the same name. They write
//! the event if the installed producer has it enabled and return at once otherwise.
//! Strings may be nullptr (written as ""). Never block (except lossless mode), never throw.

#include <cstdint>

namespace tracering::bitcoin::net {

//! @param size bytes at `payload` (the whole P2P payload; no 24-byte header)
void inbound_message(int64_t peer_id, const char* addr, const char* conn_type, const char* msg_type,
                     uint64_t size, const void* payload) noexcept;
void outbound_message(int64_t peer_id, const char* addr, const char* conn_type,
                      const char* msg_type, uint64_t size, const void* payload) noexcept;
//! @param network Bitcoin Core's `Network` enum value
//! @param existing_connections inbound connections including this one
void inbound_connection(int64_t peer_id, const char* addr, const char* conn_type, uint32_t network,
                        uint64_t existing_connections) noexcept;
//! @param existing_connections non-inbound connections including this one
void outbound_connection(int64_t peer_id, const char* addr, const char* conn_type, uint32_t network,
                         uint64_t existing_connections) noexcept;
//! @param time_established UNIX seconds
void evicted_inbound_connection(int64_t peer_id, const char* addr, const char* conn_type,
                                uint32_t network, int64_t time_established) noexcept;
void misbehaving_connection(int64_t peer_id, const char* message) noexcept;
void closed_connection(int64_t peer_id, const char* addr, const char* conn_type, uint32_t network,
                       int64_t time_established) noexcept;

} // namespace tracering::bitcoin::net

#endif // TRACERING_BITCOIN_NET_H
