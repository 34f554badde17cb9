// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-testnode: a regtest P2P endpoint that fires Bitcoin Core's tracepoints.
//!
//! It creates a tracering producer (segment and control socket) and accepts inbound P2P v1
//! connections, answering them as bitcoind would: version handshake, pong for ping, and it
//! takes blocks and transactions, firing net:*, validation:block_connected and mempool:added
//! with the values bitcoind passes. Consumers (ringdump, tests) attach through the control
//! socket. See --help.

#include <tracering/producer.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <string>
#include <string_view>
#include <unistd.h>

#include "cli/cli.h"
#include "p2p/endpoint.h"
#include "testnode/node.h"
#include <sys/signalfd.h>

namespace {

using namespace tracering;

constexpr const char* USAGE =
    R"(usage: tracering-testnode --listen IP:PORT --control PATH [--name NAME] [--group GROUP]
                         [--net-ring-mib N] [--max-peers N] [--handshake-timeout S]

A regtest Bitcoin P2P (v1) node for tracing tests and benchmarks. It accepts inbound
peers, completes the version handshake, answers ping with pong, takes block and tx
messages, disconnects peers that send garbage, and fires Bitcoin Core's tracepoints
(net:*, validation:block_connected, mempool:added) into a tracering segment whose rings
consumers enable through the control socket.

  --listen IP:PORT    IPv4 address and port for P2P peers; port 0 picks a free one
  --control PATH      unix socket on which consumers attach (removed at exit)
  --name NAME         segment name: shared memory tracering.NAME (default: testnode)
  --group GROUP       let members of GROUP (a group name or a numeric gid) attach through
                      the control socket and read every event too: the segment is made
                      0440 and the socket 0660, both of GROUP (default: 0600, this user
                      only). Members cannot write the segment. This user must be in
                      GROUP (or root), and GROUP must be able to enter the socket's
                      directory
  --net-ring-mib N    size of the net ring in MiB, a power of two (default: 32). A ring
                      record is at most capacity / 8 bytes: below 32, the largest block
                      messages (up to 4,000,000 bytes) exceed it and their
                      net:inbound_message events are dropped, counted as too_big
  --max-peers N       peers connected at once (default: 125, bitcoind's -maxconnections;
                      every slot here is inbound); a connection beyond them is accepted
                      and closed at once, without a tracepoint, and counted
  --handshake-timeout S
                      a peer that has not completed version/verack S seconds after it
                      connected is disconnected, as bitcoind's -peertimeout (default: 60)
  --help              this text

Once both sockets listen it prints "ready PORT" on stdout. SIGINT, SIGTERM or SIGHUP (its
terminal went away) closes every peer connection, removes the segment and the control
socket, and exits, printing a summary line with its counters on stderr (connections,
messages, blocks, transactions, misbehaving peers, connections closed for --max-peers,
handshake timeouts).

When it runs out of file descriptors (or memory) it stops accepting for a moment: new
connections wait in the listen backlog until a peer leaves or 100 ms pass, and stderr says so
once.

Where it differs from bitcoind: it has no chain, mempool or UTXO set, so every well-formed
block is connected at the next height (1, 2, ...) with sigops 0 and duration_ns its parse
time, and every well-formed tx is added with fee 0 and vsize ceil(weight / 4); malformed
ones get the peer disconnected. A bad magic, checksum, type or length is reported with
net:misbehaving_connection before the disconnection (bitcoind drops such peers or
messages silently). After the handshake it sends nothing unasked (no ping, sendcmpct,
feefilter or getheaders).

Exit codes: 0 clean shutdown, 1 bad usage (including a --group that does not exist or
that this user may not give its files, or a --control path too long for a socket), 2
could not start (segment, socket or port unavailable), the event loop failed, or stdout
could not be written.
)";

struct Args {
    p2p::Endpoint listen;
    bool has_listen{false};
    std::string control;
    std::string name{"testnode"};
    int64_t group_id{-1}; //!< --group's gid, -1 without it
    uint64_t net_ring_mib{DEFAULT_RING_CAPACITIES[static_cast<size_t>(Subsystem::Net)] >> 20};
    uint32_t max_peers{testnode::DEFAULT_MAX_PEERS};
    std::chrono::seconds handshake_timeout{testnode::DEFAULT_HANDSHAKE_TIMEOUT};
};

//! Bounds of --max-peers and --handshake-timeout: beyond them a typo, not a setting.
constexpr uint64_t MAX_MAX_PEERS = 1'000'000;
constexpr uint64_t MAX_HANDSHAKE_TIMEOUT_SECONDS = 86'400;

