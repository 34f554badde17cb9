// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-capture-producer: the producer of bench/capture_rate.sh. It serves a control
//! socket, waits until a reader has net:inbound_message on, then writes N of them through
//! TRACERING_TRACEPOINT from one thread, as fast as the ring takes them or at a given rate,
//! waits until its readers caught up, prints what the ring counted, and exits (which seals the
//! ring: its reader reads what is left and ends). See --help.

#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <algorithm>
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

constexpr const char* USAGE =
    R"(usage: tracering-capture-producer --control PATH --name NAME --count N [options]

Creates a tracering producer (segment tracering.NAME, control socket PATH), prints "ready",
waits (at most --attach-timeout seconds) until a reader has net:inbound_message on, then
writes N net:inbound_message events from one thread: peer 1, "127.0.0.1:8333", "inbound",
message type "ping" for 8-byte payloads and "block" otherwise, payload BYTES bytes whose
first 8 are the event's number (0, 1, ..., N-1; little-endian). Then waits until every reader has read all of the ring, prints

  result events=N seconds=S rate=R bytes=B start_unix_ns=T drained_unix_ns=T seq=N
    dropped_full=N dropped_too_big=N dropped_timeout=N dropped_reader_reset=N

(one line; seconds is the time spent writing, rate events per second, bytes the payload
bytes written, start_unix_ns when the first was written, drained_unix_ns when every reader
had read all of the ring after the last: the time its reader caught up) and exits, which seals the ring: its readers read what is left and end.

Options:
  --control PATH         control socket to serve (required)
  --name NAME            segment name (required)
  --count N              events to write (required)
  --payload BYTES        payload size (default 8, a ping's nonce; at least 8)
  --rate R               events per second, paced in steps of a millisecond (default: as
                         fast as the ring takes them; a full ring drops and counts them)
  --throttle             before each batch of events, wait until every reader's backlog is
                         under half the ring, so none is dropped: the rate is then the
                         slowest reader's (batches of a quarter of the ring)
  --net-ring-mib N       net ring size in MiB, a power of two (default 32, as the node's)
  --attach-timeout S     how long to wait for a reader, and for it to catch up (default 30)
  --help                 this text

Exit codes: 0 done; 1 bad usage; 2 cannot create the producer, no reader came, or the
readers did not catch up within --attach-timeout.
)";

int Usage(const std::string& error) { return cli::Usage("tracering-capture-producer", "", error); }

} // namespace

