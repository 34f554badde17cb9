// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_ADDRESS_H
#define TRACERING_P2P_ADDRESS_H

//! @file
//! Network addresses as P2P messages carry them, and their usual text. `addrv2` (BIP155)
//! names the network of each address with an id and sends as many bytes as that network
//! needs; `addr` and `version` send 16 bytes, an IPv6 address in which IPv4 and Tor v2
//! addresses are embedded under fixed prefixes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace tracering::p2p {

//! BIP155 network ids.
enum class AddrNetwork : uint8_t {
    IPv4 = 1,
    IPv6 = 2,
    TorV2 = 3, //!< retired from Tor and from Bitcoin Core, still defined by BIP155
    TorV3 = 4,
    I2P = 5,
    CJDNS = 6,
};

//! Most address bytes an `addrv2` entry may announce (BIP155; Bitcoin Core's
//! MAX_ADDRV2_SIZE), whatever its network.
inline constexpr size_t MAX_ADDRV2_SIZE = 512;

//! The address size BIP155 fixes for network `id`: 4, 16, 10, 32, 32 or 16 bytes; 0 for an
//! id BIP155 does not define (any size up to MAX_ADDRV2_SIZE is then allowed).
size_t Bip155AddressSize(uint8_t id);

//! One address: the BIP155 id of its network and its bytes, seen in place in the payload it
//! was read from (valid as long as that payload is).
struct NetAddr {
    uint8_t network{0};
    std::span<const uint8_t> bytes;
};

//! The network a 16-byte address of `addr` or `version` holds, named as peer-observer's
//! decoder (rust-bitcoin's p2p::Address) names it, so that both publish the same text:
//!
//!     fd87:d87e:eb43::/48            -> TorV2, the last 10 bytes
//!     ::ffff:a.b.c.d and ::a.b.c.d   -> IPv4, the last 4 bytes (so "::" is 0.0.0.0)
//!     anything else                  -> IPv6, all 16 bytes
NetAddr ClassifyV1(std::span<const uint8_t, 16> ip);

//! "a.b.c.d".
std::string FormatIPv4(std::span<const uint8_t, 4> ip);
//! RFC 5952 text: lowercase hex groups without leading zeros, the first longest run of two
//! or more zero groups as "::", and an IPv4-mapped address as "::ffff:a.b.c.d".
std::string FormatIPv6(std::span<const uint8_t, 16> ip);
//! RFC 4648 base32, lowercase, without padding.
std::string Base32(std::span<const uint8_t> bytes);
//! The Tor v3 onion address of an ed25519 public key: base32(key | checksum | version 3) +
//! ".onion", the checksum being the first two bytes of SHA3-256(".onion checksum" | key |
//! version), as Tor's rend-spec-v3 and BIP155 define it (56 characters and ".onion").
std::string OnionV3Address(std::span<const uint8_t, 32> pubkey);

//! The usual text of `addr`, without a port: an IPv4 or IPv6 address as above (CJDNS as
//! IPv6), a Tor v2 address as its 10 bytes in base32 + ".onion", a Tor v3 one as
//! OnionV3Address(), an I2P one as its 32 bytes in base32 + ".b32.i2p". Empty for a network
//! BIP155 does not define, or bytes of another size than the network's.
std::string AddressText(const NetAddr& addr);

} // namespace tracering::p2p

#endif // TRACERING_P2P_ADDRESS_H
