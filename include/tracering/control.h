// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_CONTROL_H
#define TRACERING_CONTROL_H

//! @file
//! The consumer's side of the control plane: connect to a producer's control socket, see its
//! rings, attach to some of them and read. The session returned by Attach() is the lease:
//! the rings stay on while it lives, and are turned off and reset when it is destroyed or the
//! process exits (the producer sees the connection close).
//!
//!     auto client = tracering::ControlClient::Connect("/run/node/tracering.sock");
//!     auto session = (*client)->Attach({{.ring = "utxocache", .events = {"flush"}}});
//!     tracering::RingReader* reader = (*session)->reader("utxocache");
//!     tracering::Backoff backoff;
//!     for (;;) {
//!         const size_t n = reader->Poll(handle).value();
//!         backoff.Idle(n, reader->TakeReadFill()); // after the poll it measures
//!     }
//!
//! A ControlClient and its sessions belong to the thread that made them.

#include <tracering/consumer.h>
#include <tracering/result.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tracering {

//! What the producer says about itself.
struct ProducerDescription {
    std::string segment_name;
    uint32_t abi_version{0};
    uint64_t schema_hash{0};
    uint64_t producer_pid{0};
    uint64_t producer_start_time{0};
};

//! One ring to attach, and how.
struct RingRequest {
    std::string ring;                //!< "net", "mempool", "utxocache", ...
    std::vector<std::string> events; //!< event names (e.g. "flush"); empty = all of them
    bool lossless{false};            //!< producer waits (bounded) instead of dropping
    uint32_t lossless_wait_ms{DEFAULT_LOSSLESS_WAIT_MS}; //!< the bound, <= MAX_LOSSLESS_WAIT_MS
    uint64_t payload_limit{0}; //!< cut message payloads to this many bytes; 0 = whole
};

class Session;

//! A connection to a producer's control socket. The producer closes a connection that holds
//! no session and has made no call for a while (ProducerOptions::control_idle_ms, a minute
//! by default); calls then fail with Detached. One holding a session stays open.
class ControlClient
{
public:
    //! Connects and asks the producer who it is. Fails with NotFound (nothing at that path or
    //! nobody listening), PermissionDenied, Busy (the producer refused the connection: too
    //! many control connections from this user or from all users; the message says which),
    //! or Corrupt (the socket does not speak tracering's protocol, or does not answer within
    //! `timeout`).
    static Result<std::unique_ptr<ControlClient>>
    Connect(const std::string& socket_path,
            std::chrono::milliseconds timeout = std::chrono::seconds(5));
    ~ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    const ProducerDescription& producer() const noexcept;
    const std::string& socket_path() const noexcept;

    //! Every ring with its state, reader and counters.
    Result<std::vector<RingInfo>> Rings();

    //! Enables the requested rings for this process and opens a reader on each. Errors:
    //! InvalidArgument (unknown ring or event, bad option), Busy (naming the reader's pid),
    //! VersionMismatch (another ABI version, naming both sides). Schemas may differ: the
    //! producer's may be older or newer than this consumer's (see Consumer::schema()).
    Result<std::unique_ptr<Session>> Attach(const std::vector<RingRequest>& rings);

    struct Impl;

private:
    ControlClient() = default;
    std::shared_ptr<Impl> m_impl;
};

//! The lease on some rings, with a reader for each.
class Session
{
public:
    //! Closes the readers and gives the rings back (they are turned off and reset).
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    //! The reader of `ring`, or nullptr if this session does not hold it.
    RingReader* reader(std::string_view ring) noexcept;
    const std::vector<std::unique_ptr<RingReader>>& readers() const noexcept { return m_readers; }
    Consumer& consumer() noexcept { return *m_consumer; }

    //! This session's rings with their counters, from the producer.
    Result<std::vector<RingInfo>> Stats();
    //! Gives the rings back now; the readers return Detached afterwards.
    Result<void> Detach();

private:
    friend class ControlClient;
    struct Lease;
    Session() = default;
    std::unique_ptr<Consumer> m_consumer;
    std::vector<std::unique_ptr<RingReader>> m_readers;
    std::unique_ptr<Lease> m_lease;
};

} // namespace tracering

#endif // TRACERING_CONTROL_H
