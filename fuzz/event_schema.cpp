// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Fuzz target: a binary event schema from a file, as `ringdump read` takes it from a capture
// (EventSchema::Load_untrusted, with tracering's own catalogue), and from a producer's
// segment (EventSchema::FromProducer_untrusted, whose catalogue ReadCatalogue reads from the
// schema itself). Both verify the .bfbs and check every type index and struct layout in it;
// then an event is decoded (reflection verification of the payload against
// that schema's table) and formatted, as text and as JSON, with EventFormatter. The input
// (fuzz/inputs.h, EventSchemaInput) is the schema, a record type, flags and a payload; the
// seeds are real schemas, so both catalogues find their tables by their real names.
//
// Besides ASan and UBSan: a JSON line is one line, and the payload is a heap block of its
// exact size, so reading past it is caught.

#include "decode/event_schema.h"

#include <tracering/events.h>

#include <cstring>
#include <memory>

#include "decode/event_format.h"
#include "inputs.h"
#include "util.h"

namespace tracering::fuzz {
namespace {

const std::vector<ringdump::EventDesc>& Catalogue()
{
    static const auto* events = new std::vector<ringdump::EventDesc>{
        Must(ringdump::EventSchema::Builtin(), "the built-in schema").events()};
    return *events;
}

void Format(const ringdump::EventSchema& schema, ringdump::Style style,
            const ringdump::Record& record)
{
    ringdump::EventFormatter format{schema, style, /*clock_offset_ns=*/0};
    (void)format.EventName(record.type);
    auto table = format.Decode(record);
    if (!table) return;
    (void)format.PeerId(record, *table);
    std::string line;
    format.AppendLoss(line, "ring", 1, record.seq);
    const size_t start = line.size();
    if (!format.AppendEvent(line, "ring", record, *table)) {
        if (line.size() != start) Die("a refused event left part of its line behind");
        return;
    }
    if (style == ringdump::Style::Json && line.find('\n', start) != line.size() - 1) {
        Die("a JSON event line holds a line break");
    }
}

void Use(const ringdump::EventSchema& schema, const ringdump::Record& record)
{
    for (const ringdump::EventDesc& e : schema.events()) {
        if (schema.TableIndexOf(e.type) < 0) Die("a catalogued event has no table");
    }
    Format(schema, ringdump::Style::Json, record);
    Format(schema, ringdump::Style::Text, record);
}

void Run(std::span<const uint8_t> bytes)
{
    const EventSchemaInput input = EventSchemaInput::Decode(bytes);
    // The payload in a block of its own size (aligned as in a ring), so ASan sees overreads.
    std::unique_ptr<uint8_t[]> payload{new uint8_t[input.payload.size()]};
    if (!input.payload.empty()) {
        std::memcpy(payload.get(), input.payload.data(), input.payload.size());
    }
    ringdump::Record record;
    record.type = input.type;
    record.flags = input.flags;
    record.seq = 1;
    record.timestamp_ns = 1'700'000'000'000'000'000;
    record.payload = {payload.get(), input.payload.size()};
    // As a capture file gives it: the catalogue stored beside the schema.
    if (auto schema = ringdump::EventSchema::Load_untrusted(
            {input.schema.begin(), input.schema.end()}, Catalogue())) {
        Use(*schema, record);
    }
    // As a producer's segment gives it: the catalogue read from the schema's own `event`
    // attributes and Ring enum (tracering::ReadCatalogue).
    if (auto schema = ringdump::EventSchema::FromProducer_untrusted(
            {input.schema.begin(), input.schema.end()})) {
        Use(*schema, record);
    }
}

} // namespace
} // namespace tracering::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    tracering::fuzz::Run({data, size});
    return 0;
}
