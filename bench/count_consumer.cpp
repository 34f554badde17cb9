// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-count-consumer: the consumer of the end-to-end benchmarks (bench/ping_flood.sh,
//! bench/ibd_blocks.sh). It attaches to rings through a producer's control socket, reads every
//! event (message events are decoded, so the FlatBuffers verifier runs on each) and counts
//! them, without printing per event, until SIGINT, SIGTERM or SIGHUP. Then it drains what is
//! left and prints, per ring, attempted vs delivered vs lost, and its own CPU time. See --help.

#include <tracering/consumer.h>
#include <tracering/control.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/cli.h"
#include <sys/resource.h>

namespace {

using namespace tracering;

constexpr const char* USAGE =
    R"(usage: tracering-count-consumer --control PATH --ring NAME [--ring NAME ...] [--lossless]

Attaches to the rings NAME (net, mempool, utxocache, validation, coin_selection) of the
producer serving the control socket PATH, reads and counts every event until SIGINT, SIGTERM
or SIGHUP, reads what is left, and prints its counts. Message events (net:inbound_message,
net:outbound_message) are decoded: the FlatBuffers verifier runs on each, and pings, pongs
and blocks are counted by message type.

  --control PATH       the producer's control socket
  --ring NAME          a ring to attach; repeat for several
  --lossless           attach losslessly (the producer waits up to --wait-ms for room)
  --wait-ms MS         lossless wait bound (default 100, at most 10000)
  --max-sleep-us US    longest idle sleep between polls (default 1000)
  --interval-us US     instead of tracering::Backoff, sleep US microseconds after every
                       round of polls, busy or not, so records are read in larger batches
                       (default 0: Backoff, which sleeps ~70 us once caught up with writers
                       that deliver 2 M events/s or more, else spins; on an empty ring it
                       spins, then sleeps longer)
  --help               this text

Once attached it prints "attached" on stdout. At exit, one line per ring:
  result ring=net attempted=N delivered=N lost=N lost_seen=N dropped_full=N
    dropped_too_big=N dropped_reader_reset=N dropped_timeout=N truncated=N
    inbound_ping=N outbound_pong=N inbound_block=N block_connected=N
(one line each), where attempted is the ring's seq advance since the attach, lost =
attempted - delivered, and lost_seen the gaps in seq the reader saw; then
  result cpu_user_s=S cpu_sys_s=S

Exit codes: 0 done and lost == dropped on every ring (every loss counted); 1 bad usage;
2 cannot attach; 4 a read failed or a loss the producer did not count.
)";

//! Records read per Poll() call.
constexpr size_t POLL_BATCH = 1024;

//! Set by the first SIGINT, SIGTERM or SIGHUP (cli::StopOnSignals).
std::atomic<bool> g_stop{false};

int Usage(const std::string& error) { return cli::Usage("tracering-count-consumer", "", error); }

struct Counts {
    uint64_t delivered{0};
    uint64_t lost_seen{0};
    uint64_t inbound_ping{0};
    uint64_t outbound_pong{0};
    uint64_t inbound_block{0};
    uint64_t block_connected{0};
    uint64_t undecodable{0};
};

void Count(const EventView& view, Counts& c)
{
    ++c.delivered;
    c.lost_seen += view.lost_before();
    switch (view.type()) {
    case EventType::NetInboundMessage:
        if (const auto* m = view.as<net::InboundMessage>()) {
            const flatbuffers::String* type = m->msg_type();
            const std::string_view msg{type ? type->string_view() : std::string_view{}};
            if (msg == "ping") {
                ++c.inbound_ping;
            } else if (msg == "block") {
                ++c.inbound_block;
            }
        } else {
            ++c.undecodable;
        }
        break;
    case EventType::NetOutboundMessage:
        if (const auto* m = view.as<net::OutboundMessage>()) {
            const flatbuffers::String* type = m->msg_type();
            if (type && type->string_view() == "pong") ++c.outbound_pong;
        } else {
            ++c.undecodable;
        }
        break;
    case EventType::ValidationBlockConnected:
        if (view.as<validation::BlockConnected>()) {
            ++c.block_connected;
        } else {
            ++c.undecodable;
        }
        break;
    default:
        break;
    }
}

double Seconds(const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; }

} // namespace

