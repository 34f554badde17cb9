// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_BITCOIN_VALIDATION_H
#define TRACERING_BITCOIN_VALIDATION_H

//! @file
//! Typed emitter for Bitcoin Core's `validation:block_connected` (schemas/validation.fbs),
//! with the USDT tracepoint's arguments. Never blocks (except lossless mode), never throws.

#include <cstdint>

namespace tracering::bitcoin::validation {

//! @param block_hash 32 bytes, internal byte order (uint256::data())
//! @param sigops weighted sigop cost, coinbase included
//! @param duration_ns ConnectBlock start to after the undo write
void block_connected(const void* block_hash, int32_t height, uint64_t transactions, int32_t inputs,
                     int64_t sigops, int64_t duration_ns) noexcept;

} // namespace tracering::bitcoin::validation

#endif // TRACERING_BITCOIN_VALIDATION_H
