// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_E2E_P2P_HARNESS_H
#define TRACERING_TESTS_E2E_P2P_HARNESS_H

//! @file
//! What the end-to-end tests of tracering-testnode and tracering-loadgen (p2p_test.cpp) drive
//! and watch them with: the node as a process (TestNode), this process as its consumer
//! (Watcher, which copies every event into an Event), a peer on a plain socket (RawPeer), and
//! tools run to completion (ToolRun).

#include <tracering/consumer.h>
#include <tracering/control.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "p2p/hash.h"
#include "subprocess.h"

namespace tracering::test {

//! One event, copied out of its ring.
struct Event {
    EventType type{EventType::Padding};
    uint64_t seq{0};
    int64_t peer_id{-1};
    std::string addr;
    net::ConnectionType conn_type{net::ConnectionType::Unknown};
    uint32_t network{99};
    uint64_t value{0}; //!< existing_connections, or time_established
    std::string msg_type;
    uint64_t size{0};
    std::vector<uint8_t> payload;
    bool truncated{false};
    std::string message; //!< misbehaving reason
    p2p::Hash256 hash{}; //!< block hash or txid
    int32_t height{0};
    uint64_t transactions{0};
    int32_t inputs{0};
    int64_t sigops{-1};
    int64_t duration_ns{0};
    int32_t vsize{0};
    int64_t fee{-1};
};

//! Copies the fields of a net, validation:block_connected or mempool:added event; any other
//! event is a test failure.
Event Decode(const EventView& view);

//! A tracering-testnode process on a free port with a segment of its own. With `shell`, /bin/sh
//! runs those commands first (a ulimit, say), then execs the node with its stderr merged into
//! stdout, so that StopNode() returns what the node said; the node keeps the shell's pid.
class TestNode
{
public:
    explicit TestNode(std::vector<std::string> extra = {},
                      std::optional<std::string> shell = std::nullopt);
    //! SIGTERM, and if the node does not exit cleanly, SIGKILL and removing what it left.
    ~TestNode();

    bool ready() const { return m_port != 0; }
    uint16_t port() const { return m_port; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(m_port); }
    const std::string& name() const { return m_name; }
    const std::string& socket() const { return m_socket; }
    Subprocess& process() { return m_process; }

private:
    std::vector<std::string> Argv(const std::vector<std::string>& extra,
                                  const std::optional<std::string>& shell) const;

    std::string m_name;
    std::string m_socket;
    Subprocess m_process;
    uint16_t m_port{0};
};

//! This process as the node's consumer: attaches net, validation and mempool losslessly
//! through the control socket and keeps a copy of every event.
class Watcher
{
public:
    explicit Watcher(const std::string& socket);

    //! "" once attached, else why not.
    const std::string& error() const { return m_error; }
    //! Reads whatever the rings hold; how many events that was.
    size_t Poll();
    //! Polls until `done()` holds or `timeout` passes; whether it held.
    bool PollUntil(const std::function<bool()>& done,
                   std::chrono::steady_clock::duration timeout = std::chrono::seconds{10});
    //! Events the producer counted as dropped on our rings, by any cause.
    uint64_t Dropped();
    //! net events of `type` read so far.
    size_t Count(EventType type) const;

