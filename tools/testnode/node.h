// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTNODE_NODE_H
#define TRACERING_TESTNODE_NODE_H

//! @file
//! The P2P side of tracering-testnode: a regtest peer that accepts inbound v1 connections
//! and behaves toward them like bitcoind, firing Bitcoin Core's tracepoints with the
//! values bitcoind would pass.
//!
//! One thread runs everything (accepting, reading, parsing, answering, tracing) from an
//! epoll loop over non-blocking sockets: a read takes in as many messages as the socket
//! holds, their answers are queued and written with one send() per read, so a ping flood
//! costs about two system calls per few thousand pings.

#include <tracering/result.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "p2p/protocol.h"
#include "testnode/buffer.h"

namespace tracering::testnode {

//! Bitcoin Core's default -maxconnections: this node has no outbound peers, so every slot is
//! an inbound one.
inline constexpr uint32_t DEFAULT_MAX_PEERS = 125;
//! Bitcoin Core's DEFAULT_PEER_CONNECT_TIMEOUT: how long a peer may take to complete the
//! version handshake.
inline constexpr std::chrono::seconds DEFAULT_HANDSHAKE_TIMEOUT{60};

struct NodeOptions {
    //! IPv4 address to listen on, in network order.
    std::array<uint8_t, 4> listen_ip{127, 0, 0, 1};
    //! 0: let the kernel pick a free port.
    uint16_t port{0};
    p2p::Magic magic{p2p::REGTEST_MAGIC};
    //! Peers connected at once; a connection beyond them is accepted and closed at once.
    uint32_t max_peers{DEFAULT_MAX_PEERS};
    //! A peer that has not sent version and verack this long after it connected is
    //! disconnected.
    std::chrono::seconds handshake_timeout{DEFAULT_HANDSHAKE_TIMEOUT};
};

//! Totals over the node's life, for its exit report.
struct NodeStats {
    uint64_t connections{0};
    uint64_t messages_in{0};
    uint64_t messages_out{0};
    uint64_t bytes_in{0};
    uint64_t misbehaving{0};
    uint64_t blocks{0};
    uint64_t transactions{0};
    //! Connections closed at once because max_peers peers were connected.
    uint64_t refused_full{0};
    //! Peers disconnected for not completing the handshake within handshake_timeout.
    uint64_t handshake_timeouts{0};
};

class Node
{
public:
    //! Binds and listens. Fails with the address and errno's text.
    static Result<std::unique_ptr<Node>> Listen(const NodeOptions& options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    //! The port actually bound.
    uint16_t port() const noexcept { return m_port; }
    //! Serves peers until `stop_fd` (a signalfd) becomes readable, then closes every peer
    //! connection (each fires net:closed_connection) and returns.
    Result<void> Run(int stop_fd);
    const NodeStats& stats() const noexcept { return m_stats; }

private:
    struct Peer;
    using Clock = std::chrono::steady_clock;

    explicit Node(const NodeOptions& options);
    void Accept();
    //! Stops watching the listen socket after accept() failed with `err` (out of descriptors
    //! or memory), until a peer leaves or ACCEPT_RETRY passed.
    void PauseAccepting(int err);
    void ResumeAccepting();
    //! Resumes accepting once its retry time came, and disconnects peers whose handshake
    //! deadline passed.
    void OnTimers();
    //! epoll_wait's timeout: until the next timer is due, or -1 if none is pending.
    int WaitMillis() const;
    void OnReadable(Peer& peer);
    //! Handles every complete message in the peer's receive buffer, in order.
    void ProcessMessages(Peer& peer);
    void HandleMessage(Peer& peer, const p2p::MessageHeader& header,
                       std::span<const uint8_t> payload);
    void HandleVersion(Peer& peer, std::span<const uint8_t> payload);
    void HandleBlock(Peer& peer, std::span<const uint8_t> payload);
    void HandleTransaction(Peer& peer, std::span<const uint8_t> payload);
    //! Fires net:outbound_message and queues the message; written by Flush().
    void Push(Peer& peer, const char* command, std::span<const uint8_t> payload);
    void Push(Peer& peer, const char* command, std::span<const uint8_t> payload,
              const p2p::Checksum& checksum);
    //! Writes what the socket takes; waits for EPOLLOUT for the rest.
    void Flush(Peer& peer);
    //! Fires net:misbehaving_connection and marks the peer for disconnection.
    void Misbehaving(Peer& peer, const std::string& reason);
    void UpdateEvents(Peer& peer);
    //! Closes the socket and fires net:closed_connection.
    void Close(int64_t id);

    const NodeOptions m_options;
    int m_listen_fd{-1};
    int m_epoll_fd{-1};
    uint16_t m_port{0};
    std::unordered_map<int64_t, std::unique_ptr<Peer>> m_peers;
    int64_t m_next_peer_id{0};
    //! Height given to the next block received: the node has no chain, so every well-formed
    //! block is "connected" on top of the previous one.
    int32_t m_next_height{1};
    uint64_t m_local_nonce{0};
    //! Whether the listen socket is watched for EPOLLIN; false while accept() cannot succeed.
    bool m_accepting{true};
    Clock::time_point m_accept_retry_at{};
    //! Whether the current accept() failure was said on stderr (once until accept works).
    bool m_accept_error_logged{false};
    //! Whether "max_peers reached" was said on stderr (once until a peer leaves).
    bool m_full_logged{false};
    //! (deadline, peer id) for peers still in the handshake, in accept order, which is also
    //! deadline order: every peer gets the same timeout. Ids, not pointers: a peer may be
    //! closed before its deadline, and ids are never reused, so a stale entry finds nothing.
    std::deque<std::pair<Clock::time_point, int64_t>> m_handshake_deadlines;
    NodeStats m_stats;
};

} // namespace tracering::testnode

#endif // TRACERING_TESTNODE_NODE_H
