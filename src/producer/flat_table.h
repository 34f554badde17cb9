// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_FLAT_TABLE_H
#define TRACERING_PRODUCER_FLAT_TABLE_H

//! @file
//! Writes one FlatBuffers table front to back, straight into a ring slot whose size was
//! computed first. A general FlatBufferBuilder builds back to front in its own buffer and
//! then needs a copy; for the fixed shapes of tracepoint events the layout is known at
//! compile time, so the fixed part is one memcpy of a constant image plus the field stores.
//!
//! Buffer layout produced (all offsets from the start of the payload, which is 8-aligned):
//!
//!     0          u32 root offset = table_pos
//!     4          vtable: u16 vtable size, u16 table size, u16 field offset per field id
//!     table_pos  i32 soffset to the vtable (table_pos - 4), then the inline fields,
//!                placed so every scalar is aligned to its size
//!     fixed_size strings and byte vectors in the order they are written: each starts with a
//!                4-aligned u32 length; strings end with a NUL
//!
//! This is a valid FlatBuffer for the schema's generated code and Verifier (checked by the
//! round-trip tests, which read every event through the generated accessors).

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tracering::detail::fb {

//! The inline shape of one table field.
enum class Slot : uint8_t {
    U8,     //!< bool, ubyte enums
    U32,    //!< int, uint, uint enums
    U64,    //!< long, ulong
    Hash,   //!< struct Hash256 (32 bytes, alignment 1)
    Offset, //!< string or vector: a u32 offset forward to the data
};

constexpr uint32_t SlotSize(Slot s)
{
    switch (s) {
    case Slot::U8:
        return 1;
    case Slot::U32:
        return 4;
    case Slot::U64:
        return 8;
    case Slot::Hash:
        return 32;
    case Slot::Offset:
        return 4;
    }
    return 0;
}

constexpr uint32_t SlotAlign(Slot s) { return s == Slot::Hash ? 1 : SlotSize(s); }

constexpr uint32_t AlignUp(uint32_t v, uint32_t a) { return (v + a - 1) & ~(a - 1); }

inline constexpr uint32_t MAX_FIXED = 256;
inline constexpr uint32_t VTABLE_POS = 4;

//! The compile-time layout of a table with N fields (ids 0..N-1).
template <size_t N>
struct Layout {
    uint32_t table_pos{0};
    uint32_t table_size{0};
    uint32_t fixed_size{0};
    std::array<uint16_t, N> field_pos{};    //!< absolute position of each field's slot
    std::array<Slot, N> slots{};            //!< each field's slot (TableWriter checks stores)
    std::array<uint8_t, MAX_FIXED> image{}; //!< bytes [0, fixed_size) before any field is set

    //! Every member: events that share an emitter assert that their layouts are equal.
    friend constexpr bool operator==(const Layout&, const Layout&) = default;
};

template <size_t N>
constexpr Layout<N> MakeLayout(const std::array<Slot, N>& slots)
{
    Layout<N> l;
    const uint32_t vtable_size = 4 + 2 * uint32_t(N);
    l.table_pos = AlignUp(VTABLE_POS + vtable_size, 8);
    l.slots = slots;
    std::array<uint16_t, N> rel{};
    std::array<bool, N> placed{};
    uint32_t p = 4; // after the soffset
    // One 4-byte field fills [4, 8) so that 8-byte fields start aligned without a hole.
    for (size_t i = 0; i < N; ++i) {
        if (SlotAlign(slots[i]) == 4) {
            rel[i] = uint16_t(p);
            p += 4;
            placed[i] = true;
            break;
        }
    }
    for (uint32_t align : {8u, 4u, 1u}) {
        for (size_t i = 0; i < N; ++i) {
            if (placed[i] || SlotAlign(slots[i]) != align) continue;
            p = AlignUp(p, align);
            rel[i] = uint16_t(p);
            p += SlotSize(slots[i]);
            placed[i] = true;
        }
    }
    l.table_size = p;
    l.fixed_size = l.table_pos + l.table_size;
    auto put16 = [&](uint32_t at, uint32_t v) {
        l.image[at] = uint8_t(v);
        l.image[at + 1] = uint8_t(v >> 8);
    };
    auto put32 = [&](uint32_t at, uint32_t v) {
        put16(at, v & 0xffff);
        put16(at + 2, v >> 16);
    };
    put32(0, l.table_pos);
    put16(VTABLE_POS, vtable_size);
    put16(VTABLE_POS + 2, l.table_size);
    for (size_t i = 0; i < N; ++i) {
        put16(VTABLE_POS + 4 + 2 * uint32_t(i), rel[i]);
        l.field_pos[i] = uint16_t(l.table_pos + rel[i]);
    }
    put32(l.table_pos, l.table_pos - VTABLE_POS); // soffset: the vtable lies before the table
    return l;
}

//! Bytes a string of `len` characters adds after `end`.
constexpr uint64_t StringEnd(uint64_t end, uint64_t len)
{
    return ((end + 3) & ~uint64_t{3}) + 4 + len + 1;
}
//! Bytes a byte vector of `len` adds after `end`.
constexpr uint64_t BytesEnd(uint64_t end, uint64_t len)
{
    return ((end + 3) & ~uint64_t{3}) + 4 + len;
}

//! strlen() inline, for the short strings tracepoints pass (message and connection types,
//! addresses): it tests the 16-byte aligned blocks that hold the string, 16 bytes at a time.
//! An aligned block never crosses a page, so reading a whole one is safe; the bytes before
//! the string and after its end are looked at but not used, which the sanitizers cannot
//! know (hence the attribute).
#if defined(__SSE2__)
__attribute__((no_sanitize("address", "thread"))) inline uint32_t StrLen(const char* s) noexcept
{
    if (!s) return 0;
    const uintptr_t misalign = reinterpret_cast<uintptr_t>(s) & 15;
    const auto* block = reinterpret_cast<const __m128i*>(s - misalign);
    const __m128i zero = _mm_setzero_si128();
    uint32_t nul = uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(block), zero)));
    nul >>= misalign;
    if (nul != 0) return uint32_t(__builtin_ctz(nul));
    for (uint32_t len = 16 - uint32_t(misalign);; len += 16) {
        nul = uint32_t(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(++block), zero)));
        if (nul != 0) return len + uint32_t(__builtin_ctz(nul));
    }
}
#else
inline uint32_t StrLen(const char* s) noexcept { return s ? uint32_t(std::strlen(s)) : 0; }
#endif

