// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-demo: a live look at tracing between two processes.
//!
//!   tracering-demo node  --control PATH [--name NAME] [--group GROUP] [--seconds S]
//!                        [--rate EVENTS_PER_SEC]
//!       a stand-in node: creates segment NAME, serves the control socket at PATH and fires
//!       all 20 Bitcoin Core tracepoints from three threads (net, validation/mempool,
//!       utxocache) at RATE. Rings stay off (one load per tracepoint) until someone attaches.
//!       With --group (a group name or gid), members of GROUP may attach and read as well.
//!   tracering-demo watch --control PATH [--seconds S]
//!       a consumer in another process: attaches every ring through the control socket,
//!       prints live rates and a few decoded events, then a summary of attempted vs delivered
//!       vs lost per ring, counted from its own attach.

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.h"

namespace {

using namespace tracering;
using Clock = std::chrono::steady_clock;

//! Writer: cli::StopOnSignals' handler (SIGINT, SIGTERM, SIGHUP). Readers: the node's
//! threads and the watch loop, which then end. Relaxed: the flag orders no other data.
std::atomic<bool> g_stop{false};

bool Stopped() { return g_stop.load(std::memory_order_relaxed); }

struct Args {
    std::string mode;
    std::string name{"demo"};
    std::string control;
    int64_t group_id{-1}; //!< --group's gid, -1 without it
    double seconds{5};
    double rate{200'000};
};

constexpr const char* USAGE =
    "usage: tracering-demo node  --control PATH [--name NAME] [--group GROUP] [--seconds S]\n"
    "                            [--rate EVENTS_PER_SEC]\n"
    "       tracering-demo watch --control PATH [--seconds S]\n"
    "\n"
    "node runs a producer that fires every kind of event at --rate for --seconds; watch\n"
    "attaches to it, prints events/s per ring and, at the end, per ring the events attempted\n"
    "since it attached, delivered to it and lost; it checks that the producer counted every\n"
    "loss as a drop. SIGINT, SIGTERM or SIGHUP ends either cleanly (watch reads what the\n"
    "rings attempted before it first); a second such signal a second or more later kills.\n"
    "\n"
    "  --control PATH  the producer's control socket\n"
    "  --name NAME     (node) the segment name\n"
    "  --group GROUP   (node) let members of GROUP (a group name or gid) attach and read\n"
    "                  too: segment 0440, control socket 0660, both of GROUP\n"
    "  --seconds S     how long to run\n"
    "  --rate N        (node) events per second\n"
    "\n"
    "Exit codes: 0 ok; 1 bad usage; 2 cannot create or attach, or stdout could not be\n"
    "written; 4 (watch) events lost that the producer did not count as dropped.\n";

int Usage(const std::string& error) { return cli::Usage("tracering-demo", "", error); }

void Hash(uint8_t* h, uint64_t v)
{
    for (int i = 0; i < 32; ++i)
        h[i] = uint8_t(v >> ((i % 8) * 8)) ^ uint8_t(i * 29);
}

//! Sleeps so that `done` events take `done / rate` seconds since `start`.
void Pace(Clock::time_point start, uint64_t done, double rate)
{
    const auto due = start + std::chrono::duration<double>(double(done) / rate);
    if (due > Clock::now()) std::this_thread::sleep_until(due);
}

int RunNode(const Args& args)
{
    ProducerOptions options;
    options.name = args.name;
    options.control_socket = args.control;
    if (args.group_id >= 0) {
        options.group_access = GroupAccess::Read;
        options.group_id = args.group_id;
    }
    auto producer = Producer::Create(options);
    if (!producer) {
        std::fprintf(stderr, "tracering-demo: %s\n", producer.error().message().c_str());
        return 2;
    }
    std::printf("node: segment '%s', control socket %s; firing ~%.0f events/s for %.0f s\n",
                args.name.c_str(), args.control.c_str(), args.rate, args.seconds);
    std::fflush(stdout);

    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(args.seconds);
    const double share = args.rate / 3;
    std::vector<std::thread> threads;
    // net: pings in, pongs out, a block now and then, connections coming and going.
    threads.emplace_back([&] {
        uint8_t nonce[8] = {};
        std::vector<uint8_t> block(250'000, 0x42);
        for (uint64_t i = 0; Clock::now() < end && !Stopped(); i += 2) {
            const int64_t peer = int64_t(i / 1000 % 8);
            std::memcpy(nonce, &i, 8);
            TRACERING_TRACEPOINT(net, inbound_message, peer, "127.0.0.1:50412", "inbound", "ping",
                                 sizeof(nonce), nonce);
            TRACERING_TRACEPOINT(net, outbound_message, peer, "127.0.0.1:50412", "inbound", "pong",
                                 sizeof(nonce), nonce);
            if (i % 20'000 == 0) {
                TRACERING_TRACEPOINT(net, inbound_message, peer, "127.0.0.1:50412", "inbound",
                                     "block", block.size(), block.data());
                TRACERING_TRACEPOINT(net, inbound_connection, peer + 100, "127.0.0.1:50999",
                                     "inbound", 0, 9);
                TRACERING_TRACEPOINT(net, misbehaving_connection, peer + 100, "demo: bad headers");
                TRACERING_TRACEPOINT(net, closed_connection, peer + 100, "127.0.0.1:50999",
                                     "inbound", 0, int64_t(1'700'000'000));
            }
            Pace(start, i + 2, share);
        }
    });
    // validation and mempool.
    threads.emplace_back([&] {
        uint8_t txid[32], block_hash[32];
        for (uint64_t i = 0; Clock::now() < end && !Stopped(); ++i) {
            Hash(txid, i);
            TRACERING_TRACEPOINT(mempool, added, txid, int32_t(141 + i % 300), int64_t(1410 + i));
            if (i % 4 == 0)
                TRACERING_TRACEPOINT(mempool, removed, txid, "block", 141, 1410, 1'700'000'000ULL);
            if (i % 1000 == 0) {
                Hash(block_hash, ~i);
                TRACERING_TRACEPOINT(validation, block_connected, block_hash, int32_t(i / 1000),
                                     uint64_t(2500), 7000, int64_t(80'000), int64_t(45'000'000));
                TRACERING_TRACEPOINT(mempool, rejected, txid, "min relay fee not met");
                TRACERING_TRACEPOINT(coin_selection, selected_coins, "demo", "bnb", 100000, -250,
                                     100500);
                TRACERING_TRACEPOINT(coin_selection, normal_create_tx_internal, "demo", true, 1410,
                                     1);
            }
            Pace(start, i + 1, share);
        }
    });
    // utxocache: the busiest ring in a real node.
    threads.emplace_back([&] {
        uint8_t txid[32];
        for (uint64_t i = 0; Clock::now() < end && !Stopped(); i += 2) {
            Hash(txid, i);
            TRACERING_TRACEPOINT(utxocache, add, txid, uint32_t(i % 4), uint32_t(800'000),
                                 int64_t(5000 + i), false);
            TRACERING_TRACEPOINT(utxocache, spent, txid, uint32_t(i % 4), uint32_t(799'000),
                                 int64_t(5000), i % 100 == 0);
            if (i % 100'000 == 0)
                TRACERING_TRACEPOINT(utxocache, flush, int64_t(1200), 2U, i, i * 96, false);
            Pace(start, i + 2, share);
        }
    });
    for (auto& t : threads)
        t.join();
    std::printf("node: done\n");
    for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        const RingStats s = (*producer)->Stats(static_cast<Subsystem>(i));
        std::printf("node: %-15s attempted %10" PRIu64 "  dropped %" PRIu64 "\n", s.name.c_str(),
                    s.seq, s.dropped_full + s.dropped_too_big + s.dropped_timeout);
    }
    std::fflush(stdout);
    // Give the watcher a moment to drain before the segment goes away.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 0;
}

void PrintEvent(const EventView& ev)
{
    const EventInfo* info = FindEvent(ev.type());
    std::printf("  seq %-8" PRIu64 " %s:%s", ev.seq(),
                info ? std::string{info->context}.c_str() : "?",
                info ? std::string{info->name}.c_str() : "?");
    if (auto* m = ev.as<net::InboundMessage>()) {
        std::printf(" peer=%" PRId64 " addr=%s msg_type=%s size=%" PRIu64, m->peer_id(),
                    m->addr()->c_str(), m->msg_type()->c_str(), m->size());
    } else if (auto* a = ev.as<mempool::Added>()) {
        std::printf(" vsize=%d fee=%" PRId64, a->vsize(), a->fee());
    } else if (auto* u = ev.as<utxocache::Add>()) {
        std::printf(" index=%u height=%u value=%" PRId64, u->index(), u->height(), u->value());
    } else if (auto* b = ev.as<validation::BlockConnected>()) {
        std::printf(" height=%d transactions=%" PRIu64 " inputs=%d", b->height(), b->transactions(),
                    b->inputs());
    }
    std::printf("\n");
}

int RunWatch(const Args& args)
{
    std::unique_ptr<ControlClient> client;
    for (int attempt = 0; attempt < 100 && !client; ++attempt) {
        auto connected = ControlClient::Connect(args.control);
        if (connected) {
            client = std::move(connected.value());
        } else if (attempt == 99 || connected.error().code() != ErrorCode::NotFound) {
            std::fprintf(stderr, "tracering-demo: %s\n", connected.error().message().c_str());
            return 2;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    // The producer's drop counters before the attach: every event the attach misses must be
    // among the drops the producer counts from here on.
    Result<std::vector<RingInfo>> before = client->Rings();
    if (!before) {
        std::fprintf(stderr, "tracering-demo: %s\n", before.error().message().c_str());
        return 2;
    }
    std::vector<RingRequest> all;
    for (std::string_view ring : SUBSYSTEM_NAMES)
        all.push_back({.ring = std::string{ring}});
    auto session = client->Attach(all);
    if (!session) {
        std::fprintf(stderr, "tracering-demo: %s\n", session.error().message().c_str());
        return 2;
    }
    std::printf("watch: attached every ring of segment '%s' (producer pid %" PRIu64
                ") through %s\n",
                client->producer().segment_name.c_str(), client->producer().producer_pid,
                args.control.c_str());
    std::fflush(stdout);
    const auto& readers = (*session)->readers();
    // Each reader's first seq, the ring's seq when it was added (ReaderControl::attach_seq):
    // what the ring attempted before belongs to earlier readers, not to this watch.
    std::vector<uint64_t> first_seq;
    std::vector<uint64_t> dropped_before;
    for (const auto& reader : readers) {
        first_seq.push_back(reader->next_seq().value_or(reader->Info().seq));
        uint64_t dropped = 0;
        for (const RingInfo& ring : *before) {
            if (ring.name == reader->name()) dropped = ring.dropped();
        }
        dropped_before.push_back(dropped);
    }
    std::vector<uint64_t> last(readers.size(), 0);
    auto next_report = Clock::now() + std::chrono::milliseconds(500);
    const auto end = Clock::now() + std::chrono::duration<double>(args.seconds);
    bool producer_gone = false;
    int samples = 0;
    const auto print_samples = [&](const EventView& ev) {
        if (samples < 8 && ev.seq() % 5000 == 1) {
            PrintEvent(ev);
            ++samples;
        }
    };
    while (!Stopped() && !producer_gone && Clock::now() < end) {
        uint64_t got = 0;
        for (auto& reader : readers) {
            auto n = reader->Poll(print_samples);
            if (!n) {
                producer_gone = true;
                break;
            }
            got += n.value();
        }
        if (Clock::now() >= next_report) {
            std::printf("watch:");
            for (size_t i = 0; i < readers.size(); ++i) {
                const uint64_t delivered = readers[i]->stats().delivered;
                std::printf(" %s %6.0fk/s", readers[i]->name().c_str(),
                            double(delivered - last[i]) / 500.0);
                last[i] = delivered;
            }
            std::printf("\n");
            std::fflush(stdout);
            next_report += std::chrono::milliseconds(500);
        }
        if (got == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    // The account of each ring ends at its seq now, after reading what it attempted until now
    // (no more than it holds: the rest was dropped), as ringdump does when stopped.
    std::vector<uint64_t> end_seq;
    for (auto& reader : readers) {
        const uint64_t stop_seq = reader->Info().seq;
        while (reader->next_seq().value_or(0) < stop_seq) {
            auto n = reader->Poll(print_samples);
            if (!n || n.value() == 0) break;
        }
        end_seq.push_back(std::max(stop_seq, reader->next_seq().value_or(0)));
    }
    std::printf("watch: summary since the attach (attempted = delivered + lost; every loss a "
                "drop the producer counted)\n");
    int bad = 0;
    for (size_t i = 0; i < readers.size(); ++i) {
        const RingInfo info = readers[i]->Info();
        const ReaderStats& s = readers[i]->stats();
        const uint64_t attempted = end_seq[i] - first_seq[i];
        // A reader that asked for every event of its ring skips none; counted all the same.
        const uint64_t taken = s.delivered + s.skipped;
        const uint64_t lost = attempted > taken ? attempted - taken : 0;
        // Drops counted from just before the attach: at least those of the events since.
        const uint64_t dropped = info.dropped() - dropped_before[i];
        std::printf("  %-15s attempted %10" PRIu64 "  delivered %10" PRIu64 "  lost %" PRIu64
                    " (dropped since the attach %" PRIu64 ")\n",
                    readers[i]->name().c_str(), attempted, s.delivered, lost, dropped);
        if (lost > dropped) ++bad;
    }
    std::fflush(stdout);
    return bad == 0 ? 0 : 4;
}

int Main(int argc, char** argv)
{
    Args args;
    if (argc < 2) return Usage("a mode is required: node or watch");
    args.mode = argv[1];
    if (args.mode == "--help" || args.mode == "-h") return cli::Help(USAGE);
    if (args.mode != "node" && args.mode != "watch") {
        return Usage("unknown mode '" + args.mode + "' (node or watch)");
    }
    cli::Args a{"tracering-demo", args.mode, std::vector<std::string>(argv + 2, argv + argc)};
    while (a.Next()) {
        if (a.IsHelp()) return cli::Help(USAGE);
        bool ok = true;
        std::string value;
        if (a.Is("--name")) {
            ok = a.NonEmpty(args.name, "a segment name");
        } else if (a.Is("--control")) {
            ok = a.SocketPath(args.control);
        } else if ((a.Is("--group") || a.Is("--rate")) && args.mode != "node") {
            ok = a.Fail(a.name() + " is an option of node");
        } else if (a.Is("--group")) {
            ok = a.Value(value);
            if (ok) {
                const Result<int64_t> gid = ResolveGroup(value);
                if (!gid) return a.Usage("--group: " + gid.error().message());
                args.group_id = gid.value();
            }
        } else if (a.Is("--seconds")) {
            ok = a.Seconds(args.seconds, 0.001);
        } else if (a.Is("--rate")) {
            ok = a.Value(value);
            if (ok &&
                (!cli::ParseNumber(value, args.rate) || !(args.rate >= 1 && args.rate <= 1e9))) {
                ok = a.Fail("--rate needs events per second, from 1 to 1e9, not '" + value + "'");
            }
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (args.control.empty()) return a.Usage("--control PATH is required");
    cli::StopOnSignals(g_stop);
    if (args.mode == "node") return RunNode(args);
    return RunWatch(args);
}

} // namespace

int main(int argc, char** argv) { return cli::Finish("tracering-demo", Main(argc, argv)); }
