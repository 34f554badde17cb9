// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_E2E_RINGDUMP_KNOWN_EVENTS_H
#define TRACERING_TESTS_E2E_RINGDUMP_KNOWN_EVENTS_H

//! The events the ringdump test producer fires, with every value spelled out, so the tests
//! can say exactly what ringdump must print and write. Values are chosen to catch mistakes:
//! extremes of 64-bit integers, negative numbers, strings that need JSON escapes and UTF-8,
//! an unknown connection type, hashes whose display order differs from their memory order.

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tracering::test::ringdump {

using Hash = std::array<uint8_t, 32>;
using Bytes = std::vector<uint8_t>;

//! A hash whose bytes are all different, in the node's internal (memory) order.
inline Hash MakeHash(uint8_t seed)
{
    Hash h;
    for (size_t i = 0; i < h.size(); ++i) {
        h[i] = uint8_t(seed + i * 7);
    }
    return h;
}

inline Bytes Pattern(size_t size, uint8_t seed)
{
    Bytes b(size);
    for (size_t i = 0; i < size; ++i) {
        b[i] = uint8_t(i * 31 + seed);
    }
    return b;
}

// The values of the 20 events "emit-all" fires, one of each type.
inline const Bytes PING_NONCE{1, 2, 3, 4, 5, 6, 7, 0xff};
inline const Bytes CF_PAYLOAD = Pattern(300, 9);
inline const std::string ONION_ADDR = std::string(56, 'q') + ".onion:8333";
inline const std::string MISBEHAVING = "bad \"headers\"\\ \n\t\x01 caf\xc3\xa9 \xe2\x9c\x93 \xff!";
inline const std::string APS_WALLET = "wallet \xe2\x82\xbf";
inline const Hash BLOCK_HASH = MakeHash(1);
inline const Hash TXID_A = MakeHash(2);
inline const Hash TXID_B = MakeHash(3);
inline const Hash TXID_C = MakeHash(4);
inline constexpr int64_t INT64_LOW = std::numeric_limits<int64_t>::min();
inline constexpr int64_t INT64_HIGH = std::numeric_limits<int64_t>::max();
inline constexpr uint64_t UINT64_HIGH = std::numeric_limits<uint64_t>::max();

//! How many events of each ring "emit-all" fires.
inline constexpr uint64_t NET_EVENTS = 7;
inline constexpr uint64_t ALL_EVENTS = 20;

//! Fires the 20 events, in tracering::EVENTS order, through TRACERING_TRACEPOINT.
void EmitAll();

//! One P2P message of "emit-messages".
struct Message {
    bool inbound;
    int64_t peer_id;
    std::string addr;
    std::string conn_type;
    std::string msg_type;
    Bytes payload;
};

//! The messages "emit-messages" fires, in order: two peers (one IPv6), empty payloads, a
//! 12-character type, a large payload.
inline std::vector<Message> Messages()
{
    return {
        {true, 1, "127.0.0.1:18444", "inbound", "version", Pattern(102, 1)},
        {false, 1, "127.0.0.1:18444", "inbound", "version", Pattern(102, 2)},
        {false, 1, "127.0.0.1:18444", "inbound", "verack", {}},
        {true, 1, "127.0.0.1:18444", "inbound", "verack", {}},
        {true, 2, "[::1]:8333", "outbound-full-relay", "getcfcheckpt", Pattern(37, 3)},
        {false, 2, "[::1]:8333", "outbound-full-relay", "cfcheckpt", Pattern(4000, 4)},
        {true, 1, "127.0.0.1:18444", "inbound", "ping", PING_NONCE},
        {false, 1, "127.0.0.1:18444", "inbound", "pong", PING_NONCE},
        {true, 2, "[::1]:8333", "outbound-full-relay", "block", Pattern(200'000, 5)},
    };
}

void EmitMessages();

} // namespace tracering::test::ringdump

#endif // TRACERING_TESTS_E2E_RINGDUMP_KNOWN_EVENTS_H