int Main(int argc, char** argv)
{
    Args args;
    cli::Args a{"tracering-testnode", argc, argv};
    while (a.Next()) {
        if (a.IsHelp()) return cli::Help(USAGE);
        bool ok = true;
        std::string value;
        if (a.Is("--listen")) {
            ok = a.Value(value);
            if (ok) {
                const Result<p2p::Endpoint> endpoint = p2p::ParseEndpoint(value);
                if (!endpoint) return a.Usage("--listen: " + endpoint.error().message());
                args.listen = endpoint.value();
                args.has_listen = true;
            }
        } else if (a.Is("--control")) {
            ok = a.SocketPath(args.control);
        } else if (a.Is("--name")) {
            ok = a.Value(value);
            if (ok) {
                const Result<void> valid = ValidateSegmentName(value);
                if (!valid) return a.Usage("--name: " + valid.error().message());
                args.name = value;
            }
        } else if (a.Is("--group")) {
            ok = a.Value(value);
            if (ok) {
                const Result<int64_t> gid = ResolveGroup(value);
                if (!gid) return a.Usage("--group: " + gid.error().message());
                args.group_id = gid.value();
            }
        } else if (a.Is("--net-ring-mib")) {
            ok = a.U64(args.net_ring_mib, 1, 4096);
            if (ok && (args.net_ring_mib & (args.net_ring_mib - 1)) != 0) {
                return a.Usage("--net-ring-mib: " + std::to_string(args.net_ring_mib) +
                               " is not a power of two (1-4096)");
            }
        } else if (a.Is("--max-peers")) {
            uint64_t peers = 0;
            ok = a.U64(peers, 1, MAX_MAX_PEERS);
            args.max_peers = static_cast<uint32_t>(peers);
        } else if (a.Is("--handshake-timeout")) {
            uint64_t seconds = 0;
            ok = a.U64(seconds, 1, MAX_HANDSHAKE_TIMEOUT_SECONDS);
            args.handshake_timeout = std::chrono::seconds{seconds};
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (!args.has_listen) return a.Usage("--listen IP:PORT is required");
    if (args.control.empty()) return a.Usage("--control PATH is required");

    // SIGINT, SIGTERM and SIGHUP are blocked before any thread exists (the producer's control
    // thread inherits the mask) and read from a signalfd by the event loop, which then shuts down
    // in order. A peer that hangs up mid-write must not kill the node.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    const int stop_fd = ::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (stop_fd < 0) {
        std::fprintf(stderr, "tracering-testnode: signalfd: %s\n", std::strerror(errno));
        return 2;
    }

    ProducerOptions options;
    options.name = args.name;
    options.control_socket = args.control;
    options.install_global = true;
    if (args.group_id >= 0) {
        options.group_access = GroupAccess::Read;
        options.group_id = args.group_id;
    }
    options.capacities[static_cast<size_t>(Subsystem::Net)] = args.net_ring_mib << 20;
    // Declared before the node: tracepoints fire until the node is gone.
    Result<std::unique_ptr<Producer>> producer = Producer::Create(options);
    if (!producer) {
        std::fprintf(stderr, "tracering-testnode: %s\n", producer.error().message().c_str());
        return 2;
    }
    testnode::NodeOptions node_options;
    node_options.listen_ip = args.listen.ip;
    node_options.port = args.listen.port;
    node_options.max_peers = args.max_peers;
    node_options.handshake_timeout = args.handshake_timeout;
    Result<std::unique_ptr<testnode::Node>> node = testnode::Node::Listen(node_options);
    if (!node) {
        std::fprintf(stderr, "tracering-testnode: %s\n", node.error().message().c_str());
        return 2;
    }
    std::printf("ready %u\n", unsigned{node.value()->port()});
    std::fflush(stdout);

    const Result<void> run = node.value()->Run(stop_fd);
    const testnode::NodeStats stats = node.value()->stats();
    node.value().reset();
    producer.value().reset();
    ::close(stop_fd);
    std::fprintf(
        stderr,
        "tracering-testnode: stopped; %" PRIu64 " connections, %" PRIu64 " messages in (%" PRIu64
        " bytes), %" PRIu64 " out, %" PRIu64 " blocks, %" PRIu64 " transactions, %" PRIu64
        " misbehaving peers, %" PRIu64 " refused (--max-peers), %" PRIu64 " handshake timeouts\n",
        stats.connections, stats.messages_in, stats.bytes_in, stats.messages_out, stats.blocks,
        stats.transactions, stats.misbehaving, stats.refused_full, stats.handshake_timeouts);
    if (!run) {
        std::fprintf(stderr, "tracering-testnode: %s\n", run.error().message().c_str());
        return 2;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) { return cli::Finish("tracering-testnode", Main(argc, argv)); }
