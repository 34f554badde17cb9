// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_ENDPOINT_H
#define TRACERING_P2P_ENDPOINT_H

//! @file
//! "a.b.c.d:port" endpoints, as the harness's command lines take them.

#include <tracering/result.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tracering::p2p {

struct Endpoint {
    std::array<uint8_t, 4> ip{}; //!< network order, as in in_addr
    uint16_t port{0};

    std::string ToString() const;
};

//! Parses "a.b.c.d:port" (IPv4 only; port 0-65535). The error says which part is wrong.
Result<Endpoint> ParseEndpoint(std::string_view text);

//! Parses a whole decimal number (no sign, no spaces, no suffix) up to `max`.
Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t max = UINT64_MAX);

} // namespace tracering::p2p

#endif // TRACERING_P2P_ENDPOINT_H
