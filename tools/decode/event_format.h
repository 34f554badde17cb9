// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_DECODE_EVENT_FORMAT_H
#define TRACERING_DECODE_EVENT_FORMAT_H

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

#include "decode/event_schema.h"

namespace tracering::ringdump {

//! A scalar read from a table or struct, widened without loss.
struct Scalar {
    bool is_float{false};
    bool is_signed{false};
    uint64_t bits{0}; //!< the integer (two's complement when signed)
    double real{0};
};

//! One field of an event as EventFormatter::ValueOf() classifies it: what AppendEvent prints
//! for it, before any formatting. The Python module (python/) converts these to objects.
struct FieldValue {
    enum class Kind {
        Null,      //!< an absent string, vector, table or optional scalar
        Scalar,    //!< `scalar`; a bool when the field's type is, an enum value when `enum_value`
        String,    //!< `text`, as the payload holds it (not checked for UTF-8)
        Bytes,     //!< `bytes`: a byte vector or byte array, in the payload
        Hash,      //!< `bytes`: a tracering.Hash256 in wire order; shown reversed (display hex)
        Composite, //!< a table, a struct, or a vector or array of other things: see AppendFieldJson
    };
    Kind kind{Kind::Null};
    Scalar scalar;
    //! The enum value the schema names for `scalar`; nullptr if the type is no enum, or the
    //! value is newer than the schema (then the number itself is the value).
    const reflection::EnumVal* enum_value{nullptr};
    std::string_view text;
    std::span<const uint8_t> bytes;
};

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
    //! Field `field` of the event table `table` (from Decode()), classified: the one place
    //! that knows how each kind of field is shown, for AppendEvent and for the Python module.
    FieldValue ValueOf(const reflection::Field& field, const flatbuffers::Table& table) const
    {
        return ValueAt(field, reinterpret_cast<const uint8_t*>(&table), /*in_struct=*/false);
    }
    //! Appends field `field` of `table` as JSON, as AppendEvent does in Style::Json: for
    //! FieldValue::Kind::Composite values. Corrupt, with nothing appended, past MAX_VALUES.
    Result<void> AppendFieldJson(std::string& out, const reflection::Field& field,
                                 const flatbuffers::Table& table) const;
    //! Appends the line that marks `lost` missing events of `ring` before seq `before_seq`.
    void AppendLoss(std::string& out, std::string_view ring, uint64_t lost,
                    uint64_t before_seq) const;

    const EventSchema& schema() const { return m_schema; }
    Style style() const { return m_style; }
    //! "ring:event" of a record type ("?:type_<n>" for one the schema does not know).
    std::string EventName(uint16_t type) const;

private:
    FieldValue ValueAt(const reflection::Field& field, const uint8_t* base, bool in_struct) const;
    const reflection::EnumVal* EnumValueOf(const reflection::Type& type, const Scalar& s) const;
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

#endif // TRACERING_DECODE_EVENT_FORMAT_H
