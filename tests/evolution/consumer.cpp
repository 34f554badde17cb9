// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! evolution_consumer_v1 / _v2: one source, built like evolution_producer_vN (producer.cpp)
//! against either schema set. Attaches to the net ring and prints what its own schemas
//! decode, one line per event, until it has seen a "pong":
//!
//!   evolution_consumer_vN CONTROL_PATH [EVENT]
//!
//!   "attached"                                   once the ring is attached
//!   "message peer=7 msg=ping note=<n>"           an inbound_message; <n> is the v2 field
//!                                                ("-" when absent, "n/a" in v1)
//!   "unknown type=<t>"                           a record this build's schemas do not know
//!   "end delivered=<d> lost=<l> unknown=<u>"     at the pong
//!   "error <message>" and exit 2                 if connecting or attaching failed
//!
//! EVENT, if given, attaches to that event of the net ring only and ends after its first one.

#include <tracering/control.h>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv)
{
    using namespace tracering;
    if (argc < 2) return 2;
    auto fail = [](const std::string& message) {
        std::printf("error %s\n", message.c_str());
        return 2;
    };
    auto client = ControlClient::Connect(argv[1]);
    if (!client) return fail(client.error().message());
    RingRequest request{.ring = "net"};
    if (argc > 2) request.events.push_back(argv[2]);
    auto session = (*client)->Attach({request});
    if (!session) return fail(session.error().message());
    std::printf("attached\n");
    std::fflush(stdout);

    RingReader& reader = *(*session)->readers().at(0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool done = false;
    Backoff backoff;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        auto polled = reader.Poll([&](const EventView& ev) {
            if (const auto* m = ev.as<net::InboundMessage>()) {
#ifdef TRACERING_EVOLUTION_V2
                const std::string note =
                    m->evolution_note() ? m->evolution_note()->str() : std::string{"-"};
#else
                const std::string note = "n/a";
#endif
                std::printf("message peer=%lld msg=%s note=%s\n",
                            static_cast<long long>(m->peer_id()), m->msg_type()->c_str(),
                            note.c_str());
                done = m->msg_type()->str() == "pong";
            } else if (!ev.known()) {
                std::printf("unknown type=%u\n", unsigned{ev.raw_type()});
            } else {
                std::printf("other type=%u\n", unsigned{ev.raw_type()});
            }
            if (argc > 2) done = true; // one event asked for by name: its first one ends it
        });
        if (!polled) return fail(polled.error().message());
        backoff.Idle(polled.value());
    }
    const ReaderStats& s = reader.stats();
    std::printf(
        "end delivered=%llu lost=%llu unknown=%llu\n", static_cast<unsigned long long>(s.delivered),
        static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.unknown));
    return done ? 0 : 1;
}
