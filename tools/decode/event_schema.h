// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_DECODE_EVENT_SCHEMA_H
#define TRACERING_DECODE_EVENT_SCHEMA_H

//! @file
//! The event catalogue ringdump prints from: a binary FlatBuffers schema (.bfbs) with the
//! table of every event type. The built-in one is generated from schemas/*.fbs at build
//! time; a native capture file carries its own, so a capture stays readable by any ringdump.

#include <tracering/result.h>

#include <flatbuffers/reflection.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tracering::ringdump {

//! The binary schema of every event table this ringdump was built with
//! (tracering/detail/schema_bytes.h, generated from schemas/*.fbs).
extern const std::span<const uint8_t> EMBEDDED_SCHEMA;

//! One event type: its record type number, its names and its table.
struct EventDesc {
    uint16_t type{0};
    std::string ring;  //!< the tracepoint context and ring, "net"
    std::string name;  //!< the tracepoint name, "inbound_message"
    std::string table; //!< the table's full name, "tracering.net.InboundMessage"
};

//! Whether a reflection type is a scalar (bool, integers, floats, enums' underlying types).
bool IsScalar(reflection::BaseType t);
//! Bytes of a scalar reflection type; 0 for anything else.
uint32_t ScalarSize(reflection::BaseType t);

//! The table name tracering gives event `name` of `ring`: ("net", "inbound_message") is
//! "tracering.net.InboundMessage".
std::string TableNameOf(std::string_view ring, std::string_view name);

//! A verified binary schema and the event types it describes. Cheap to copy (the schema
//! bytes are shared).
class EventSchema
{
public:
    //! The embedded schema with this build's catalogue (tracering/events.h). Fails only if
    //! the build is broken.
    static Result<EventSchema> Builtin();
    //! A producer's schema (Consumer::schema()), with the catalogue its `event` attributes
    //! declare (tracering::ReadCatalogue): it describes every event and field the producer
    //! writes, including those newer than this ringdump. Checked like Load_untrusted.
    static Result<EventSchema> FromProducer_untrusted(std::vector<uint8_t> bfbs);
    //! A schema read from a file. The bytes are verified, and every type index and struct
    //! layout in them is checked, before anything is read through them; errors are Corrupt.
    static Result<EventSchema> Load_untrusted(std::vector<uint8_t> bfbs,
                                              std::vector<EventDesc> events);

    const reflection::Schema& schema() const { return *reflection::GetSchema(m_bytes->data()); }
    std::span<const uint8_t> bytes() const { return {m_bytes->data(), m_bytes->size()}; }
    const std::vector<EventDesc>& events() const { return m_events; }
    //! The event of record type `type`, or nullptr if this schema does not know it.
    const EventDesc* Find(uint16_t type) const;
    //! Index of the table of record type `type` in schema().objects(), or -1.
    int32_t TableIndexOf(uint16_t type) const;
    //! The fields of object `index` in declaration (id) order, deprecated ones left out.
    const std::vector<const reflection::Field*>& FieldsInOrder(uint32_t index) const
    {
        return m_fields[index];
    }

private:
    EventSchema() = default;
    static Result<EventSchema> Make(std::vector<uint8_t> bfbs, std::vector<EventDesc> events);

    std::shared_ptr<const std::vector<uint8_t>> m_bytes;
    std::vector<EventDesc> m_events;
    std::vector<int32_t> m_tables; //!< object index of each event in m_events
    std::unordered_map<uint16_t, size_t> m_by_type;
    std::vector<std::vector<const reflection::Field*>> m_fields;
};

} // namespace tracering::ringdump

#endif // TRACERING_DECODE_EVENT_SCHEMA_H
