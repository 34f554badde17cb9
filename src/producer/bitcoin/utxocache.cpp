// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/utxocache.h>
#include <tracering/schemas/utxocache_generated.h>

#include "producer/emit.h"

namespace tracering::bitcoin::utxocache {
namespace {

using detail::FieldOf;
using detail::TableLayout;
using detail::fb::F;

namespace uc = tracering::utxocache;

constexpr auto FLUSH =
    TableLayout(FieldOf(uc::Flush::VT_DURATION_US, &uc::Flush::duration_us),
                FieldOf(uc::Flush::VT_MODE, &uc::Flush::mode),
                FieldOf(uc::Flush::VT_COINS_COUNT, &uc::Flush::coins_count),
                FieldOf(uc::Flush::VT_COINS_MEM_USAGE, &uc::Flush::coins_mem_usage),
                FieldOf(uc::Flush::VT_FOR_PRUNE, &uc::Flush::for_prune));

//! The layout of Add, Spent and Uncache, which share one emitter.
template <typename T>
constexpr auto CoinLayout()
{
    return TableLayout(FieldOf(T::VT_TXID, &T::txid), FieldOf(T::VT_INDEX, &T::index),
                       FieldOf(T::VT_HEIGHT, &T::height), FieldOf(T::VT_VALUE, &T::value),
                       FieldOf(T::VT_IS_COINBASE, &T::is_coinbase));
}
constexpr auto COIN = CoinLayout<uc::Add>();
static_assert(COIN == CoinLayout<uc::Spent>() && COIN == CoinLayout<uc::Uncache>());

void Coin(EventType type, const void* txid, uint32_t index, uint32_t height, int64_t value,
          bool is_coinbase) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(type);
    if (!writer) return;
    detail::EmitTable<COIN>(writer, type, COIN.fixed_size, 0, [=](auto& t) {
        t.Hash(F<0>, txid);
        t.Scalar(F<1>, index);
        t.Scalar(F<2>, height);
        t.Scalar(F<3>, value);
        t.Bool(F<4>, is_coinbase);
    });
}

} // namespace

void flush(int64_t duration_us, uint32_t mode, uint64_t coins_count, uint64_t coins_mem_usage,
           bool for_prune) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::UtxocacheFlush);
    if (!writer) return;
    detail::EmitTable<FLUSH>(writer, EventType::UtxocacheFlush, FLUSH.fixed_size, 0, [=](auto& t) {
        t.Scalar(F<0>, duration_us);
        t.Scalar(F<1>, mode);
        t.Scalar(F<2>, coins_count);
        t.Scalar(F<3>, coins_mem_usage);
        t.Bool(F<4>, for_prune);
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
