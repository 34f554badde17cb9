// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! @file
//! ringdump watch: prints the events of the attached rings as they come (Watch()).

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "clock_tracker.h"
#include "command_support.h"
#include "commands.h"

namespace tracering::ringdump {
namespace {

//! Whether any event `requests` select has a peer_id field (what EventFormatter::PeerId
//! reads) in the producer's `schema`.
bool SelectsPeerEvents(const std::vector<RingRequest>& requests, const EventSchema& schema)
{
    for (const EventDesc& event : schema.events()) {
        const auto request =
            std::find_if(requests.begin(), requests.end(),
                         [&](const RingRequest& r) { return r.ring == event.ring; });
        if (request == requests.end()) continue;
        if (!request->events.empty() && std::find(request->events.begin(), request->events.end(),
                                                  event.name) == request->events.end()) {
            continue;
        }
        const int32_t index = schema.TableIndexOf(event.type);
        if (index < 0) continue;
        for (const reflection::Field* f : schema.FieldsInOrder(uint32_t(index))) {
            if (f->name()->string_view() == "peer_id" && IsScalar(f->type()->base_type())) {
                return true;
            }
        }
    }
    return false;
}

} // namespace

int Watch(const WatchOptions& options, const Io& io)
{
    // Peers live on the net ring: asking about one means the net ring unless told otherwise.
    const Selection defaults{options.peer ? std::vector<std::string>{"net"} : AllRings(), {}};
    auto requests = MakeRequests(options.selection, defaults,
                                 {.lossless = options.lossless,
                                  .lossless_wait_ms = options.lossless_wait_ms,
                                  .payload_limit = options.payload_limit});
    if (!requests) return Fail(io, EXIT_USAGE, requests.error().message());
    // The producer's own schema: every field it writes is printed, even one newer than us.
    std::unique_ptr<ControlClient> client;
    std::unique_ptr<Session> session;
    std::optional<EventSchema> schema;
    if (int code = AttachWithSchema(options.control, *requests, io, client, session, schema);
        code != EXIT_OK) {
        return code;
    }
    // An event without a peer never matches: refuse rather than print nothing forever.
    if (options.peer && !SelectsPeerEvents(*requests, *schema)) {
        std::vector<std::string> rings;
        for (const RingRequest& r : *requests) {
            rings.push_back(r.ring);
        }
        return Fail(io, EXIT_USAGE,
                    "--peer: no event selected (of " + Join(rings) +
                        ") has a peer_id field, so none would be printed; peers are on the net "
                        "ring's events");
    }

    ClockTracker clock{UnixClockOffsetNow};
    EventFormatter format{*schema, options.json ? Style::Json : Style::Text, clock.offset()};
    std::vector<std::string> rings;
    for (const auto& reader : session->readers()) {
        rings.push_back(reader->name());
    }
    std::string out;
    uint64_t corrupt = 0;
    const auto take = [&](size_t ring, const Record& record) {
        if (clock.Update()) format.SetClockOffset(clock.offset());
        if (record.lost_before) format.AppendLoss(out, rings[ring], record.lost_before, record.seq);
        auto table = format.Decode(record);
        Take taken = Take::Skipped;
        if (!table) {
            ++corrupt;
            std::fprintf(io.err, "ringdump: ring '%s': %s; skipped\n", rings[ring].c_str(),
                         table.error().message().c_str());
        } else if (!options.peer || format.PeerId(record, *table) == options.peer) {
            if (auto shown = format.AppendEvent(out, rings[ring], record, *table); shown) {
                taken = Take::Counted;
            } else {
                ++corrupt;
                std::fprintf(io.err, "ringdump: ring '%s': %s; skipped\n", rings[ring].c_str(),
                             shown.error().message().c_str());
            }
        }
        if (out.size() >= OUTPUT_CHUNK && !WriteOut(io, out, false)) return Take::Abort;
        return taken;
    };
    const PumpEnd end = Pump(*session, io, options.count, std::nullopt, take,
                             [&] { return WriteOut(io, out, true); });
    // Events lost after the last one read are a line of the output too, not only a number.
    for (size_t i = 0; i < end.tails.size(); ++i) {
        const RingTail& tail = end.tails[i];
        if (tail.lost) format.AppendLoss(out, rings[i], tail.lost, tail.next_seq);
    }
    const bool written = WriteOut(io, out, true);
    uint64_t delivered = 0, lost = 0;
    const std::string totals = Totals(*session, end.tails, delivered, lost);
    if (!end.note.empty()) std::fprintf(io.err, "ringdump: %s\n", end.note.c_str());
    std::fprintf(io.err, "ringdump: %" PRIu64 " events delivered, %" PRIu64 " lost (%s)\n",
                 delivered, lost, totals.c_str());
    if (corrupt) {
        return Fail(io, EXIT_CORRUPT,
                    std::to_string(corrupt) + " events did not verify against "
                                              "their schema and were skipped");
    }
    if (end.code != EXIT_OK) return end.code;
    if (!written || (end.aborted && end.note.empty())) {
        return Fail(io, EXIT_UNAVAILABLE, "cannot write the output");
    }
    return EXIT_OK;
}

} // namespace tracering::ringdump
