// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_BITCOIN_UTXOCACHE_H
#define TRACERING_BITCOIN_UTXOCACHE_H

//! @file
//! Typed emitters for Bitcoin Core's `utxocache:*` tracepoints (schemas/utxocache.fbs), with
//! the USDT tracepoints' arguments. Never block (except lossless mode), never throw.

#include <cstdint>

namespace tracering::bitcoin::utxocache {

//! @param duration_us microseconds since the flush decision (mockable clock)
//! @param mode FlushStateMode as uint32_t
void flush(int64_t duration_us, uint32_t mode, uint64_t coins_count, uint64_t coins_mem_usage,
           bool for_prune) noexcept;
//! @param txid 32 bytes, internal byte order
//! @param height height at which the coin was created
void add(const void* txid, uint32_t index, uint32_t height, int64_t value,
         bool is_coinbase) noexcept;
void spent(const void* txid, uint32_t index, uint32_t height, int64_t value,
           bool is_coinbase) noexcept;
void uncache(const void* txid, uint32_t index, uint32_t height, int64_t value,
             bool is_coinbase) noexcept;

} // namespace tracering::bitcoin::utxocache

#endif // TRACERING_BITCOIN_UTXOCACHE_H
