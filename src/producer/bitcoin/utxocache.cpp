// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/utxocache.h>
#include <tracering/schemas/utxocache_generated.h>

#include "producer/emit.h"

namespace tracering::bitcoin::utxocache {
namespace {

using detail::FieldId;
using detail::fb::Slot;

constexpr auto FLUSH =
    detail::fb::MakeLayout<5>({Slot::U64, Slot::U32, Slot::U64, Slot::U64, Slot::U8});
static_assert(FieldId(tracering::utxocache::Flush::VT_DURATION_US) == 0 &&
              FieldId(tracering::utxocache::Flush::VT_MODE) == 1 &&
              FieldId(tracering::utxocache::Flush::VT_COINS_COUNT) == 2 &&
              FieldId(tracering::utxocache::Flush::VT_COINS_MEM_USAGE) == 3 &&
              FieldId(tracering::utxocache::Flush::VT_FOR_PRUNE) == 4);

// Add, Spent and Uncache share one layout.
constexpr auto COIN =
    detail::fb::MakeLayout<5>({Slot::Hash, Slot::U32, Slot::U32, Slot::U64, Slot::U8});
static_assert(FieldId(tracering::utxocache::Add::VT_TXID) == 0 &&
              FieldId(tracering::utxocache::Add::VT_INDEX) == 1 &&
              FieldId(tracering::utxocache::Add::VT_HEIGHT) == 2 &&
              FieldId(tracering::utxocache::Add::VT_VALUE) == 3 &&
              FieldId(tracering::utxocache::Add::VT_IS_COINBASE) == 4);
static_assert(FieldId(tracering::utxocache::Spent::VT_IS_COINBASE) == 4);
static_assert(FieldId(tracering::utxocache::Uncache::VT_IS_COINBASE) == 4);

void Coin(EventType type, const void* txid, uint32_t index, uint32_t height, int64_t value,
          bool is_coinbase) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(type);
    if (!writer) return;
    detail::EmitTable(writer, type, COIN, COIN.fixed_size, 0, [=](auto& t) {
        t.Hash(0, txid);
        t.Scalar(1, index);
        t.Scalar(2, height);
        t.Scalar(3, value);
        t.Bool(4, is_coinbase);
    });
}

} // namespace

void flush(int64_t duration_us, uint32_t mode, uint64_t coins_count, uint64_t coins_mem_usage,
           bool for_prune) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::UtxocacheFlush);
    if (!writer) return;
    detail::EmitTable(writer, EventType::UtxocacheFlush, FLUSH, FLUSH.fixed_size, 0, [=](auto& t) {
        t.Scalar(0, duration_us);
        t.Scalar(1, mode);
        t.Scalar(2, coins_count);
        t.Scalar(3, coins_mem_usage);
        t.Bool(4, for_prune);
    });
}

void add(const void* txid, uint32_t index, uint32_t height, int64_t value,
         bool is_coinbase) noexcept
{
    Coin(EventType::UtxocacheAdd, txid, index, height, value, is_coinbase);
}

void spent(const void* txid, uint32_t index, uint32_t height, int64_t value,
           bool is_coinbase) noexcept
{
    Coin(EventType::UtxocacheSpent, txid, index, height, value, is_coinbase);
}

void uncache(const void* txid, uint32_t index, uint32_t height, int64_t value,
             bool is_coinbase) noexcept
{
    Coin(EventType::UtxocacheUncache, txid, index, height, value, is_coinbase);
}

} // namespace tracering::bitcoin::utxocache
