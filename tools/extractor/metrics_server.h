// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EXTRACTOR_METRICS_SERVER_H
#define TRACERING_EXTRACTOR_METRICS_SERVER_H

//! @file
//! The extractor's Prometheus endpoint (--metrics-address HOST:PORT): `GET /metrics` answers
//! the counters in Prometheus' text format; every other path is a 404. One thread of its own
//! serves up to MAX_CLIENTS connections at once, each with its whole request due within
//! REQUEST_TIMEOUT_MS, so a slow or idle client delays nobody else's scrape, and no scraper
//! can slow the main loop, which only writes the atomic counters this thread reads.

#include <tracering/result.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "counters.h"

namespace tracering::extractor {

//! --metrics-address split into what getaddrinfo() takes.
struct MetricsAddress {
    std::string host; //!< without an IPv6 address's brackets
    std::string port; //!< decimal, 0-65535
};

//! Splits "HOST:PORT" ("[::1]:8285" for IPv6); InvalidArgument, naming the option, for
//! anything else. It does not resolve HOST: MetricsServer::Start does.
Result<MetricsAddress> ParseMetricsAddress(const std::string& address);

class MetricsServer
{
public:
    //! Listens on `address` ("127.0.0.1:8285", "[::1]:8285"; port 0 picks a free one) and
    //! starts serving `counters`, which must outlive the server. InvalidArgument for an
    //! address that does not parse, SystemError (naming the address) if it cannot listen.
    static Result<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                        const Counters& counters);
    //! Stops the thread and closes the socket.
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    //! "127.0.0.1:8285", with the port it got.
    const std::string& address() const { return m_address; }

    //! Connections served at once; more wait in the listen backlog.
    static constexpr size_t MAX_CLIENTS = 16;
    //! A connection's whole request must arrive within this long, or it is closed unanswered.
    static constexpr int REQUEST_TIMEOUT_MS = 2000;

private:
    MetricsServer(const Counters& counters) : m_counters{counters} {}
    void Serve();
    //! The response to a complete request (its request line and headers).
    std::string Answer(const std::string& request) const;

    const Counters& m_counters;
    int m_listen{-1};
    //! Written by the destructor to wake Serve() out of poll(); read by Serve().
    int m_wake[2]{-1, -1};
    std::string m_address;
    std::thread m_thread;
};

} // namespace tracering::extractor

#endif // TRACERING_EXTRACTOR_METRICS_SERVER_H
