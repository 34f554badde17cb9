// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_BITCOIN_MEMPOOL_H
#define TRACERING_BITCOIN_MEMPOOL_H

//! @file
//! Typed emitters for Bitcoin Core's `mempool:*` tracepoints (schemas/mempool.fbs), with the
//! USDT tracepoints' arguments. Hashes are 32 bytes in internal byte order.

#include <cstdint>

namespace tracering::bitcoin::mempool {

//! @param fee base fee, satoshis
void added(const void* txid, int32_t vsize, int64_t fee) noexcept;
//! @param reason RemovalReasonToString() value
//! @param entry_time UNIX seconds
void removed(const void* txid, const char* reason, int32_t vsize, int64_t fee,
             uint64_t entry_time) noexcept;
//! @param replacement_txid txid, or the package hash when !replaced_by_transaction
//! @param replacement_fee total modified fees of the replacing (sub)package
void replaced(const void* replaced_txid, int32_t replaced_vsize, int64_t replaced_fee,
              uint64_t replaced_entry_time, const void* replacement_txid, int32_t replacement_vsize,
              int64_t replacement_fee, bool replaced_by_transaction) noexcept;
void rejected(const void* txid, const char* reason) noexcept;

} // namespace tracering::bitcoin::mempool

#endif // TRACERING_BITCOIN_MEMPOOL_H
