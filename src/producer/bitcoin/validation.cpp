// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/validation.h>
#include <tracering/schemas/validation_generated.h>

#include "producer/emit.h"

namespace tracering::bitcoin::validation {
namespace {

using detail::FieldOf;
using detail::TableLayout;
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
    detail::EmitTable(writer, EventType::ValidationBlockConnected, BLOCK_CONNECTED,
                      BLOCK_CONNECTED.fixed_size, 0, [=](auto& t) {
                          t.Hash(0, block_hash);
                          t.Scalar(1, height);
                          t.Scalar(2, transactions);
                          t.Scalar(3, inputs);
                          t.Scalar(4, sigops);
                          t.Scalar(5, duration_ns);
                      });
}

} // namespace tracering::bitcoin::validation
