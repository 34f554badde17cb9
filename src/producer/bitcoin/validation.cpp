// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/validation.h>
#include <tracering/schemas/validation_generated.h>

#include "producer/emit.h"

namespace tracering::bitcoin::validation {
namespace {

using detail::FieldId;
using detail::fb::Slot;
using Table = tracering::validation::BlockConnected;

constexpr auto BLOCK_CONNECTED =
    detail::fb::MakeLayout<6>({Slot::Hash, Slot::U32, Slot::U64, Slot::U32, Slot::U64, Slot::U64});
static_assert(FieldId(Table::VT_BLOCK_HASH) == 0 && FieldId(Table::VT_HEIGHT) == 1 &&
              FieldId(Table::VT_TRANSACTIONS) == 2 && FieldId(Table::VT_INPUTS) == 3 &&
              FieldId(Table::VT_SIGOPS) == 4 && FieldId(Table::VT_DURATION_NS) == 5);

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
