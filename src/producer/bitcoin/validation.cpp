// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/validation.h>
#include <tracering/schemas/validation_generated.h>

#include "producer/emit.h"

namespace tracering::bitcoin::validation {
namespace {

using detail::FieldOf;
using detail::TableLayout;
using detail::fb::F;
using Table = tracering::validation::BlockConnected;

constexpr auto BLOCK_CONNECTED = TableLayout(
    FieldOf(Table::VT_BLOCK_HASH, &Table::block_hash), FieldOf(Table::VT_HEIGHT, &Table::height),
    FieldOf(Table::VT_TRANSACTIONS, &Table::transactions),
    FieldOf(Table::VT_INPUTS, &Table::inputs), FieldOf(Table::VT_SIGOPS, &Table::sigops),
    FieldOf(Table::VT_DURATION_NS, &Table::duration_ns));

} // namespace

void block_connected(const void* block_hash, int32_t height, uint64_t transactions, int32_t inputs,
                     int64_t sigops, int64_t duration_ns) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::ValidationBlockConnected);
    if (!writer) return;
    detail::EmitTable<BLOCK_CONNECTED>(writer, EventType::ValidationBlockConnected,
                                       BLOCK_CONNECTED.fixed_size, 0, [=](auto& t) {
                                           t.Hash(F<0>, block_hash);
                                           t.Scalar(F<1>, height);
                                           t.Scalar(F<2>, transactions);
                                           t.Scalar(F<3>, inputs);
                                           t.Scalar(F<4>, sigops);
                                           t.Scalar(F<5>, duration_ns);
                                       });
}

} // namespace tracering::bitcoin::validation
