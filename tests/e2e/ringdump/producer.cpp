// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! ringdump_test_producer: a producer the ringdump tests drive line by line, so they know
//! exactly which events exist and when.
//!
//!   ringdump_test_producer --control PATH --name NAME [--capacity BYTES]
//!
//! prints "ready", then answers one line per command read from stdin:
//!   wait-on RING...    waits until those rings have a reader     -> "on" | "timeout"
//!   wait-off RING...   waits until they have none                -> "off" | "timeout"
//!   wait-readers RING N  waits until RING has N readers          -> "readers N" | "timeout"
//!   emit-all           the 20 known events (known_events.h)      -> "done"
//!   emit-messages      the known P2P messages                    -> "done"
//!   emit-big N         net: a ping, N messages too big for the ring, a pong
//!                                                                -> "done too_big=<n>"
//!   flood N            N mempool:added events                    -> "done full=<n> seq=<n>"
//!   marker             one mempool:rejected, reason "marker"     -> "done"
//!   clock-fallback     makes the clock measure an error past its bound at a re-anchor, so
//!                      it falls back to CLOCK_MONOTONIC       -> "done monotonic"
//!                      ("no-tsc" if it never used the TSC)
//! and exits at EOF.

#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "known_events.h"
#include "producer/ring_clock.h"

namespace {

using namespace tracering;

bool WaitFor(Producer& producer, const std::vector<std::string>& rings, bool enabled)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        bool all = true;
        for (const std::string& ring : rings) {
            for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
                if (SUBSYSTEM_NAMES[i] != ring) continue;
                if (producer.Stats(static_cast<Subsystem>(i)).enabled != enabled) all = false;
            }
        }
        if (all) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

void Reply(const std::string& line)
{
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv)
{
    ProducerOptions options;
    uint64_t capacity = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--control") options.control_socket = argv[i + 1];
        if (flag == "--name") options.name = argv[i + 1];
        if (flag == "--capacity") capacity = std::stoull(argv[i + 1]);
    }
    if (capacity) options.capacities.fill(capacity);
    auto producer = Producer::Create(options);
    if (!producer) {
        std::fprintf(stderr, "ringdump_test_producer: %s\n", producer.error().message().c_str());
        return 2;
    }
    Reply("ready");
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream words{line};
        std::string command;
        words >> command;
        if (command == "wait-on" || command == "wait-off") {
            std::vector<std::string> rings;
            for (std::string ring; words >> ring;) {
                rings.push_back(ring);
            }
            const bool on = command == "wait-on";
            Reply(WaitFor(**producer, rings, on) ? (on ? "on" : "off") : "timeout");
        } else if (command == "wait-readers") {
            std::string ring;
            uint32_t want = 0;
            words >> ring >> want;
            bool reached = false;
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (!reached && std::chrono::steady_clock::now() < deadline) {
                for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
                    if (SUBSYSTEM_NAMES[i] != ring) continue;
                    reached = (*producer)->Stats(static_cast<Subsystem>(i)).reader_count == want;
                }
                if (!reached) std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            Reply(reached ? "readers " + std::to_string(want) : "timeout");
        } else if (command == "emit-all") {
            test::ringdump::EmitAll();
            Reply("done");
        } else if (command == "emit-messages") {
            test::ringdump::EmitMessages();
            Reply("done");
        } else if (command == "emit-big") {
            uint64_t n = 0;
            words >> n;
            const test::ringdump::Bytes nonce = test::ringdump::PING_NONCE;
            const test::ringdump::Bytes big(capacity ? capacity : 64 << 20, 0x5a);
            TRACERING_TRACEPOINT(net, inbound_message, 1, "127.0.0.1:1", "inbound", "ping",
                                 nonce.size(), nonce.data());
            for (uint64_t i = 0; i < n; ++i) {
                TRACERING_TRACEPOINT(net, inbound_message, 1, "127.0.0.1:1", "inbound", "block",
                                     big.size(), big.data());
            }
            TRACERING_TRACEPOINT(net, outbound_message, 1, "127.0.0.1:1", "inbound", "pong",
                                 nonce.size(), nonce.data());
            Reply("done too_big=" +
                  std::to_string((*producer)->Stats(Subsystem::Net).dropped_too_big));
        } else if (command == "flood") {
            uint64_t n = 0;
            words >> n;
            for (uint64_t i = 0; i < n; ++i) {
                const test::ringdump::Hash txid = test::ringdump::MakeHash(uint8_t(i));
                TRACERING_TRACEPOINT(mempool, added, txid.data(), int32_t(i), int64_t(i));
            }
            const RingStats s = (*producer)->Stats(Subsystem::Mempool);
            Reply("done full=" + std::to_string(s.dropped_full) + " seq=" + std::to_string(s.seq));
        } else if (command == "clock-fallback") {
            detail::RingClock& clock = detail::ClockOf(**producer);
            if (!clock.UsesTsc()) {
                Reply("no-tsc");
                continue;
            }
            clock.InjectErrorForTest(int64_t(2 * CLOCK_ERROR_BOUND_NS));
            Reply(clock.Reanchor() ? "done tsc" : "done monotonic");
        } else if (command == "marker") {
            TRACERING_TRACEPOINT(mempool, rejected, test::ringdump::TXID_A.data(), "marker");
            Reply("done");
        } else {
            Reply("unknown command: " + line);
        }
    }
    return 0;
}
