// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_LOADGEN_CONNECTION_H
#define TRACERING_LOADGEN_CONNECTION_H

//! @file
//! The load generator's side of a P2P v1 connection: connect, handshake, send, and read
//! messages back (blocking sockets; the ping mode reads from a second thread).

#include <tracering/result.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "p2p/endpoint.h"
#include "p2p/protocol.h"

namespace tracering::loadgen {

using Clock = std::chrono::steady_clock;

//! What Receive() does with each message: return false to stop reading.
using MessageHandler =
    std::function<bool(const p2p::MessageHeader& header, std::span<const uint8_t> payload)>;

class Connection
{
public:
    //! Connects within `timeout`. A refused connection is ErrorCode::NotFound with a message
    //! that says so; other failures are SystemError.
    static Result<std::unique_ptr<Connection>> Connect(const p2p::Endpoint& endpoint,
                                                       std::chrono::milliseconds timeout);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    //! Sends our version, waits for the node's version and verack (skipping the feature
    //! negotiation between them), then sends verack. Returns the node's version message.
    Result<p2p::VersionMessage> Handshake(Clock::time_point deadline);

    //! Writes all of `bytes`. Safe to call from one thread while another calls Receive().
    Result<void> Send(std::span<const uint8_t> bytes);
    //! Frames and sends one message.
    Result<void> SendMessage(const char* command, std::span<const uint8_t> payload);

    //! Reads messages and passes each (checked: magic, type, length, checksum) to `handler`
    //! until it returns false (then Ok). Errors: NotReady when the deadline passed,
    //! Detached when the node closed the connection, Corrupt when it sent something
    //! malformed, SystemError for a socket error. Only one thread may receive.
    Result<void> Receive(Clock::time_point deadline, const MessageHandler& handler);

    const std::string& peer() const noexcept { return m_peer; }

private:
    Connection() = default;
    int m_fd{-1};
    std::string m_peer;
    std::vector<uint8_t> m_recv;
    size_t m_recv_begin{0}; //!< first unread byte
    size_t m_recv_end{0};   //!< one past the last byte read
};

} // namespace tracering::loadgen

#endif // TRACERING_LOADGEN_CONNECTION_H