    std::vector<Event> net;
    std::vector<Event> validation;
    std::vector<Event> mempool;
    uint64_t lost{0};

private:
    std::string m_error;
    std::unique_ptr<ControlClient> m_client;
    std::unique_ptr<Session> m_session;
};

//! A tool's exit code and output lines.
struct ToolRun {
    int exit_code{-1};
    std::vector<std::string> lines;
};

//! Collects the rest of a child's stdout (up to EOF or an empty line: the tools print none)
//! and its exit code (waited for if `exit_code` is -1).
ToolRun Finish(Subprocess& process, int exit_code);
//! Stops a node with SIGTERM; its exit code and what it printed since "ready" (its stderr too,
//! for a node started with a shell).
ToolRun StopNode(TestNode& node);
//! Runs a tool to completion while the watcher keeps draining the rings, so a lossless
//! ring never holds the node back.
ToolRun RunWhilePolling(Watcher& watcher, const std::vector<std::string>& argv,
                        std::chrono::steady_clock::duration timeout = std::chrono::seconds{40});
//! Runs a tool to completion with stderr merged into stdout, to see its error messages.
//! (Through the shell, with every argument single-quoted; the tests pass no quotes.) With
//! `stdout_file`, the tool's stdout goes to that file instead (/dev/full, say), and the lines
//! are its stderr alone.
ToolRun RunMerged(const std::string& tool, const std::vector<std::string>& args,
                  const std::string& stdout_file = "");
//! "exit N, output:" and the lines, for failure messages.
std::string Summary(const ToolRun& run);
//! The lines, each ended by a newline.
std::string Join(const std::vector<std::string>& lines);
bool PathExists(const std::string& path);

//! A peer driven by hand over a plain socket: for handshakes, pings and garbage.
class RawPeer
{
public:
    //! Connects to 127.0.0.1:`port`; see connected().
    explicit RawPeer(uint16_t port);
    ~RawPeer();
    RawPeer(const RawPeer&) = delete;
    RawPeer& operator=(const RawPeer&) = delete;

    bool connected() const { return m_connected; }
    //! "127.0.0.1:<our port>", as the node names this peer.
    const std::string& addr() const { return m_addr; }

    bool Send(std::span<const uint8_t> bytes);
    bool SendMessage(std::string_view command, std::span<const uint8_t> payload);
    //! Reads until a `command` message arrives; its payload, or nothing on EOF or timeout.
    std::optional<std::vector<uint8_t>> WaitFor(std::string_view command);
    //! version, then verack for the node's verack.
    bool Handshake();
    //! Whether the node closed the connection (EOF or reset) within 5 s.
    bool WaitForClose();

private:
    int m_fd{-1};
    bool m_connected{false};
    std::string m_addr;
    std::vector<uint8_t> m_buffer;
    size_t m_read{0}; //!< bytes of m_buffer already parsed
};

//! A "node" on a free 127.0.0.1 port that accepts one peer, sends it version and verack, and
//! then only reads what the peer sends, answering nothing: a peer waiting for answers waits
//! until its own timeout.
class MuteNode
{
public:
    MuteNode();
    //! Closes the listener and the peer's connection (if one came).
    ~MuteNode();
    MuteNode(const MuteNode&) = delete;
    MuteNode& operator=(const MuteNode&) = delete;

    bool ready() const { return m_port != 0; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(m_port); }
    //! Waits until the peer has sent at least `bytes` bytes (the handshake's included), at
    //! most `timeout`; whether it has.
    bool WaitReceived(uint64_t bytes,
                      std::chrono::steady_clock::duration timeout = std::chrono::seconds{10});

private:
    int m_listener{-1};
    std::atomic<uint64_t> m_received{0}; //!< bytes the peer sent so far
    uint16_t m_port{0};
    std::atomic<int> m_peer{-1}; //!< the accepted connection, -1 before and after it
    std::thread m_thread;
};

//! The net:inbound_connection event of the peer at `addr`, or nullptr.
const Event* FindConnection(const std::vector<Event>& events, const std::string& addr);
//! The first event of `type` of peer `peer_id`, or nullptr.
const Event* FindByPeer(const std::vector<Event>& events, EventType type, int64_t peer_id);
//! "" if `e` is message `msg_type` of peer `peer_id` at `addr` in direction `type`, with
//! `payload` if given; else what differs.
std::string CheckMessage(const Event& e, EventType type, const char* msg_type, int64_t peer_id,
                         const std::string& addr,
                         std::optional<std::vector<uint8_t>> payload = std::nullopt);

} // namespace tracering::test

#endif // TRACERING_TESTS_E2E_P2P_HARNESS_H
