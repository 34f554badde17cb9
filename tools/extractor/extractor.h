// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EXTRACTOR_EXTRACTOR_H
#define TRACERING_EXTRACTOR_EXTRACTOR_H

//! @file
//! tracering-extractor's main loop: attach to a node's net, mempool and validation rings
//! through its control socket, convert each event to peer-observer's event.Event
//! (convert/convert.h) and publish it to NATS (NatsPublisher), counting every event's fate
//! (counters.h). When the node goes away (it exits, dies, or detaches the reader) the loop
//! reads what it left, counts the rest as lost, and attaches again as soon as the socket
//! answers, to the same node or its successor. main.cpp turns argv into ExtractorOptions.

#include <atomic>
#include <chrono>
#include <string>

#include "counters.h"
#include "nats_publisher.h"

namespace tracering::extractor {

//! Exit codes.
inline constexpr int EXIT_OK = 0;          //!< stopped by SIGINT, SIGTERM or SIGHUP
inline constexpr int EXIT_USAGE = 1;       //!< bad command line
inline constexpr int EXIT_UNAVAILABLE = 2; //!< cannot start: NATS, metrics, permissions
inline constexpr int EXIT_MISMATCH = 3;    //!< the node speaks another tracering ABI

struct ExtractorOptions {
    std::string control; //!< the node's control socket
    //! Which of peer-observer's groups of tracepoints to attach (its --no-*-tracepoints).
    bool p2pmsg{true};
    bool connection{true};
    bool mempool{true};
    bool validation{true};
    //! The node waits (bounded, RingRequest::lossless) instead of dropping: for tests.
    bool lossless{false};
    NatsOptions nats;
    std::string metrics_address; //!< empty: no Prometheus endpoint
    //! Seconds between `stats` log lines; 0: only at exit.
    double stats_interval_s{60};
    //! How often to try the control socket while the node is not there.
    std::chrono::milliseconds retry{1000};
};

//! Runs until `stop` is set (by SIGINT, SIGTERM or SIGHUP), then logs the last `stats` line and
//! returns EXIT_OK; or returns another exit code, after logging why, when it cannot go on.
int Run(const ExtractorOptions& options, const std::atomic<bool>& stop);

} // namespace tracering::extractor

#endif // TRACERING_EXTRACTOR_EXTRACTOR_H
