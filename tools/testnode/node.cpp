// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "testnode/node.h"

#include <tracering/tracepoint.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>
#include <random>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "p2p/block.h"
#include "p2p/serialize.h"
#include "testnode/usdt.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

// The USDT semaphores of the probes this node fires (no-ops unless built with USDT). They
// live at global scope with these exact names because sys/sdt.h refers to them by name.
TESTNODE_USDT_SEMAPHORE(net, inbound_message);
TESTNODE_USDT_SEMAPHORE(net, outbound_message);
TESTNODE_USDT_SEMAPHORE(net, inbound_connection);
TESTNODE_USDT_SEMAPHORE(net, misbehaving_connection);
TESTNODE_USDT_SEMAPHORE(net, closed_connection);
TESTNODE_USDT_SEMAPHORE(validation, block_connected);
TESTNODE_USDT_SEMAPHORE(mempool, added);

namespace tracering::testnode {
namespace {

//! Bytes asked of the kernel per read: a few thousand pings at once.
constexpr size_t READ_CHUNK = 256 * 1024;
//! Reads per peer per wakeup, so one flooding peer cannot starve the others.
constexpr int MAX_READS_PER_WAKEUP = 8;
//! Stop taking in a peer's messages while this much of our answers to it is unsent (a peer
//! that sends pings but never reads its pongs), like bitcoind's -maxsendbuffer, and go on
//! once it fell below the second mark.
constexpr size_t SEND_PAUSE_BYTES = 4 << 20;
constexpr size_t SEND_RESUME_BYTES = 1 << 20;
//! Buffers larger than this are given back once empty (after a 4 MB block).
constexpr size_t KEEP_BUFFER_BYTES = 1 << 20;

//! How long the listen socket goes unwatched after accept() ran out of descriptors or memory,
//! unless a peer leaves first: long enough not to spin, short enough not to be noticed.
constexpr std::chrono::milliseconds ACCEPT_RETRY{100};

constexpr uint64_t LISTEN_TOKEN = ~uint64_t{0};
constexpr uint64_t STOP_TOKEN = ~uint64_t{0} - 1;

//! Bitcoin Core's ConnectionTypeAsString() for every peer of this node.
constexpr const char* CONN_TYPE = "inbound";
constexpr const char* USER_AGENT = "/tracering-testnode:0.1.0/";

//! Bitcoin Core's Network enum.
constexpr uint32_t NET_UNROUTABLE = 0;
constexpr uint32_t NET_IPV4 = 1;

//! The network Bitcoin Core's ConnectedThroughNetwork() reports for an IPv4 peer:
//! GetNetClass() is NET_UNROUTABLE for addresses that are not routable on the internet
//! (loopback, private ranges, link-local, documentation and benchmark ranges).
uint32_t NetworkOf(const std::array<uint8_t, 4>& ip)
{
    const uint8_t a = ip[0], b = ip[1], c = ip[2];
    const bool unroutable = a == 0 || a == 127 ||                        // local, invalid
                            a == 10 || (a == 172 && (b & 0xf0) == 16) || // RFC1918
                            (a == 192 && b == 168) ||                    // RFC1918
                            (a == 198 && (b & 0xfe) == 18) ||            // RFC2544
                            (a == 169 && b == 254) ||                    // RFC3927
                            (a == 100 && (b & 0xc0) == 64) ||            // RFC6598
                            (a == 192 && b == 0 && c == 2) ||            // RFC5737
                            (a == 198 && b == 51 && c == 100) || (a == 203 && b == 0 && c == 113) ||
                            (a == 255 && b == 255 && c == 255 && ip[3] == 255); // INADDR_NONE
    return unroutable ? NET_UNROUTABLE : NET_IPV4;
}

int64_t UnixSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

//! `what` and errno's text; errno is read first, before building any string can touch it.
Error SystemError(const char* what, const std::string& detail = {})
{
    const int err = errno;
    return Error{ErrorCode::SystemError, what + detail + ": " + std::strerror(err)};
}

} // namespace

struct Node::Peer {
    int fd{-1};
    int64_t id{0};
    std::string addr; //!< "a.b.c.d:port", as Bitcoin Core's m_addr_name for inbound peers
    std::array<uint8_t, 4> ip{};
    uint16_t port{0};
    uint32_t network{NET_UNROUTABLE};
    int64_t connected_time{0}; //!< UNIX seconds at accept
    ByteBuffer recv;
    ByteBuffer send;
    //! Length of the message at the front of `recv` once its header arrived, else 0.
    size_t pending_message{0};
    bool got_version{false};
    bool got_verack{false};
    bool disconnect{false};
    bool paused{false};
    uint32_t registered_events{0};
};

Node::Node(const NodeOptions& options) : m_options{options} {}

Result<std::unique_ptr<Node>> Node::Listen(const NodeOptions& options)
{
    std::unique_ptr<Node> node{new Node{options}};
    char ip_text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, options.listen_ip.data(), ip_text, sizeof(ip_text));
    const std::string where = std::string{ip_text} + ":" + std::to_string(options.port);