//! memcpy() inline for the few bytes most fields have: up to 32 bytes as two overlapping
//! moves of the widest size that fits, the library's memcpy beyond. Always inlined: as a
//! call, the registers live around it (an emitter's arguments, the reservation) were spilled
//! and reloaded at each string and byte field (a ping: 350 instructions called, 332 inlined).
[[gnu::always_inline]] inline void CopySmall(uint8_t* dst, const void* src, uint32_t len) noexcept
{
    const auto* from = static_cast<const uint8_t*>(src);
    auto two = [&](auto word) {
        constexpr uint32_t W = sizeof(word);
        decltype(word) head, tail;
        std::memcpy(&head, from, W);
        std::memcpy(&tail, from + len - W, W);
        std::memcpy(dst, &head, W);
        std::memcpy(dst + len - W, &tail, W);
    };
    if (len >= 8) {
        if (len <= 16) {
            two(uint64_t{});
        } else if (len <= 32) {
            struct Sixteen {
                uint64_t a, b;
            };
            two(Sixteen{});
        } else {
            std::memcpy(dst, from, len);
        }
    } else if (len >= 4) {
        two(uint32_t{});
    } else if (len != 0) {
        dst[0] = from[0];
        dst[len / 2] = from[len / 2];
        dst[len - 1] = from[len - 1];
    }
}

//! A field id known at compile time: TableWriter checks each store against the field's slot.
template <size_t I>
struct FieldIndex {
};
template <size_t I>
inline constexpr FieldIndex<I> F{};

//! Writes the table described by layout `L` (a constexpr Layout) into `buf`. The caller
//! computed the size with StringEnd/BytesEnd in the same order as the String/Bytes calls here.
//! Every store names its field as F<id>, and a store that does not fit the field's slot (a
//! scalar of another size, a string into a scalar) does not compile.
template <const auto& L>
class TableWriter
{
public:
    explicit TableWriter(uint8_t* buf) noexcept : m_buf{buf}, m_end{L.fixed_size}
    {
        std::memcpy(buf, L.image.data(), L.fixed_size);
    }

    template <size_t I, typename T>
    void Scalar(FieldIndex<I>, T value) noexcept
    {
        static_assert(std::is_trivially_copyable_v<T>);
        static_assert(I < L.slots.size() && L.slots[I] != Slot::Hash &&
                          L.slots[I] != Slot::Offset && SlotSize(L.slots[I]) == sizeof(T),
                      "the value's size differs from the field's in the schema");
        std::memcpy(m_buf + L.field_pos[I], &value, sizeof(T));
    }
    template <size_t I>
    void Bool(FieldIndex<I> field, bool value) noexcept
    {
        Scalar(field, uint8_t{value ? uint8_t{1} : uint8_t{0}});
    }
    template <size_t I>
    void Hash(FieldIndex<I>, const void* hash32) noexcept
    {
        static_assert(I < L.slots.size() && L.slots[I] == Slot::Hash, "not a Hash256 field");
        if (hash32) std::memcpy(m_buf + L.field_pos[I], hash32, 32);
    }
    template <size_t I>
    void String(FieldIndex<I> field, const char* s, uint32_t len) noexcept
    {
        uint8_t* data = Blob(field, len);
        CopySmall(data, s, len);
        data[len] = 0;
        m_end += 1;
    }
    template <size_t I>
    void Bytes(FieldIndex<I> field, const void* bytes, uint32_t len) noexcept
    {
        uint8_t* data = Blob(field, len);
        CopySmall(data, bytes, len);
    }
    //! Marks a field as not present (readers see its default).
    template <size_t I>
    void Absent(FieldIndex<I>) noexcept
    {
        static_assert(I < L.slots.size());
        const uint32_t at = VTABLE_POS + 4 + 2 * uint32_t(I);
        m_buf[at] = 0;
        m_buf[at + 1] = 0;
    }
    uint32_t size() const noexcept { return m_end; }

private:
    template <size_t I>
    uint8_t* Blob(FieldIndex<I>, uint32_t len) noexcept
    {
        static_assert(I < L.slots.size() && L.slots[I] == Slot::Offset,
                      "not a string or vector field");
        const uint32_t pos = AlignUp(m_end, 4);
        // Zero the 0-3 alignment bytes with one 4-byte store: it ends at or before the end
        // of the length prefix written next, so it never leaves the blob's space.
        const uint32_t zero = 0;
        std::memcpy(m_buf + m_end, &zero, 4);
        std::memcpy(m_buf + pos, &len, 4);
        const uint32_t rel = pos - L.field_pos[I];
        std::memcpy(m_buf + L.field_pos[I], &rel, 4);
        m_end = pos + 4 + len;
        return m_buf + pos + 4;
    }

    uint8_t* const m_buf;
    uint32_t m_end;
};

} // namespace tracering::detail::fb

#endif // TRACERING_PRODUCER_FLAT_TABLE_H
