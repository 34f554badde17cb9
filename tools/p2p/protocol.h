// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_PROTOCOL_H
#define TRACERING_P2P_PROTOCOL_H

//! @file
//! Bitcoin P2P v1 transport: the 24-byte message header and the payloads the harness
//! speaks (version, ping/pong, headers, inv/getdata counts).
//!
//!     +-------+-------------------------+--------+----------+--------- - -
//!     | magic | command, NUL-padded     | length | checksum | payload
//!     |  4 B  |          12 B           | u32 LE |   4 B    | length bytes
//!     +-------+-------------------------+--------+----------+--------- - -
//!
//! checksum = first 4 bytes of SHA256(SHA256(payload)).

#include <tracering/result.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "p2p/hash.h"

namespace tracering::p2p {

using Magic = std::array<uint8_t, 4>;
using Checksum = std::array<uint8_t, 4>;

//! Regtest's message start, fa bf b5 da on the wire.
inline constexpr Magic REGTEST_MAGIC{0xfa, 0xbf, 0xb5, 0xda};
inline constexpr size_t HEADER_SIZE = 24;
inline constexpr size_t COMMAND_SIZE = 12;
//! Largest payload a peer may announce (Bitcoin Core's net.h); a larger length is a
//! protocol violation, not a message to buffer.
inline constexpr uint32_t MAX_PROTOCOL_MESSAGE_LENGTH = 4 * 1000 * 1000;

inline constexpr int32_t PROTOCOL_VERSION = 70016;
//! Oldest version Bitcoin Core talks to.
inline constexpr int32_t MIN_PEER_PROTO_VERSION = 31800;
//! From this version on, wtxidrelay and sendaddrv2 are negotiated before verack.
inline constexpr int32_t WTXID_RELAY_VERSION = 70016;
inline constexpr size_t MAX_SUBVERSION_LENGTH = 256;
//! Most headers a `headers` message may carry.
inline constexpr uint64_t MAX_HEADERS_RESULTS = 2000;
//! Most entries an `inv` or `getdata` message may carry.
inline constexpr uint64_t MAX_INV_SZ = 50000;

inline constexpr uint64_t NODE_NETWORK = 1;
inline constexpr uint64_t NODE_WITNESS = 1 << 3;
inline constexpr uint64_t NODE_NETWORK_LIMITED = 1 << 10;

//! A parsed, checked message header.
struct MessageHeader {
    Magic magic{};
    //! The command, NUL-terminated (at most 12 characters).
    std::array<char, COMMAND_SIZE + 1> command{};
    uint32_t length{0};
    Checksum checksum{};

    const char* Command() const noexcept { return command.data(); }
};

//! Checks the first HEADER_SIZE bytes of `bytes` as a header of network `magic`: the magic,
//! the command (printable ASCII 0x20-0x7e, then only NULs, not empty) and the length
//! (at most MAX_PROTOCOL_MESSAGE_LENGTH). The checksum is checked later, over the payload.
Result<MessageHeader> ParseHeader(std::span<const uint8_t> bytes, const Magic& magic);

Checksum ComputeChecksum(std::span<const uint8_t> payload);

//! Writes a header into `out`. `command` must be 1-12 printable characters.
void WriteHeader(std::span<uint8_t, HEADER_SIZE> out, const Magic& magic, std::string_view command,
                 uint32_t length, const Checksum& checksum);

//! Appends a whole message (header, then payload) to `out`.
void AppendMessage(std::vector<uint8_t>& out, const Magic& magic, std::string_view command,
                   std::span<const uint8_t> payload);
//! The same with a checksum already known (a pong repeats its ping's payload, so its
//! checksum too).
void AppendMessage(std::vector<uint8_t>& out, const Magic& magic, std::string_view command,
                   std::span<const uint8_t> payload, const Checksum& checksum);

//! An address as the version message carries it (no time field).
struct NetAddress {
    uint64_t services{0};
    //! IPv6, or IPv4-mapped (::ffff:a.b.c.d).
    std::array<uint8_t, 16> ip{};
    uint16_t port{0};

    //! An IPv4-mapped address; `ipv4` in network order as in in_addr.
    static NetAddress FromIPv4(std::array<uint8_t, 4> ipv4, uint16_t port, uint64_t services = 0);
};

struct VersionMessage {
    int32_t version{PROTOCOL_VERSION};
    uint64_t services{0};
    int64_t timestamp{0};
    NetAddress addr_recv;
    // Everything below is optional on the wire; Bitcoin Core reads each field only while
    // bytes remain (46 bytes is the smallest version message it accepts).
    NetAddress addr_from;
    uint64_t nonce{0};
    std::string user_agent;
    int32_t start_height{0};
    bool relay{true};
};

//! The full form (86 bytes plus the user agent).
std::vector<uint8_t> SerializeVersion(const VersionMessage& version);
//! Reads a version payload as Bitcoin Core does: the first 46 bytes are required, later
//! fields are read while bytes remain, a field cut short or a user agent over
//! MAX_SUBVERSION_LENGTH is an error. Trailing bytes after `relay` are ignored.
Result<VersionMessage> ParseVersion(std::span<const uint8_t> payload);

//! The 8-byte payload of a ping or pong.
std::array<uint8_t, 8> SerializeNonce(uint64_t nonce);
//! The nonce of a ping or pong payload: at least 8 bytes (more are ignored, as Core does).
Result<uint64_t> ParseNonce(std::span<const uint8_t> payload);

//! Checks a `headers` payload (a CompactSize count, then per entry an 80-byte header and a
//! CompactSize transaction count) and returns the count. A count above
//! MAX_HEADERS_RESULTS is returned, not refused: punishing it is the caller's policy.
Result<uint64_t> ParseHeadersCount(std::span<const uint8_t> payload);
//! Checks an `inv`, `getdata` or `notfound` payload (a count, then 36-byte entries) and
//! returns the count; a count above MAX_INV_SZ is returned for the caller to judge.
Result<uint64_t> ParseInventoryCount(std::span<const uint8_t> payload);

} // namespace tracering::p2p

#endif // TRACERING_P2P_PROTOCOL_H