int main(int argc, char** argv)
{
    std::string control;
    std::vector<std::string> rings;
    bool lossless = false;
    uint32_t wait_ms = 100;
    uint32_t max_sleep_us = 1000;
    uint32_t interval_us = 0;
    cli::Args a{"tracering-count-consumer", argc, argv};
    while (a.Next()) {
        if (a.IsHelp()) return cli::Help(USAGE);
        bool ok = true;
        uint64_t number = 0;
        if (a.Is("--lossless")) {
            ok = a.Switch(lossless);
        } else if (a.Is("--control")) {
            ok = a.NonEmpty(control, "a socket path");
        } else if (a.Is("--ring")) {
            ok = a.Append(rings);
        } else if (a.Is("--wait-ms") || a.Is("--max-sleep-us") || a.Is("--interval-us")) {
            ok = a.U64(number, 0, a.name() == "--wait-ms" ? 10'000 : 10'000'000);
            (a.name() == "--wait-ms"        ? wait_ms
             : a.name() == "--max-sleep-us" ? max_sleep_us
                                            : interval_us) = static_cast<uint32_t>(number);
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (control.empty()) return Usage("--control PATH is required");
    if (rings.empty()) return Usage("at least one --ring NAME is required");

    cli::StopOnSignals(g_stop);

    auto client = ControlClient::Connect(control);
    if (!client) {
        std::fprintf(stderr, "tracering-count-consumer: %s\n", client.error().message().c_str());
        return 2;
    }
    std::vector<RingRequest> requests;
    for (const std::string& ring : rings) {
        requests.push_back({.ring = ring, .lossless = lossless, .lossless_wait_ms = wait_ms});
    }
    auto session = client.value()->Attach(requests);
    if (!session) {
        std::fprintf(stderr, "tracering-count-consumer: %s\n", session.error().message().c_str());
        return 2;
    }
    const auto& readers = session.value()->readers();
    std::vector<Counts> counts(readers.size());
    std::vector<RingInfo> at_attach;
    for (const auto& reader : readers)
        at_attach.push_back(reader->Info());
    std::printf("attached %zu ring(s) of segment '%s' (producer pid %" PRIu64 ")\n", readers.size(),
                client.value()->producer().segment_name.c_str(),
                client.value()->producer().producer_pid);
    std::fflush(stdout);

    int status = 0;
    Backoff backoff{max_sleep_us};
    // After the stop signal: read until every ring is empty twice in a row, so events written
    // just before the signal are counted too.
    int empty_rounds = 0;
    bool failed = false;
    while (empty_rounds < 2 && !failed) {
        size_t work = 0;
        double fill = 0;
        for (size_t i = 0; i < readers.size(); ++i) {
            Counts& c = counts[i];
            const Result<size_t> n =
                readers[i]->Poll([&c](const EventView& view) { Count(view, c); }, POLL_BATCH);
            if (!n) {
                std::fprintf(stderr, "tracering-count-consumer: ring %s: %s\n",
                             readers[i]->name().c_str(), n.error().message().c_str());
                status = 4;
                failed = true;
                break;
            }
            work += n.value();
            fill = std::max(fill, readers[i]->TakeReadFill());
        }
        if (g_stop.load(std::memory_order_relaxed)) {
            empty_rounds = work == 0 ? empty_rounds + 1 : 0;
        } else if (interval_us != 0) {
            // A full batch means more is waiting: read on before sleeping.
            if (work < POLL_BATCH)
                std::this_thread::sleep_for(std::chrono::microseconds(interval_us));
        } else {
            backoff.Idle(work, fill);
        }
    }

    for (size_t i = 0; i < readers.size(); ++i) {
        const RingInfo now = readers[i]->Info();
        const RingInfo& then = at_attach[i];
        const Counts& c = counts[i];
        const uint64_t attempted = now.seq - then.seq;
        const uint64_t lost = attempted >= c.delivered ? attempted - c.delivered : 0;
        const uint64_t dropped = now.dropped() - then.dropped();
        std::printf("result ring=%s attempted=%" PRIu64 " delivered=%" PRIu64 " lost=%" PRIu64
                    " lost_seen=%" PRIu64 " dropped_full=%" PRIu64 " dropped_too_big=%" PRIu64
                    " dropped_reader_reset=%" PRIu64 " dropped_timeout=%" PRIu64
                    " truncated=%" PRIu64 " inbound_ping=%" PRIu64 " outbound_pong=%" PRIu64
                    " inbound_block=%" PRIu64 " block_connected=%" PRIu64 "\n",
                    readers[i]->name().c_str(), attempted, c.delivered, lost, c.lost_seen,
                    now.dropped_full - then.dropped_full,
                    now.dropped_too_big - then.dropped_too_big,
                    now.dropped_reader_reset - then.dropped_reader_reset,
                    now.dropped_timeout - then.dropped_timeout, now.truncated - then.truncated,
                    c.inbound_ping, c.outbound_pong, c.inbound_block, c.block_connected);
        if (c.undecodable != 0) {
            std::fprintf(stderr,
                         "tracering-count-consumer: ring %s: %" PRIu64
                         " events failed the FlatBuffers verifier\n",
                         readers[i]->name().c_str(), c.undecodable);
            status = 4;
        }
        if (attempted < c.delivered || lost != dropped) {
            std::fprintf(stderr,
                         "tracering-count-consumer: ring %s: %" PRIu64 " attempted, %" PRIu64
                         " delivered, but the producer counted %" PRIu64 " dropped\n",
                         readers[i]->name().c_str(), attempted, c.delivered, dropped);
            status = 4;
        }
    }
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    std::printf("result cpu_user_s=%.3f cpu_sys_s=%.3f\n", Seconds(usage.ru_utime),
                Seconds(usage.ru_stime));
    std::fflush(stdout);
    return status;
}