int main(int argc, char** argv)
{
    ProducerOptions options;
    uint64_t count = 0, payload_size = 8, rate = 0, ring_mib = 32, attach_timeout = 30;
    bool throttle = false;
    cli::Args a{"tracering-capture-producer", argc, argv};
    while (a.Next()) {
        if (a.IsHelp()) return cli::Help(USAGE);
        bool ok = true;
        if (a.Is("--throttle")) {
            ok = a.Switch(throttle);
        } else if (a.Is("--control")) {
            ok = a.NonEmpty(options.control_socket, "a socket path");
        } else if (a.Is("--name")) {
            ok = a.NonEmpty(options.name, "a segment name");
        } else if (a.Is("--count")) {
            ok = a.U64(count, 1);
        } else if (a.Is("--payload")) {
            ok = a.U64(payload_size, 8, uint64_t{1} << 30);
        } else if (a.Is("--rate")) {
            ok = a.U64(rate, 1);
        } else if (a.Is("--net-ring-mib")) {
            ok = a.U64(ring_mib, 1, 4096);
        } else if (a.Is("--attach-timeout")) {
            ok = a.U64(attach_timeout, 1, 86'400);
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (options.control_socket.empty()) return Usage("--control PATH is required");
    if (options.name.empty()) return Usage("--name NAME is required");
    if (count == 0) return Usage("--count N is required");
    if (throttle && rate) return Usage("give --rate or --throttle, not both");
    if ((ring_mib & (ring_mib - 1)) != 0) {
        return Usage("--net-ring-mib: " + std::to_string(ring_mib) +
                     " is not a power of two (1-4096)");
    }
    options.capacities[static_cast<size_t>(Subsystem::Net)] = ring_mib << 20;

    auto producer = Producer::Create(options);
    if (!producer) {
        std::fprintf(stderr, "tracering-capture-producer: %s\n",
                     producer.error().message().c_str());
        return 2;
    }
    std::printf("ready\n");
    std::fflush(stdout);

    const auto deadline = Clock::now() + std::chrono::seconds(attach_timeout);
    while (!TRACERING_TRACEPOINT_ACTIVE(net, inbound_message)) {
        if (Clock::now() > deadline) {
            std::fprintf(stderr,
                         "tracering-capture-producer: no reader turned net:inbound_message on "
                         "within %" PRIu64 " s\n",
                         attach_timeout);
            return 2;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }

    std::vector<uint8_t> payload(payload_size, 0x5a);
    const char* type = payload_size == 8 ? "ping" : "block";
    const uint64_t capacity = ring_mib << 20;
    // Paced: the events of each millisecond are written at once, then it waits for the next.
    // Throttled: a quarter of the ring's worth (records take the payload and ~130 bytes).
    const uint64_t step = rate       ? std::max<uint64_t>(1, rate / 1000)
                          : throttle ? std::max<uint64_t>(1, capacity / 4 / (payload_size + 136))
                                     : count;
    const auto backlog = [&] {
        uint64_t most = 0;
        for (const ReaderInfo& r : (*producer)->Stats(Subsystem::Net).readers) {
            most = std::max(most, r.unread_bytes);
        }
        return most;
    };
    const Clock::time_point start = Clock::now();
    const auto start_unix = std::chrono::system_clock::now();
    for (uint64_t i = 0; i < count;) {
        while (throttle && backlog() > capacity / 2) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        const uint64_t end = std::min(count, i + step);
        for (; i < end; ++i) {
            std::memcpy(payload.data(), &i, 8);
            TRACERING_TRACEPOINT(net, inbound_message, 1, "127.0.0.1:8333", "inbound", type,
                                 payload.size(), payload.data());
        }
        if (rate && i < count) {
            const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(double(i) / double(rate)));
            std::this_thread::sleep_until(due);
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    // Until the readers have read everything (or left): the time the capture caught up, and
    // a reader that is still setting up never finds the producer gone.
    const auto drain_deadline = Clock::now() + std::chrono::seconds(attach_timeout);
    RingStats s = (*producer)->Stats(Subsystem::Net);
    while (std::any_of(s.readers.begin(), s.readers.end(),
                       [](const ReaderInfo& r) { return r.unread_bytes != 0; })) {
        if (Clock::now() > drain_deadline) {
            std::fprintf(stderr,
                         "tracering-capture-producer: the readers did not catch up within %" PRIu64
                         " s\n",
                         attach_timeout);
            return 2;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        s = (*producer)->Stats(Subsystem::Net);
    }
    const auto drained_unix = std::chrono::system_clock::now();
    const auto unix_ns = [](std::chrono::system_clock::time_point t) {
        return int64_t(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
    };
    std::printf("result events=%" PRIu64 " seconds=%.6f rate=%.0f bytes=%" PRIu64
                " start_unix_ns=%" PRId64 " drained_unix_ns=%" PRId64 " seq=%" PRIu64
                " dropped_full=%" PRIu64 " dropped_too_big=%" PRIu64 " dropped_timeout=%" PRIu64
                " dropped_reader_reset=%" PRIu64 "\n",
                count, seconds, double(count) / seconds, count * payload_size, unix_ns(start_unix),
                unix_ns(drained_unix), s.seq, s.dropped_full, s.dropped_too_big, s.dropped_timeout,
                s.dropped_reader_reset);
    std::fflush(stdout);
    return 0;
}
