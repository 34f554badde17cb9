// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "loadgen/connection.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <random>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace tracering::loadgen {
namespace {

constexpr const char* USER_AGENT = "/tracering-loadgen:0.1.0/";
constexpr size_t READ_CHUNK = 256 * 1024;

Error SystemError(const std::string& what, int err)
{
    return Error{ErrorCode::SystemError, what + ": " + std::strerror(err)};
}

int MillisecondsUntil(Clock::time_point deadline)
{
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1000));
}

} // namespace

Result<std::unique_ptr<Connection>> Connection::Connect(const p2p::Endpoint& endpoint,
                                                        std::chrono::milliseconds timeout)
{
    std::unique_ptr<Connection> c{new Connection};
    c->m_peer = endpoint.ToString();
    c->m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->m_fd < 0) return SystemError("socket", errno);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(endpoint.port);
    std::memcpy(&sa.sin_addr, endpoint.ip.data(), 4);
    // Non-blocking connect, so a black-holed address fails after `timeout`, not minutes.
    int err = 0;
    if (::connect(c->m_fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            pollfd p{c->m_fd, POLLOUT, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
            if (ready == 0) {
                return Error{ErrorCode::SystemError, "cannot connect to " + c->m_peer +
                                                         ": no answer within " +
                                                         std::to_string(timeout.count()) + " ms"};
            }
            socklen_t length = sizeof(err);
            ::getsockopt(c->m_fd, SOL_SOCKET, SO_ERROR, &err, &length);
        }
    }
    if (err == ECONNREFUSED) {
        return Error{ErrorCode::NotFound, "cannot connect to " + c->m_peer +
                                              ": connection refused (is a node listening there?)"};
    }
    if (err != 0) return SystemError("cannot connect to " + c->m_peer, err);
    // Back to blocking: the sender and the reader each simply wait for the socket.
    ::fcntl(c->m_fd, F_SETFL, ::fcntl(c->m_fd, F_GETFL) & ~O_NONBLOCK);
    const int one = 1;
    ::setsockopt(c->m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return c;
}

Connection::~Connection()
{
    if (m_fd >= 0) ::close(m_fd);
}

Result<void> Connection::Send(std::span<const uint8_t> bytes)
{
    while (!bytes.empty()) {
        const ssize_t n = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            const int err = errno;
            if (err == EINTR) continue;
            return SystemError("sending to " + m_peer, err);
        }
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
    return {};
}

Result<void> Connection::SendMessage(const char* command, std::span<const uint8_t> payload)
{
    std::vector<uint8_t> message;
    message.reserve(p2p::HEADER_SIZE + payload.size());
    p2p::AppendMessage(message, p2p::REGTEST_MAGIC, command, payload);
    return Send(message);
}

Result<void> Connection::Receive(Clock::time_point deadline, const MessageHandler& handler)
{
    for (;;) {
        // Every complete message already buffered.
        while (m_recv_end - m_recv_begin >= p2p::HEADER_SIZE) {
            const std::span<const uint8_t> buffered{m_recv.data() + m_recv_begin,
                                                    m_recv_end - m_recv_begin};
            Result<p2p::MessageHeader> header = p2p::ParseHeader(buffered, p2p::REGTEST_MAGIC);
            if (!header) {
                return Error{ErrorCode::Corrupt,
                             "the node sent garbage: " + header.error().message()};
            }
            const size_t total = p2p::HEADER_SIZE + header.value().length;
            if (buffered.size() < total) break;
            const std::span<const uint8_t> payload =
                buffered.subspan(p2p::HEADER_SIZE, header.value().length);
            if (p2p::ComputeChecksum(payload) != header.value().checksum) {
                return Error{ErrorCode::Corrupt, "the node sent '" +
                                                     std::string{header.value().Command()} +
                                                     "' with a bad checksum"};
            }
            m_recv_begin += total;
            if (!handler(header.value(), payload)) return {};
        }
        // Move the unread tail to the front and make room to read after it (the buffer only
        // grows, so it is zeroed once, not per read).
        if (m_recv_begin != 0) {
            std::memmove(m_recv.data(), m_recv.data() + m_recv_begin, m_recv_end - m_recv_begin);
        }
        m_recv_end -= m_recv_begin;
        m_recv_begin = 0;
        if (m_recv.size() < m_recv_end + READ_CHUNK) m_recv.resize(m_recv_end + READ_CHUNK);

        const int wait_ms = MillisecondsUntil(deadline);
        if (wait_ms == 0 && Clock::now() >= deadline) {
            return Error{ErrorCode::NotReady, "timed out waiting for " + m_peer};
        }
        pollfd p{m_fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, wait_ms);
        if (ready < 0 && errno != EINTR) return SystemError("poll", errno);
        if (ready <= 0) continue;
        const ssize_t n = ::recv(m_fd, m_recv.data() + m_recv_end, m_recv.size() - m_recv_end, 0);
        if (n == 0) {
            return Error{ErrorCode::Detached, "the node at " + m_peer + " closed the connection"};
        }
        if (n < 0) {
            const int err = errno;
            if (err == EINTR || err == EAGAIN) continue;
            return SystemError("receiving from " + m_peer, err);
        }
        m_recv_end += static_cast<size_t>(n);
    }
}

Result<p2p::VersionMessage> Connection::Handshake(Clock::time_point deadline)
{
    p2p::VersionMessage ours;
    ours.version = p2p::PROTOCOL_VERSION;
    ours.services = 0;
    ours.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    sockaddr_in sa{};
    socklen_t length = sizeof(sa);
    ::getpeername(m_fd, reinterpret_cast<sockaddr*>(&sa), &length);
    std::array<uint8_t, 4> ip;
    std::memcpy(ip.data(), &sa.sin_addr, 4);
    ours.addr_recv = p2p::NetAddress::FromIPv4(ip, ntohs(sa.sin_port));
    ours.nonce = std::random_device{}() | uint64_t{std::random_device{}()} << 32;
    ours.user_agent = USER_AGENT;
    ours.start_height = 0;
    // No transaction relay: the node has nothing to announce to a load generator anyway.
    ours.relay = false;
    if (Result<void> sent = SendMessage("version", p2p::SerializeVersion(ours)); !sent) {
        return sent.error();
    }

    std::optional<p2p::VersionMessage> theirs;
    bool verack = false;
    std::string problem;
    Result<void> received =
        Receive(deadline, [&](const p2p::MessageHeader& header, std::span<const uint8_t> payload) {
            const std::string_view command{header.Command()};
            if (command == "version") {
                Result<p2p::VersionMessage> version = p2p::ParseVersion(payload);
                if (!version) {
                    problem =
                        "the node's version message is malformed: " + version.error().message();
                    return false;
                }
                theirs = std::move(version.value());
            } else if (command == "verack") {
                if (!theirs) {
                    problem = "the node sent verack before its version";
                    return false;
                }
                verack = true;
            }
            return !(theirs && verack);
        });
    if (!received) {
        return Error{received.error().code(),
                     "handshake with " + m_peer + " failed: " + received.error().message()};
    }
    if (!problem.empty())
        return Error{ErrorCode::Corrupt, "handshake with " + m_peer + ": " + problem};
    if (Result<void> sent = SendMessage("verack", {}); !sent) return sent.error();
    return std::move(*theirs);
}

} // namespace tracering::loadgen