    node->m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (node->m_listen_fd < 0) return SystemError("cannot create a socket");
    const int one = 1;
    ::setsockopt(node->m_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(options.port);
    std::memcpy(&sa.sin_addr, options.listen_ip.data(), 4);
    if (::bind(node->m_listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        ::listen(node->m_listen_fd, SOMAXCONN) != 0) {
        return SystemError("cannot listen on ", where);
    }
    socklen_t length = sizeof(sa);
    if (::getsockname(node->m_listen_fd, reinterpret_cast<sockaddr*>(&sa), &length) != 0) {
        return SystemError("getsockname on ", where);
    }
    node->m_port = ntohs(sa.sin_port);

    node->m_epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (node->m_epoll_fd < 0) return SystemError("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = LISTEN_TOKEN;
    if (::epoll_ctl(node->m_epoll_fd, EPOLL_CTL_ADD, node->m_listen_fd, &ev) != 0) {
        return SystemError("epoll_ctl");
    }
    node->m_local_nonce = std::random_device{}() | uint64_t{std::random_device{}()} << 32;
    return node;
}

Node::~Node()
{
    for (auto& [id, peer] : m_peers)
        ::close(peer->fd);
    if (m_listen_fd >= 0) ::close(m_listen_fd);
    if (m_epoll_fd >= 0) ::close(m_epoll_fd);
}

Result<void> Node::Run(int stop_fd)
{
    epoll_event stop{};
    stop.events = EPOLLIN;
    stop.data.u64 = STOP_TOKEN;
    if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_ADD, stop_fd, &stop) != 0)
        return SystemError("epoll_ctl");

    epoll_event events[64];
    bool stopping = false;
    while (!stopping) {
        const int n = ::epoll_wait(m_epoll_fd, events, 64, WaitMillis());
        if (n < 0) {
            if (errno == EINTR) continue;
            return SystemError("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const uint64_t token = events[i].data.u64;
            if (token == STOP_TOKEN) {
                stopping = true;
                continue;
            }
            if (token == LISTEN_TOKEN) {
                Accept();
                continue;
            }
            const int64_t id = static_cast<int64_t>(token);
            auto it = m_peers.find(id);
            if (it == m_peers.end()) continue; // closed earlier in this batch
            Peer& peer = *it->second;
            if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !peer.paused) {
                OnReadable(peer);
            }
            // Write what is queued; a peer that drained enough is taken in again.
            for (;;) {
                if (!peer.disconnect) Flush(peer);
                if (peer.disconnect || !peer.paused || peer.send.size() >= SEND_RESUME_BYTES) break;
                peer.paused = false;
                ProcessMessages(peer);
            }
            if (!peer.disconnect) UpdateEvents(peer);
            if (peer.disconnect) Close(id);
        }
        OnTimers();
    }
    // Like bitcoind's StopNodes: every connection still open is closed, and says so.
    std::vector<int64_t> ids;
    for (const auto& entry : m_peers)
        ids.push_back(entry.first);
    std::sort(ids.begin(), ids.end());
    for (int64_t id : ids)
        Close(id);
    return {};
}

void Node::Accept()
{
    for (;;) {
        sockaddr_in sa{};
        socklen_t length = sizeof(sa);
        const int fd = ::accept4(m_listen_fd, reinterpret_cast<sockaddr*>(&sa), &length,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            // A connection that failed before it was taken: accept(2) says to retry at once.
            if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == ENETDOWN ||
                err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH ||
                err == EOPNOTSUPP || err == ENETUNREACH) {
                continue;
            }
            // EMFILE, ENFILE, ENOMEM, ENOBUFS or worse: the connection stays in the backlog
            // and the level-triggered listen socket stays readable, so watching it would
            // wake the loop at once, forever.
            PauseAccepting(err);
            return;
        }
        if (m_accept_error_logged) {
            std::fprintf(stderr, "tracering-testnode: accepting connections again\n");
            m_accept_error_logged = false;
        }
        if (m_peers.size() >= m_options.max_peers) {
            // As bitcoind with every inbound slot taken (and no peer to evict): the socket
            // is closed before it becomes a peer, so no tracepoint fires and no id is used.
            ::close(fd);
            ++m_stats.refused_full;
            if (!m_full_logged) {
                std::fprintf(stderr,
                             "tracering-testnode: %zu peers connected (--max-peers); closing new "
                             "connections until one leaves\n",
                             m_peers.size());
                m_full_logged = true;
            }
            continue;
        }
        // Bitcoin Core sets TCP_NODELAY on every peer socket too.
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

        auto owned = std::make_unique<Peer>();
        Peer& peer = *owned;
        peer.fd = fd;
        peer.id = m_next_peer_id++;
        std::memcpy(peer.ip.data(), &sa.sin_addr, 4);
        peer.port = ntohs(sa.sin_port);
        char ip_text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &sa.sin_addr, ip_text, sizeof(ip_text));
        peer.addr = std::string{ip_text} + ":" + std::to_string(peer.port);
        peer.network = NetworkOf(peer.ip);
        peer.connected_time = UnixSeconds();

        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = static_cast<uint64_t>(peer.id);
        if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            std::fprintf(stderr, "tracering-testnode: epoll_ctl: %s\n", std::strerror(errno));
            ::close(fd);
            continue;
        }
        peer.registered_events = EPOLLIN;
        m_handshake_deadlines.emplace_back(Clock::now() + m_options.handshake_timeout, peer.id);
        m_peers.emplace(peer.id, std::move(owned));
        ++m_stats.connections;
        // Fired after the peer joined the node's list, so the count includes it, as in
        // CConnman::CreateNodeFromAcceptedSocket.
        TESTNODE_TRACEPOINT(net, inbound_connection, peer.id, peer.addr.c_str(), CONN_TYPE,
                            peer.network, uint64_t{m_peers.size()});
    }
}

