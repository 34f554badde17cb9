// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_CATALOGUE_H
#define TRACERING_CATALOGUE_H

//! @file
//! The event catalogue a binary schema declares (schemas/common.fbs says how): the rings of
//! enum `tracering.Ring`, and each table with an `(event: N)` attribute in namespace
//! `tracering.<ring>`. The build derives tracering/events.h from the schemas this way; a
//! consumer reads the producer's catalogue from the schema in its segment
//! (Consumer::schema()), which knows events newer than the consumer.
//!
//!     auto catalogue = tracering::ReadCatalogue(*reflection::GetSchema(bytes.data()));

#include <tracering/result.h>

#include <flatbuffers/reflection.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tracering {

struct CatalogueRing {
    std::string name; //!< "coin_selection"
    uint16_t index{0};
};

struct CatalogueEvent {
    uint16_t type{0};
    std::string ring;   //!< the tracepoint context and ring, "net"
    std::string name;   //!< the tracepoint name, "inbound_message"
    std::string table;  //!< the table's full name, "tracering.net.InboundMessage"
    uint32_t object{0}; //!< index of the table in reflection::Schema::objects()
};

struct Catalogue {
    std::vector<CatalogueRing> rings;   //!< by index, 0 up without gaps
    std::vector<CatalogueEvent> events; //!< by type
};

//! The catalogue `schema` declares, checked against the rules of tracering/events.h: rings
//! numbered 0, 1, ... without gaps; each event's type unique, not 0, below UserFirst and in
//! its ring's range; its name the table's name in snake_case. `schema` must have passed
//! reflection::VerifySchemaBuffer. Errors are Corrupt and name the table and the rule.
Result<Catalogue> ReadCatalogue(const reflection::Schema& schema);
//! The same for schema bytes not verified yet: runs reflection::VerifySchemaBuffer first
//! (Corrupt "the schema (N bytes) is not a binary FlatBuffers schema" if it fails).
Result<Catalogue> ReadCatalogue(std::span<const uint8_t> bfbs);

//! "InboundMessage" -> "inbound_message", and back.
std::string SnakeCase(const std::string& pascal);
std::string PascalCase(const std::string& snake);

} // namespace tracering

#endif // TRACERING_CATALOGUE_H
