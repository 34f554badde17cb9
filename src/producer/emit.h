// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_EMIT_H
#define TRACERING_PRODUCER_EMIT_H

//! @file
//! Shared plumbing of the typed emitters in src/producer/bitcoin/.

#include <tracering/abi.h>
#include <tracering/events.h>
#include <tracering/schemas/common_generated.h>
#include <tracering/tracepoint.h>

#include <array>
#include <cstdint>
#include <type_traits>

#include "common/check.h"
#include "producer/flat_table.h"
#include "producer/ring_writer.h"

namespace tracering::detail {

//! The writer for `type` if a reader enabled it, else nullptr (one relaxed load).
inline RingWriter* WriterFor(EventType type) noexcept
{
    return g_event_writers[static_cast<uint16_t>(type)].load(std::memory_order_relaxed);
}

//! Writes a table of layout `L` whose only variable parts are added by `fill` after the fixed
//! part; `variable_end` is the end computed with fb::StringEnd/BytesEnd starting at
//! L.fixed_size.
template <const auto& L, typename Fill>
inline void EmitTable(RingWriter* writer, EventType type, uint64_t variable_end, uint16_t flags,
                      Fill fill) noexcept
{
    // Everything by value: a local whose address is taken would be reloaded from the stack
    // after the reservation's compare-and-swap, which is a barrier to the compiler as well.
    writer->Write(static_cast<uint16_t>(type), variable_end, flags,
                  [variable_end, fill](uint8_t* dst) mutable {
                      fb::TableWriter<L> table{dst};
                      fill(table);
                      // The record was reserved at variable_end bytes: the table must fill exactly
                      // that, or readers get trailing garbage (shorter) or the next record is
                      // overwritten.
                      TRACERING_DCHECK(table.size() == variable_end);
                  });
}

//! Field id of a generated VT_ constant.
constexpr uint32_t FieldId(uint32_t vt_offset) { return (vt_offset - 4) / 2; }

//! The inline slot of a field whose generated accessor returns `R`: a string or vector is an
//! offset, a Hash256 is the struct itself, a scalar or enum its size. A type with no slot
//! (a 16-bit scalar, another struct) does not compile.
template <typename R>
constexpr fb::Slot SlotFor()
{
    if constexpr (std::is_pointer_v<R>) {
        using Pointee = std::remove_cv_t<std::remove_pointer_t<R>>;
        if constexpr (std::is_same_v<Pointee, tracering::Hash256>) {
            return fb::Slot::Hash;
        } else {
            static_assert(std::is_base_of_v<flatbuffers::Vector<char>, Pointee> ||
                              std::is_same_v<Pointee, flatbuffers::Vector<uint8_t>>,
                          "a pointer field must be a string, a byte vector or a Hash256");
            return fb::Slot::Offset;
        }
    } else {
        static_assert(sizeof(R) == 1 || sizeof(R) == 4 || sizeof(R) == 8,
                      "a scalar field must be 1, 4 or 8 bytes");
        return sizeof(R) == 1 ? fb::Slot::U8 : sizeof(R) == 4 ? fb::Slot::U32 : fb::Slot::U64;
    }
}

//! One field of an event table: its generated VT_ constant and its accessor, from which the
//! id and the slot are taken.
struct Field {
    uint16_t vt;
    fb::Slot slot;
};
template <typename Table, typename R>
constexpr Field FieldOf(uint16_t vt, R (Table::*)() const)
{
    return {vt, SlotFor<R>()};
}

//! The layout of a table from its fields in id order, derived from the generated code: a field
//! listed out of its id's place, or whose type in the schema has no slot, fails to compile (the
//! throw is never reached at run time: layouts are constexpr), and TableWriter's stores are
//! checked against the slots. Not checked: that each VT_ constant and accessor name the same
//! field, and that no field follows the last one listed.
template <typename... Fields>
constexpr auto TableLayout(Fields... fields)
{
    constexpr size_t N = sizeof...(Fields);
    const std::array<Field, N> list{fields...};
    std::array<fb::Slot, N> slots{};
    for (size_t i = 0; i < N; ++i) {
        if (FieldId(list[i].vt) != i) throw "fields must be listed by id, 0, 1, 2, ...";
        slots[i] = list[i].slot;
    }
    return fb::MakeLayout<N>(slots);
}

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_EMIT_H
