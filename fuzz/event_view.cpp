// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Fuzz target: EventView::as<T>(), the FlatBuffers verification a C++ consumer relies on
// before it reads an event's table in place. The input (fuzz/inputs.h) is a record type and
// a payload; a real producer writes it with Producer::WriteRaw to a ring, a real reader reads
// it back, and the view is asked for every event table. While it is, the rest of the ring is
// poisoned for ASan, so a verifier or accessor that reads past the payload is caught, not
// just one that leaves the mapping.
//
// ringdump decodes the same bytes through reflection over its built-in schema
// (EventFormatter::Decode); both verifiers must agree on every event type, and an event they
// accept is formatted as a JSON line.

#include <tracering/consumer.h>
#include <tracering/producer.h>
#include <tracering/schemas.h>

#include <cstring>
#include <tuple>
#include <unistd.h>
#include <utility>

#include "decode/event_format.h"
#include "decode/event_schema.h"
#include "inputs.h"
#include "util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define TRACERING_FUZZ_POISON(p, n) __asan_poison_memory_region((p), (n))
#define TRACERING_FUZZ_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#endif
#endif
#ifndef TRACERING_FUZZ_POISON
#define TRACERING_FUZZ_POISON(p, n) ((void)(p), (void)(n))
#define TRACERING_FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace tracering::fuzz {
namespace {

//! The table of every event, from the catalogue (tracering/catalogue_generated.h).
#define TRACERING_X(Ring, ring, Table, event, type) std::declval<std::tuple<ring::Table>>(),
using Tables = decltype(std::tuple_cat(TRACERING_FOR_EACH_EVENT(TRACERING_X) std::tuple<>{}));
#undef TRACERING_X

template <size_t... I>
constexpr bool ListsEveryEventOnce(std::index_sequence<I...>)
{
    for (const EventInfo& e : EVENTS) {
        const int tables =
            ((EventTypeOf<std::tuple_element_t<I, Tables>>::value == e.type ? 1 : 0) + ...);
        if (tables != 1) return false;
    }
    return sizeof...(I) == EVENTS.size();
}
static_assert(ListsEveryEventOnce(std::make_index_sequence<std::tuple_size_v<Tables>>{}),
              "fuzz/event_view.cpp: Tables must hold the table of each event of EVENTS, once");

struct Fixture {
    std::unique_ptr<Producer> producer;
    std::unique_ptr<Lease> lease;
    std::unique_ptr<Consumer> consumer;
    std::vector<std::unique_ptr<RingReader>> readers;
    ringdump::EventFormatter format{Must(ringdump::EventSchema::Builtin(), "the built-in schema"),
                                    ringdump::Style::Json, 0};

    Fixture()
    {
        ProducerOptions options;
        options.name = "fuzz-event-view-" + std::to_string(::getpid());
        options.capacities.fill(EVENT_VIEW_CAPACITY);
        options.install_global = false;
        producer = Must(Producer::Create(options), "Producer::Create");
        std::vector<LeaseRequest> rings;
        for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i)
            rings.push_back({static_cast<Subsystem>(i), {}});
        lease = Must(producer->Attach(rings), "Producer::Attach");
        const int fd = Must(producer->SegmentFd(), "the producer's segment");
        consumer = Must(Consumer::OpenFd(fd, "the producer's segment"), "Consumer::OpenFd");
        ::close(fd);
        for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
            readers.push_back(Must(
                (*consumer).OpenReader(SUBSYSTEM_NAMES[i], lease->Grant(static_cast<Subsystem>(i))),
                "Consumer::OpenReader"));
        }
    }
};

Fixture& TheFixture()
{
    // Destroyed at exit (libFuzzer ends with exit()), so the producer removes its segment.
    static Fixture fixture;
    return fixture;
}

template <size_t... I>
int VerifiedTables(const EventView& view, std::index_sequence<I...>)
{
    return ((view.as<std::tuple_element_t<I, Tables>>() != nullptr ? 1 : 0) + ...);
}

void Check(const Fixture& f, const EventView& view, uint16_t type, std::span<const uint8_t> payload,
           const uint8_t* ring_begin, uint64_t capacity)
{
    if (view.raw_type() != type || view.size() != payload.size() ||
        std::memcmp(view.data(), payload.data(), payload.size()) != 0) {
        Die("the record read back differs from the one written");
    }
    // Only the payload stays readable while it is verified and formatted.
    const uint8_t* end = view.data() + view.size();
    const uint8_t* ring_end = ring_begin + capacity;
    TRACERING_FUZZ_POISON(ring_begin, size_t(view.data() - ring_begin));
    TRACERING_FUZZ_POISON(end, size_t(ring_end - end));

    const int verified =
        VerifiedTables(view, std::make_index_sequence<std::tuple_size_v<Tables>>{});
    const bool known = FindEvent(static_cast<EventType>(type)) != nullptr;
    if (verified > (known ? 1 : 0)) {
        Die(std::to_string(verified) + " event tables accept a record of type " +
            std::to_string(type));
    }
    const ringdump::Record record = ringdump::RecordOf(view);
    auto table = f.format.Decode(record);
    if (known && table.ok() != (verified == 1)) {
        Die("EventView::as<T>() " + std::string{verified ? "accepts" : "refuses"} +
            " a payload of type " + std::to_string(type) + " that ringdump's reflection " +
            (table.ok() ? "accepts" : "refuses"));
    }
    std::string line;
    if (table && f.format.AppendEvent(line, "ring", record, *table)) {
        if (line.find('\n') != line.size() - 1) Die("a JSON event line holds a line break");
    }

    TRACERING_FUZZ_UNPOISON(ring_begin, size_t(view.data() - ring_begin));
    TRACERING_FUZZ_UNPOISON(end, size_t(ring_end - end));
}

void Run(std::span<const uint8_t> bytes)
{
    Fixture& f = TheFixture();
    InputReader in{bytes};
    const uint16_t type = in.Le<uint16_t>();
    const std::span<const uint8_t> payload = in.Rest();
    uint32_t ring = type < static_cast<uint16_t>(EventType::UserFirst) ? type / EVENTS_PER_RING_MAX
                                                                       : type % SUBSYSTEM_COUNT;
    // A type of no ring goes to net, whose reader skips it as nobody's event.
    if (ring >= SUBSYSTEM_COUNT) ring = 0;
    const auto subsystem = static_cast<Subsystem>(ring);
    if (!f.producer->WriteRaw(subsystem, type, payload.data(), uint32_t(payload.size()))) return;
    // The record just written ends at the ring's write position.
    const uint64_t write_pos = f.producer->Stats(subsystem).write_pos;
    const uint64_t start =
        write_pos - AlignedRecordSize(uint64_t{RECORD_HEADER_SIZE} + payload.size());
    const uint64_t offset = (start & (EVENT_VIEW_CAPACITY - 1)) + RECORD_HEADER_SIZE;
    size_t views = 0;
    auto polled = f.readers[ring]->Poll([&](const EventView& view) {
        ++views;
        Check(f, view, type, payload, view.data() - offset, EVENT_VIEW_CAPACITY);
    });
    if (!polled) Die("the reader failed: " + polled.error().message());
    if (views > 1) Die("one record written, " + std::to_string(views) + " read");
}

} // namespace
} // namespace tracering::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    tracering::fuzz::Run({data, size});
    return 0;
}