void Node::PauseAccepting(int err)
{
    if (!m_accept_error_logged) {
        // Said once, not at every retry until accept() works again.
        std::fprintf(stderr,
                     "tracering-testnode: cannot accept connections for now (accept: %s); new "
                     "ones wait in the backlog until a peer leaves (retrying every %lld ms)\n",
                     std::strerror(err), static_cast<long long>(ACCEPT_RETRY.count()));
        m_accept_error_logged = true;
    }
    m_accept_retry_at = Clock::now() + ACCEPT_RETRY;
    if (!m_accepting) return;
    // Kept registered with no events, so resuming is one EPOLL_CTL_MOD.
    epoll_event ev{};
    ev.events = 0;
    ev.data.u64 = LISTEN_TOKEN;
    if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, m_listen_fd, &ev) == 0) m_accepting = false;
}

void Node::ResumeAccepting()
{
    if (m_accepting) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = LISTEN_TOKEN;
    if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, m_listen_fd, &ev) == 0) {
        m_accepting = true;
    } else {
        m_accept_retry_at = Clock::now() + ACCEPT_RETRY; // try again later
    }
}

void Node::OnTimers()
{
    const Clock::time_point now = Clock::now();
    if (!m_accepting && now >= m_accept_retry_at) ResumeAccepting();
    while (!m_handshake_deadlines.empty()) {
        const auto [deadline, id] = m_handshake_deadlines.front();
        auto it = m_peers.find(id);
        const bool pending = it != m_peers.end() && !it->second->got_verack;
        // Entries of peers gone or connected are dropped whatever their deadline, so the
        // front is the next deadline that matters.
        if (pending && deadline > now) break;
        m_handshake_deadlines.pop_front();
        if (!pending) continue;
        // As bitcoind's InactivityCheck: said in the log, not reported as misbehaving.
        std::fprintf(stderr,
                     "tracering-testnode: peer=%lld (%s) version handshake timeout after %lld s; "
                     "disconnecting\n",
                     static_cast<long long>(id), it->second->addr.c_str(),
                     static_cast<long long>(m_options.handshake_timeout.count()));
        ++m_stats.handshake_timeouts;
        Close(id);
    }
}

