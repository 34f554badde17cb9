// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_CONTROL_SERVER_H
#define TRACERING_PRODUCER_CONTROL_SERVER_H

#include <tracering/producer.h>
#include <tracering/result.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace tracering::detail {

//! How long control connections may stay and how many one user may hold; from
//! ProducerOptions::control_call_deadline_ms, control_idle_ms and control_max_per_uid.
struct ControlLimits {
    uint32_t call_deadline_ms{DEFAULT_CONTROL_CALL_DEADLINE_MS};
    uint32_t idle_ms{DEFAULT_CONTROL_IDLE_MS};
    uint32_t max_per_uid{DEFAULT_CONTROL_MAX_PER_UID};
};

//! Serves schemas/control.capnp on a unix socket from its own thread (a kj event loop), for
//! one Producer. Each connection gets its own Control object; `attach` hands out Session
//! objects that hold rings, and a session's rings are turned off when it is released or its
//! connection closes. Never on the event path: it only calls Producer::Attach, destroys
//! Leases and calls Stats, which are thread-safe.
//!
//! Nobody can hold the control plane: a connection that makes no call within the call
//! deadline, or that holds no session and makes no call for the idle time, is closed; each
//! user (peer uid) may have `max_per_uid` connections, all users MAX_CONTROL_CONNECTIONS; a
//! connection past either limit is served a capability whose every call fails with the
//! reason (an OVERLOADED exception) and closed within REFUSED_LINGER_MS.
class ControlServer
{
public:
    //! Creates the listening socket (so errors surface here) and starts the thread, named
    //! `thread_name`. Fails with InvalidArgument if `limits` are out of range or the name is
    //! empty or longer than 15 bytes.
    static Result<std::unique_ptr<ControlServer>> Start(Producer& producer, const std::string& path,
                                                        uint32_t mode, int64_t group,
                                                        const ControlLimits& limits,
                                                        const std::string& thread_name);
    //! Stops the thread: every connection is closed and every session's rings are turned
    //! off; the socket file is removed.
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    const std::string& path() const noexcept { return m_path; }

    struct Loop;

private:
    ControlServer() = default;
    std::string m_path;
    std::unique_ptr<Loop> m_loop;
    std::thread m_thread;
};

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_CONTROL_SERVER_H
