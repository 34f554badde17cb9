// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_CONTROL_SERVER_H
#define TRACERING_PRODUCER_CONTROL_SERVER_H

#include <tracering/producer.h>
#include <tracering/result.h>

#include <memory>
#include <string>
#include <thread>

namespace tracering::detail {

//! Serves schemas/control.capnp on a unix socket from its own thread (a kj event loop), for
//! one Producer. Each connection gets its own Control object; `attach` hands out Session
//! objects that hold rings, and a session's rings are turned off when it is released or its
//! connection closes. Never on the event path: it only calls Producer::EnableRing,
//! DisableRing and Stats, which are thread-safe.
class ControlServer
{
public:
    //! Creates the listening socket (so errors surface here) and starts the thread.
    static Result<std::unique_ptr<ControlServer>> Start(Producer& producer, const std::string& path,
                                                        uint32_t mode, int64_t group);
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