int Node::WaitMillis() const
{
    std::optional<Clock::time_point> next;
    if (!m_accepting) next = m_accept_retry_at;
    if (!m_handshake_deadlines.empty()) {
        const Clock::time_point deadline = m_handshake_deadlines.front().first;
        if (!next || deadline < *next) next = deadline;
    }
    if (!next) return -1;
    const Clock::duration left = *next - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    // Rounded up: waking a little early would find nothing due and wait again with 0.
    const auto millis = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<int64_t>(millis, std::numeric_limits<int>::max()));
}

void Node::OnReadable(Peer& peer)
{
    for (int reads = 0; reads < MAX_READS_PER_WAKEUP && !peer.disconnect && !peer.paused; ++reads) {
        // Room for the whole of a large message at once, so it arrives in few reads.
        const size_t want = std::max(READ_CHUNK, peer.pending_message > peer.recv.size()
                                                     ? peer.pending_message - peer.recv.size()
                                                     : 0);
        const std::span<uint8_t> room = peer.recv.Prepare(want);
        const ssize_t n = ::recv(peer.fd, room.data(), room.size(), 0);
        if (n > 0) {
            peer.recv.Commit(static_cast<size_t>(n));
            m_stats.bytes_in += static_cast<uint64_t>(n);
            ProcessMessages(peer);
            if (!peer.disconnect) Flush(peer);
            // A short read means the socket is drained: skip the read that says EAGAIN.
            if (static_cast<size_t>(n) < room.size()) return;
            continue;
        }
        if (n == 0) {
            peer.disconnect = true; // the peer closed the connection
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) peer.disconnect = true;
        return;
    }
}

void Node::ProcessMessages(Peer& peer)
{
    while (!peer.disconnect && !peer.paused && peer.recv.size() >= p2p::HEADER_SIZE) {
        const Result<p2p::MessageHeader> header =
            p2p::ParseHeader({peer.recv.data(), peer.recv.size()}, m_options.magic);
        if (!header) {
            // bitcoind drops such a peer in its transport without a misbehaving_connection
            // event; this node reports it, so tests and operators see why a peer went away.
            Misbehaving(peer, header.error().message());
            break;
        }
        const size_t total = p2p::HEADER_SIZE + header.value().length;
        if (peer.recv.size() < total) {
            peer.pending_message = total;
            break;
        }
        peer.pending_message = 0;
        const std::span<const uint8_t> payload{peer.recv.data() + p2p::HEADER_SIZE,
                                               header.value().length};
        const p2p::Checksum checksum = p2p::ComputeChecksum(payload);
        if (checksum != header.value().checksum) {
            // bitcoind only drops a message with a bad checksum; this node treats it as
            // garbage, so a peer that corrupts its stream is noticed at once.
            Misbehaving(peer, "bad checksum on '" + std::string{header.value().Command()} + "' (" +
                                  std::to_string(payload.size()) + " bytes): header " +
                                  p2p::Hex(header.value().checksum) + ", payload " +
                                  p2p::Hex(checksum));
            break;
        }
        ++m_stats.messages_in;
        TESTNODE_TRACEPOINT(net, inbound_message, peer.id, peer.addr.c_str(), CONN_TYPE,
                            header.value().Command(), uint64_t{payload.size()}, payload.data());
        HandleMessage(peer, header.value(), payload);
        peer.recv.Consume(total);
        if (peer.send.size() >= SEND_PAUSE_BYTES) peer.paused = true;
    }
    peer.recv.ShrinkIfEmpty(KEEP_BUFFER_BYTES);
}

