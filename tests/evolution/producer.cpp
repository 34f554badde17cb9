// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! evolution_producer_v1 / _v2: one source, built against schemas/ (v1) and against the
//! test's second schema set (v2: a field added to net.InboundMessage and an event,
//! net:evolution_probe, added to the net ring; tests/evolution/evolution.cmake).
//!
//!   evolution_producer_vN --control PATH --name NAME
//!
//! prints "ready", then one line per command from stdin:
//!   wait-on    waits until the net ring has a reader     -> "on" | "timeout"
//!   emit       the version's events (below)              -> "done"
//! and exits at EOF.
//!
//! v1 emits net:inbound_message {peer 7, "ping"}, then {peer 8, "pong"}.
//! v2 emits net:inbound_message {peer 7, "ping", evolution_note "from v2"},
//!          net:evolution_probe {peer 7, note "probe"},
//!          net:inbound_message {peer 8, "pong", evolution_note "end"}.

#include <tracering/producer.h>
#include <tracering/schemas/net_generated.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

namespace {

using namespace tracering;

void Reply(const std::string& line)
{
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

void Message(Producer& producer, int64_t peer, const char* msg_type, const char* note)
{
    flatbuffers::FlatBufferBuilder fbb;
    const auto addr = fbb.CreateString("127.0.0.1:8333");
    const auto type = fbb.CreateString(msg_type);
#ifdef TRACERING_EVOLUTION_V2
    const auto note_string = fbb.CreateString(note);
#else
    (void)note;
#endif
    net::InboundMessageBuilder b{fbb};
    b.add_peer_id(peer);
    b.add_addr(addr);
    b.add_conn_type(net::ConnectionType::Inbound);
    b.add_msg_type(type);
    b.add_size(8);
#ifdef TRACERING_EVOLUTION_V2
    b.add_evolution_note(note_string);
#endif
    fbb.Finish(b.Finish());
    producer.WriteRaw(Subsystem::Net, static_cast<uint16_t>(EventType::NetInboundMessage),
                      fbb.GetBufferPointer(), fbb.GetSize());
}

} // namespace

int main(int argc, char** argv)
{
    ProducerOptions options;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--control") options.control_socket = argv[i + 1];
        if (flag == "--name") options.name = argv[i + 1];
    }
    auto producer = Producer::Create(options);
    if (!producer) {
        std::fprintf(stderr, "evolution_producer: %s\n", producer.error().message().c_str());
        return 2;
    }
    Reply("ready");
    for (std::string line; std::getline(std::cin, line);) {
        if (line == "wait-on") {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            bool on = false;
            while (!(on = (*producer)->Stats(Subsystem::Net).enabled) &&
                   std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            Reply(on ? "on" : "timeout");
        } else if (line == "emit") {
            Message(**producer, 7, "ping", "from v2");
#ifdef TRACERING_EVOLUTION_V2
            flatbuffers::FlatBufferBuilder fbb;
            fbb.Finish(net::CreateEvolutionProbeDirect(fbb, 7, "probe"));
            (*producer)->WriteRaw(Subsystem::Net,
                                  static_cast<uint16_t>(EventType::NetEvolutionProbe),
                                  fbb.GetBufferPointer(), fbb.GetSize());
#endif
            Message(**producer, 8, "pong", "end");
            Reply("done");
        } else {
            Reply("unknown command: " + line);
        }
    }
    return 0;
}
