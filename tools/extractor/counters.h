// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EXTRACTOR_COUNTERS_H
#define TRACERING_EXTRACTOR_COUNTERS_H

//! @file
//! What the extractor counts, for its `stats` log line and its Prometheus endpoint. Every
//! event read from a ring ends in exactly one of: published, refused, failed or skipped
//! (so read = published + refused + failed + skipped per ring); events the node dropped
//! before the extractor could read them are `lost`. Published messages the NATS connection
//! lost before the server confirmed them are also counted as `unconfirmed`, and messages
//! sent as Unknown because their payload did not decode as `undecodable`.
//!
//! Memory ordering: every counter is written by one thread and read by others, with
//! relaxed atomics: each is a number on its own, and a reader that sees one a little later
//! than another only prints a snapshot a little older. Who writes which is on each field.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "extractor/convert/convert.h"

namespace tracering::extractor {

//! The rings the extractor reads, in the order of its reports.
enum class Ring : uint8_t { Net, Mempool, Validation };
constexpr int RING_COUNT = 3;
//! "net", "mempool", "validation": the producer's ring names.
std::string_view RingName(Ring ring);

struct RingCounters {
    //! Writer: the main loop (Loop, extractor.cpp). Events read from the ring.
    std::atomic<uint64_t> read{0};
    //! Writer: the main loop. Events the node dropped before the extractor read them (gaps in
    //! the ring's sequence numbers, ReaderStats::lost, and what the ring attempted after the
    //! last event read when a session ended).
    std::atomic<uint64_t> lost{0};
    //! Writer: the main loop. Read, but peer-observer has no message for them (Convert()
    //! returned nullopt): not published.
    std::atomic<uint64_t> skipped{0};
};

struct SubjectCounters {
    //! Writer: the main loop (NatsPublisher::Publish). Handed to the NATS connection.
    std::atomic<uint64_t> published{0};
    //! Writer: the main loop. Refused by NATS for their size: over the server's max_payload.
    std::atomic<uint64_t> refused{0};
    //! Writer: the main loop. Not published because NATS was down (not connected, or
    //! reconnecting), or for another NATS error (logged).
    std::atomic<uint64_t> failed{0};
    //! Writer: the main loop. Of `published`: handed to a connection that broke (or was
    //! replaced by a reconnect) before the server confirmed them, so they may be lost.
    std::atomic<uint64_t> unconfirmed{0};
    //! Writer: the main loop. Of the messages read: P2P payloads that did not decode, sent
    //! (or attempted) as Unknown{command, payload}.
    std::atomic<uint64_t> undecodable{0};
};

struct Counters {
    std::array<RingCounters, RING_COUNT> rings;
    std::array<SubjectCounters, SUBJECT_COUNT> subjects;
    //! Writer: the main loop. 1 while a session with the node is held.
    std::atomic<uint64_t> node_attached{0};
    //! Writer: the main loop. The node's pid while attached (0 otherwise).
    std::atomic<uint64_t> node_pid{0};
    //! Writer: the main loop. Sessions opened with the node (1 + re-attaches).
    std::atomic<uint64_t> attaches{0};
    //! Writer: nats.c's callback thread (NatsPublisher's connection callbacks). 1 while
    //! connected to the NATS server.
    std::atomic<uint64_t> nats_connected{0};
    //! Writer: nats.c's callback thread. Connections to NATS lost.
    std::atomic<uint64_t> nats_disconnects{0};
    //! Writer: nats.c's callback thread. Connections to NATS made again after a loss.
    std::atomic<uint64_t> nats_reconnects{0};

    RingCounters& of(Ring ring) { return rings[size_t(ring)]; }
    SubjectCounters& of(Subject subject) { return subjects[size_t(subject)]; }
};

//! The counters as the Prometheus text format (version 0.0.4), metric names starting with
//! `tracering_extractor_`.
std::string PrometheusText(const Counters& counters);

//! The one-line summary the extractor logs every --stats-interval and at exit:
//! "stats read net=N mempool=N validation=N lost ... published netmsg=N netconn=N ...".
std::string StatsLine(const Counters& counters);

} // namespace tracering::extractor

#endif // TRACERING_EXTRACTOR_COUNTERS_H