void Node::HandleMessage(Peer& peer, const p2p::MessageHeader& header,
                         std::span<const uint8_t> payload)
{
    const std::string_view command{header.Command()};
    if (command == "version") return HandleVersion(peer, payload);
    // Like bitcoind: anything before version, and anything but verack (or the feature
    // negotiation that precedes it) before verack, is ignored.
    if (!peer.got_version) return;
    if (command == "verack") {
        peer.got_verack = true;
        return;
    }
    if (!peer.got_verack) return;

    if (command == "ping") {
        const Result<uint64_t> nonce = p2p::ParseNonce(payload);
        if (!nonce) return Misbehaving(peer, "malformed ping: " + nonce.error().message());
        if (payload.size() == 8) {
            // Same payload, same checksum: no second hash per ping.
            Push(peer, "pong", payload, header.checksum);
        } else {
            const std::array<uint8_t, 8> echo = p2p::SerializeNonce(nonce.value());
            Push(peer, "pong", echo);
        }
    } else if (command == "block") {
        HandleBlock(peer, payload);
    } else if (command == "tx") {
        HandleTransaction(peer, payload);
    } else if (command == "headers") {
        const Result<uint64_t> count = p2p::ParseHeadersCount(payload);
        if (!count) return Misbehaving(peer, count.error().message());
        // bitcoind's words, which its functional test checks.
        if (count.value() > p2p::MAX_HEADERS_RESULTS) {
            return Misbehaving(peer, "headers message size = " + std::to_string(count.value()));
        }
    } else if (command == "inv" || command == "getdata") {
        const Result<uint64_t> count = p2p::ParseInventoryCount(payload);
        if (!count) return Misbehaving(peer, count.error().message());
        if (count.value() > p2p::MAX_INV_SZ) {
            return Misbehaving(peer, std::string{command} +
                                         " message size = " + std::to_string(count.value()));
        }
    }
    // Every other well-formed message is accepted and needs no answer from a node without
    // a chain or a mempool.
}

void Node::HandleVersion(Peer& peer, std::span<const uint8_t> payload)
{
    if (peer.got_version) return; // bitcoind ignores a redundant version
    const Result<p2p::VersionMessage> theirs = p2p::ParseVersion(payload);
    if (!theirs) return Misbehaving(peer, theirs.error().message());
    if (theirs.value().version < p2p::MIN_PEER_PROTO_VERSION) {
        // bitcoind disconnects an obsolete peer without punishing it.
        std::fprintf(stderr,
                     "tracering-testnode: peer=%lld uses obsolete version %d; disconnecting\n",
                     static_cast<long long>(peer.id), theirs.value().version);
        peer.disconnect = true;
        return;
    }
    peer.got_version = true;

    p2p::VersionMessage ours;
    ours.version = p2p::PROTOCOL_VERSION;
    ours.services = p2p::NODE_NETWORK | p2p::NODE_WITNESS | p2p::NODE_NETWORK_LIMITED;
    ours.timestamp = UnixSeconds();
    ours.addr_recv = p2p::NetAddress::FromIPv4(peer.ip, peer.port); // their services: unknown
    ours.addr_from.services = ours.services;
    ours.nonce = m_local_nonce;
    ours.user_agent = USER_AGENT;
    ours.start_height = m_next_height - 1;
    ours.relay = true;
    // An inbound peer gets our version only after its own, then (from 70016)
    // wtxidrelay and sendaddrv2, then verack: the order of bitcoind's ProcessMessage.
    Push(peer, "version", p2p::SerializeVersion(ours));
    const int32_t common = std::min(theirs.value().version, p2p::PROTOCOL_VERSION);
    if (common >= p2p::WTXID_RELAY_VERSION) {
        Push(peer, "wtxidrelay", {});
        Push(peer, "sendaddrv2", {});
    }
    Push(peer, "verack", {});
}

void Node::HandleBlock(Peer& peer, std::span<const uint8_t> payload)
{
    const auto start = std::chrono::steady_clock::now();
    const Result<p2p::BlockInfo> block = p2p::ParseBlock(payload);
    const int64_t duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count();
    if (!block) return Misbehaving(peer, block.error().message());
    ++m_stats.blocks;
    const int32_t height = m_next_height++;
    // A 4 MB block holds at most ~100,000 inputs, far below INT32_MAX.
    const int32_t inputs = static_cast<int32_t>(block.value().inputs);
    // sigops is 0: bitcoind passes the block's weighted sigop cost, which takes every
    // script decoded and the spent outputs known; this node has neither. duration_ns is
    // the time spent parsing the block, this node's whole "ConnectBlock".
    TESTNODE_TRACEPOINT(validation, block_connected, block.value().hash.data(), height,
                        uint64_t{block.value().transactions}, inputs, int64_t{0}, duration_ns);
}

