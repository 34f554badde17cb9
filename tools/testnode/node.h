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
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "p2p/protocol.h"
#include "testnode/buffer.h"

namespace tracering::testnode {

struct NodeOptions {
    //! IPv4 address to listen on, in network order.
    std::array<uint8_t, 4> listen_ip{127, 0, 0, 1};
    //! 0: let the kernel pick a free port.
    uint16_t port{0};
    p2p::Magic magic{p2p::REGTEST_MAGIC};
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

    explicit Node(const NodeOptions& options);
    void Accept();
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
    bool m_accept_error_logged{false};
    NodeStats m_stats;
};

} // namespace tracering::testnode

#endif // TRACERING_TESTNODE_NODE_H
