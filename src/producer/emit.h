// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_EMIT_H
#define TRACERING_PRODUCER_EMIT_H

//! @file
//! Shared plumbing of the typed emitters in src/producer/bitcoin/.

#include <tracering/abi.h>
#include <tracering/events.h>
#include <tracering/tracepoint.h>

#include <cstdint>

#include "common/check.h"
#include "producer/flat_table.h"
#include "producer/ring_writer.h"

namespace tracering::detail {

//! The writer for `type` if a reader enabled it, else nullptr (one relaxed load).
inline RingWriter* WriterFor(EventType type) noexcept
{
    return g_event_writers[static_cast<uint16_t>(type)].load(std::memory_order_relaxed);
}

//! Writes a table whose only variable parts are added by `fill` after the fixed part;
//! `variable_end` is the end computed with fb::StringEnd/BytesEnd starting at fixed_size.
template <size_t N, typename Fill>
inline void EmitTable(RingWriter* writer, EventType type, const fb::Layout<N>& layout,
                      uint64_t variable_end, uint16_t flags, Fill fill) noexcept
{
    // Everything by value: a local whose address is taken would be reloaded from the stack
    // after the reservation's compare-and-swap, which is a barrier to the compiler as well.
    writer->Write(static_cast<uint16_t>(type), variable_end, flags,
                  [&layout, variable_end, fill](uint8_t* dst) mutable {
                      fb::TableWriter<N> table{layout, dst};
                      fill(table);
                      // The record was reserved at variable_end bytes: the table must fill exactly
                      // that, or readers get trailing garbage (shorter) or the next record is
                      // overwritten.
                      TRACERING_DCHECK(table.size() == variable_end);
                  });
}

//! Field id of a generated VT_ constant, to check hand layouts against the schema.
constexpr uint32_t FieldId(uint32_t vt_offset) { return (vt_offset - 4) / 2; }

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_EMIT_H