void Node::HandleTransaction(Peer& peer, std::span<const uint8_t> payload)
{
    const Result<p2p::TransactionInfo> tx = p2p::ParseTransaction(payload);
    if (!tx) return Misbehaving(peer, tx.error().message());
    ++m_stats.transactions;
    const int32_t vsize = static_cast<int32_t>(tx.value().VirtualSize());
    // fee is 0: a fee is the inputs' value minus the outputs', and the inputs' value is in
    // the outputs they spend, which a node without a UTXO set cannot look up. vsize is
    // ceil(weight / 4), without bitcoind's sigop adjustment (sigops are not counted).
    TESTNODE_TRACEPOINT(mempool, added, tx.value().txid.data(), vsize, int64_t{0});
}

void Node::Push(Peer& peer, const char* command, std::span<const uint8_t> payload)
{
    Push(peer, command, payload, p2p::ComputeChecksum(payload));
}

void Node::Push(Peer& peer, const char* command, std::span<const uint8_t> payload,
                const p2p::Checksum& checksum)
{
    ++m_stats.messages_out;
    // Fired before the message is queued, as in CConnman::PushMessage.
    TESTNODE_TRACEPOINT(net, outbound_message, peer.id, peer.addr.c_str(), CONN_TYPE, command,
                        uint64_t{payload.size()}, payload.data());
    const size_t total = p2p::HEADER_SIZE + payload.size();
    const std::span<uint8_t> room = peer.send.Prepare(total);
    p2p::WriteHeader(room.first<p2p::HEADER_SIZE>(), m_options.magic, command,
                     static_cast<uint32_t>(payload.size()), checksum);
    if (!payload.empty())
        std::memcpy(room.data() + p2p::HEADER_SIZE, payload.data(), payload.size());
    peer.send.Commit(total);
}

void Node::Flush(Peer& peer)
{
    while (!peer.send.empty()) {
        const ssize_t n = ::send(peer.fd, peer.send.data(), peer.send.size(), MSG_NOSIGNAL);
        if (n > 0) {
            peer.send.Consume(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        peer.disconnect = true; // reset or gone
        return;
    }
    peer.send.ShrinkIfEmpty(KEEP_BUFFER_BYTES);
}

void Node::UpdateEvents(Peer& peer)
{
    const uint32_t wanted =
        (peer.paused ? 0u : uint32_t{EPOLLIN}) | (peer.send.empty() ? 0u : uint32_t{EPOLLOUT});
    if (wanted == peer.registered_events) return;
    epoll_event ev{};
    ev.events = wanted;
    ev.data.u64 = static_cast<uint64_t>(peer.id);
    if (::epoll_ctl(m_epoll_fd, EPOLL_CTL_MOD, peer.fd, &ev) == 0) {
        peer.registered_events = wanted;
    } else {
        peer.disconnect = true;
    }
}

void Node::Misbehaving(Peer& peer, const std::string& reason)
{
    ++m_stats.misbehaving;
    std::fprintf(stderr, "tracering-testnode: peer=%lld (%s) misbehaving, disconnecting: %s\n",
                 static_cast<long long>(peer.id), peer.addr.c_str(), reason.c_str());
    TESTNODE_TRACEPOINT(net, misbehaving_connection, peer.id, reason.c_str());
    peer.disconnect = true;
}

void Node::Close(int64_t id)
{
    auto it = m_peers.find(id);
    if (it == m_peers.end()) return;
    const Peer& peer = *it->second;
    ::epoll_ctl(m_epoll_fd, EPOLL_CTL_DEL, peer.fd, nullptr);
    ::close(peer.fd);
    // Once per connection, when its socket is closed, as CNode::CloseSocketDisconnect.
    TESTNODE_TRACEPOINT(net, closed_connection, peer.id, peer.addr.c_str(), CONN_TYPE, peer.network,
                        peer.connected_time);
    m_peers.erase(it);
    // A descriptor and a slot are free again: take the next waiting connection.
    if (m_peers.size() < m_options.max_peers) m_full_logged = false;
    ResumeAccepting();
}

} // namespace tracering::testnode
