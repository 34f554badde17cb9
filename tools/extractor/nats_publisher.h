// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EXTRACTOR_NATS_PUBLISHER_H
#define TRACERING_EXTRACTOR_NATS_PUBLISHER_H

//! @file
//! Publishing to NATS with nats.c, counting the fate of every message (counters.h). Core
//! NATS is at-most-once: a message handed to a connection that breaks before the bytes reach
//! the server is gone, and nothing tells the publisher which ones. So the publisher asks the
//! server to confirm what it sent (a PING/PONG round trip, natsConnection_FlushTimeout) at
//! most every CONFIRM_INTERVAL, and counts what was published since the last confirmation
//! as `unconfirmed` (possibly lost) when the connection breaks or is replaced. While NATS is
//! down nothing is handed to nats.c's reconnect buffer: each message is counted as failed.
//!
//! nats.c reconnects on its own threads, without limit, every second; it calls back on its
//! own thread, which only updates the counters' connection fields and logs. Everything else
//! is used from one thread (the extractor's main loop).

#include <tracering/result.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "counters.h"
#include "extractor/convert/convert.h"
#include "log.h"

struct __natsConnection;
struct __natsOptions;

namespace tracering::extractor {

struct NatsOptions {
    std::string address{"127.0.0.1:4222"}; //!< HOST:PORT, or a nats:// URL
    std::string username;
    std::string password;
};

class NatsPublisher
{
public:
    //! Confirmation is asked for at most this often while messages are published.
    static constexpr std::chrono::milliseconds CONFIRM_INTERVAL{100};
    //! A confirmation that takes longer than this counts its messages as unconfirmed.
    static constexpr std::chrono::milliseconds CONFIRM_TIMEOUT{2000};
    //! After nats.c closed the connection for good (e.g. the server refused the credentials
    //! twice), a new one is made this often.
    static constexpr std::chrono::seconds RECREATE_INTERVAL{5};

    //! Connects, or starts trying to in the background if the server is not reachable yet
    //! (the extractor runs without NATS and counts what it could not publish). Fails with
    //! InvalidArgument for an address nats.c does not take, PermissionDenied if the server
    //! refuses the credentials, SystemError otherwise; the message names the address.
    static Result<std::unique_ptr<NatsPublisher>> Connect(const NatsOptions& options,
                                                          Counters& counters);
    //! Asks the server to confirm what was published (at most CONFIRM_TIMEOUT), then closes.
    ~NatsPublisher();
    NatsPublisher(const NatsPublisher&) = delete;
    NatsPublisher& operator=(const NatsPublisher&) = delete;

    enum class Outcome { Published, Refused, Failed };
    //! Publishes `bytes` on `subject`, and counts it as published, refused or failed. Never
    //! blocks for long: while NATS is down it fails at once.
    Outcome Publish(Subject subject, const std::string& bytes);

    //! Call often from the publishing thread: Confirm(), and remakes a connection nats.c
    //! closed for good.
    void Maintain();
    //! Asks the server to confirm the messages published since the last confirmation, once
    //! CONFIRM_INTERVAL has passed (a round trip to the server; `force`: now), and counts
    //! them as unconfirmed if it does not.
    void Confirm(bool force = false);

    //! The URL connected to, as nats.c was given it.
    const std::string& url() const { return m_url; }

    struct Callbacks; //!< nats.c's callbacks, in nats_publisher.cpp

private:
    NatsPublisher(Counters& counters) : m_counters{counters} {}
    Result<void> Open(bool first);
    void Close();
    bool Connected();
    //! The messages published since the last confirmation may be lost: counts them.
    void CountUnconfirmed(const char* why);
    uint64_t Reconnects();

    Counters& m_counters;
    NatsOptions m_options;
    std::string m_url;
    __natsOptions* m_nats_options{nullptr};
    __natsConnection* m_connection{nullptr};
    //! Published per subject since the last confirmation (or since they were counted as
    //! unconfirmed).
    std::array<uint64_t, SUBJECT_COUNT> m_since_confirm{};
    uint64_t m_unconfirmed_total{0}; //!< m_since_confirm summed
    //! nats.c's reconnect count at the last confirmation: a change means the connection was
    //! replaced in between.
    uint64_t m_reconnects_seen{0};
    bool m_was_down{false}; //!< the last Publish() found NATS down
    std::chrono::steady_clock::time_point m_last_confirm;
    std::chrono::steady_clock::time_point m_closed_since;
    //! Writer: Close(), before it closes the connection. Reader: the Disconnected callback,
    //! on nats.c's thread, which then does not report the extractor's own close as a loss.
    //! Relaxed: it guards only a log line.
    std::atomic<bool> m_closing{false};
    //! Writer: the Closed callback, on nats.c's thread, as the last thing it does; the last
    //! callback nats.c makes for a connection. Reader: Close(), which waits for it before the
    //! publisher (the callbacks' closure) may go away. Release store, acquire load: the
    //! callback's use of the publisher happens before Close() returns.
    std::atomic<bool> m_closed_called{false};
    LogLimiter m_refused_log;
    LogLimiter m_failed_log;
};

} // namespace tracering::extractor

#endif // TRACERING_EXTRACTOR_NATS_PUBLISHER_H
