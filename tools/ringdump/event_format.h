// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RINGDUMP_EVENT_FORMAT_H
#define TRACERING_RINGDUMP_EVENT_FORMAT_H

//! @file
//! Printing events, one line each, driven by FlatBuffers reflection over the event schema:
//! every field of every table is printed by its schema name, so fields added to a schema
//! appear without a code change.
//!
//! JSON lines (`--json`):
//!
//!     {"ring":"net","event":"inbound_message","seq":0,"ts_ns":1234,"peer_id":7,...}
//!     {"lost":3,"ring":"net","before_seq":12}
//!
//! Keys `ring`, `event`, `seq`, `ts_ns` (the record's monotonic timestamp), then every
//! field in declaration order: integers exact (64-bit included), enums by name
//! (EnumDisplayName), hashes (tracering.Hash256) in display order (byte-reversed hex), byte
//! vectors as hex of the raw bytes, absent strings, tables and vectors as null; then
//! `"truncated":true` when the producer cut the payload to the reader's limit.

#include <tracering/consumer.h>
#include <tracering/result.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "event_schema.h"

namespace tracering::ringdump {

struct Scalar;

//! One record as ringdump handles it, read from a ring or from a capture file.
struct Record {
    uint16_t type{0};
    uint16_t flags{0};
    uint64_t seq{0};
    uint64_t timestamp_ns{0};
    uint64_t lost_before{0}; //!< events of the ring missing right before this one
    //! Events of the ring right before this one that its reader passed over: other readers'
    //! events, which this one did not ask for (not lost; a capture counts them to prove
    //! itself complete).
    uint64_t skipped_before{0};
    std::span<const uint8_t> payload;

    bool truncated() const { return flags & RECORD_FLAG_TRUNCATED; }
};

//! The record an EventView shows (pointing into the ring: valid inside the callback).
Record RecordOf(const EventView& view);

enum class Style {
    Text, //!< for people: local time, ring:event, seq, field=value; long hex shortened
    Json, //!< one JSON object per line, nothing shortened
};

class EventFormatter
{
public:
    //! `clock_offset_ns` turns record timestamps into UNIX time (SegmentInfo::clock_offset_ns).
    EventFormatter(EventSchema schema, Style style, int64_t clock_offset_ns);

    //! Verifies the payload against its table. The table, or nullptr for a record type the
    //! schema does not know (printed as raw bytes); Corrupt if the payload does not verify.
    Result<const flatbuffers::Table*> Decode(const Record& record) const;
    //! Records formatted from now on get UNIX time with this offset (see ClockTracker).
    void SetClockOffset(int64_t clock_offset_ns) { m_clock_offset_ns = clock_offset_ns; }
    //! The event's `peer_id` field, for tables that have one.
    std::optional<int64_t> PeerId(const Record& record, const flatbuffers::Table* table) const;
    //! Appends the event's line (with its '\n'). `table` comes from Decode(). Corrupt, with
    //! nothing appended, for an event that expands to more than MAX_VALUES values (only a
    //! hostile schema or payload does: shared subtables, or huge vectors).
    Result<void> AppendEvent(std::string& out, std::string_view ring, const Record& record,
                             const flatbuffers::Table* table) const;
    static constexpr uint64_t MAX_VALUES = uint64_t{1} << 20;
    //! Appends the line that marks `lost` missing events of `ring` before seq `before_seq`.
    void AppendLoss(std::string& out, std::string_view ring, uint64_t lost,
                    uint64_t before_seq) const;

    const EventSchema& schema() const { return m_schema; }
    Style style() const { return m_style; }
    //! "ring:event" of a record type ("?:type_<n>" for one the schema does not know).
    std::string EventName(uint16_t type) const;

private:
    void AppendFields(std::string& out, uint32_t object_index, const uint8_t* table_or_struct,
                      bool is_struct, bool top, int depth) const;
    void AppendFieldValue(std::string& out, const reflection::Field& field, const uint8_t* base,
                          bool in_struct, bool top, int depth) const;
    void AppendScalar(std::string& out, const reflection::Type& type, reflection::BaseType base,
                      const Scalar& value, bool top) const;
    void AppendBytes(std::string& out, std::span<const uint8_t> bytes, bool reversed,
                     bool top) const;

    EventSchema m_schema;
    Style m_style;
    int64_t m_clock_offset_ns;
    int32_t m_hash_struct{-1}; //!< object index of tracering.Hash256, printed reversed
    //! Values AppendEvent may still print for the current event (not thread-safe, like the
    //! rest of the class).
    mutable uint64_t m_values_left{0};
    bool Spend() const
    {
        if (m_values_left == 0) return false;
        --m_values_left;
        return true;
    }
};

//! Appends `text` as a JSON string: quotes, backslash and control characters escaped,
//! invalid UTF-8 bytes replaced by U+FFFD, so every line is valid JSON.
void AppendJsonString(std::string& out, std::string_view text);
//! Appends lower-case hex of `bytes`, last byte first when `reversed`.
void AppendHex(std::string& out, std::span<const uint8_t> bytes, bool reversed = false);
//! How an enum value is printed: its schema name in lower case with a '-' between words,
//! so net.ConnectionType.OutboundFullRelay is "outbound-full-relay" (Bitcoin Core's own
//! string) and net.Network.IPv4 is "ipv4".
std::string EnumDisplayName(std::string_view schema_name);

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_EVENT_FORMAT_H
