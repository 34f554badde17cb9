// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// End-to-end tests of the P2P harness: a real tracering-testnode process, real
// tracering-loadgen processes (or raw sockets) as its peers, and this process as the
// consumer that attaches through the node's control socket and checks every event.

#include <tracering/consumer.h>
#include <tracering/control.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "p2p/block.h"
#include "p2p/builder.h"
#include "p2p/hash.h"
#include "p2p/protocol.h"
#include "p2p/serialize.h"
#include "p2p_harness.h"
#include "paths.h"
#include "subprocess.h"
#include "test_util.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

namespace tracering {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using namespace test; // the harness: TestNode, Watcher, RawPeer, ToolRun

const std::string TESTNODE = test::paths::TESTNODE;
const std::string LOADGEN = test::paths::LOADGEN;
const std::string BLOCK_FILE = test::paths::BLOCK413567;

std::vector<uint8_t> ReadFile(const std::string& path)
{
    std::ifstream in{path, std::ios::binary};
    return {std::istreambuf_iterator<char>{in}, {}};
}

template <size_t N>
std::vector<uint8_t> Bytes(const std::array<uint8_t, N>& a)
{
    return {a.begin(), a.end()};
}

// --- (a) ping flood ---------------------------------------------------------------------

TEST(P2PEndToEndTest, PingFloodGivesOneInboundPingAndOneOutboundPongPerNonceWithNoLoss)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");
    const int64_t started = static_cast<int64_t>(std::time(nullptr));

    constexpr uint64_t N = 20000;
    const ToolRun run = RunWhilePolling(
        watcher, {LOADGEN, "--connect", node.endpoint(), "ping", "--count", std::to_string(N)});
    ASSERT_EQ(run.exit_code, 0) << Summary(run);
    ASSERT_FALSE(run.lines.empty());
    EXPECT_TRUE(Contains(run.lines.back(), "result mode=ping sent=20000 pongs=20000 bad_nonces=0"))
        << Summary(run);
    // The node sees the load generator's socket close after it exits.
    ASSERT_TRUE(
        watcher.PollUntil([&] { return watcher.Count(EventType::NetClosedConnection) == 1; }));

    const std::vector<Event>& ev = watcher.net;
    // inbound_connection, version in, version + wtxidrelay + sendaddrv2 + verack out,
    // verack in, N x (ping, pong), closed_connection.
    ASSERT_EQ(ev.size(), 1 + 1 + 4 + 1 + 2 * N + 1);
    for (size_t i = 1; i < ev.size(); ++i)
        ASSERT_EQ(ev[i].seq, ev[0].seq + i) << i;
    EXPECT_EQ(watcher.lost, 0u);
    EXPECT_EQ(watcher.Dropped(), 0u);

    const Event& connected = ev[0];
    ASSERT_EQ(connected.type, EventType::NetInboundConnection);
    const int64_t peer = connected.peer_id;
    const std::string addr = connected.addr;
    EXPECT_EQ(peer, 0); // the node's first peer
    EXPECT_TRUE(addr.rfind("127.0.0.1:", 0) == 0) << addr;
    EXPECT_EQ(connected.conn_type, net::ConnectionType::Inbound);
    EXPECT_EQ(connected.network, 0u); // NET_UNROUTABLE, as bitcoind reports loopback
    EXPECT_EQ(connected.value, 1u);   // inbound connections, this one included

    size_t i = 1;
    ASSERT_EQ(CheckMessage(ev[i], EventType::NetInboundMessage, "version", peer, addr), "");
    auto theirs = p2p::ParseVersion(ev[i++].payload);
    ASSERT_TRUE(theirs) << theirs.error().message();
    EXPECT_EQ(theirs.value().user_agent, "/tracering-loadgen:0.1.0/");
    ASSERT_EQ(CheckMessage(ev[i], EventType::NetOutboundMessage, "version", peer, addr), "");
    auto ours = p2p::ParseVersion(ev[i++].payload);
    ASSERT_TRUE(ours) << ours.error().message();
    EXPECT_EQ(ours.value().version, p2p::PROTOCOL_VERSION);
    EXPECT_EQ(ours.value().user_agent, "/tracering-testnode:0.1.0/");
    const std::vector<uint8_t> none;
    ASSERT_EQ(CheckMessage(ev[i++], EventType::NetOutboundMessage, "wtxidrelay", peer, addr, none),
              "");
    ASSERT_EQ(CheckMessage(ev[i++], EventType::NetOutboundMessage, "sendaddrv2", peer, addr, none),
              "");
    ASSERT_EQ(CheckMessage(ev[i++], EventType::NetOutboundMessage, "verack", peer, addr, none), "");
    ASSERT_EQ(CheckMessage(ev[i++], EventType::NetInboundMessage, "verack", peer, addr, none), "");
    for (uint64_t nonce = 0; nonce < N; ++nonce) {
        const std::vector<uint8_t> payload = Bytes(p2p::SerializeNonce(nonce));
        ASSERT_EQ(CheckMessage(ev[i++], EventType::NetInboundMessage, "ping", peer, addr, payload),
                  "");
        ASSERT_EQ(CheckMessage(ev[i++], EventType::NetOutboundMessage, "pong", peer, addr, payload),
                  "");
    }
    const Event& closed = ev[i];
    ASSERT_EQ(closed.type, EventType::NetClosedConnection);
    EXPECT_EQ(closed.peer_id, peer);
    EXPECT_EQ(closed.addr, addr);
    EXPECT_EQ(closed.conn_type, net::ConnectionType::Inbound);
    EXPECT_EQ(closed.network, 0u);
    const int64_t established = static_cast<int64_t>(closed.value);
    EXPECT_GE(established, started - 1);
    EXPECT_LE(established, static_cast<int64_t>(std::time(nullptr)));
    EXPECT_TRUE(watcher.validation.empty());
    EXPECT_TRUE(watcher.mempool.empty());
}

// --- (b) blocks up to the message size limit --------------------------------------------

TEST(P2PEndToEndTest, BlocksUpToTheFourMegabyteMessageLimitArriveWholeAndAreConnected)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");

    // Two runs: 3.9 MB blocks, then one exactly at MAX_PROTOCOL_MESSAGE_LENGTH.
    const ToolRun first = RunWhilePolling(watcher, {LOADGEN, "--connect", node.endpoint(), "blocks",
                                                    "--count", "2", "--size", "3900000"});
    ASSERT_EQ(first.exit_code, 0) << Summary(first);
    EXPECT_TRUE(Contains(first.lines.back(), "result mode=blocks sent=2 bytes=7800000 pongs=1"))
        << Summary(first);
    const ToolRun second =
        RunWhilePolling(watcher, {LOADGEN, "--connect", node.endpoint(), "blocks", "--count", "1",
                                  "--size", "4000000"});
    ASSERT_EQ(second.exit_code, 0) << Summary(second);
    ASSERT_TRUE(watcher.PollUntil([&] {
        return watcher.Count(EventType::NetClosedConnection) == 2 && watcher.validation.size() == 3;
    }));
    EXPECT_EQ(watcher.lost, 0u);
    EXPECT_EQ(watcher.Dropped(), 0u);

    // What the load generator sent, rebuilt: each run starts a chain at height 1.
    struct Sent {
        std::vector<uint8_t> bytes;
        p2p::Hash256 hash;
        uint64_t transactions, inputs;
    };
    std::vector<Sent> sent;
    for (auto [size, count] : {std::pair{3'900'000, 2}, std::pair{4'000'000, 1}}) {
        p2p::BlockBuilder builder{static_cast<uint64_t>(size)};
        for (int k = 0; k < count; ++k) {
            const std::span<const uint8_t> block = builder.Next();
            sent.push_back({{block.begin(), block.end()},
                            builder.LastHash(),
                            builder.transactions(),
                            builder.inputs()});
        }
    }

    std::vector<const Event*> blocks;
    for (const Event& e : watcher.net) {
        if (e.type == EventType::NetInboundMessage && e.msg_type == "block") blocks.push_back(&e);
    }
    ASSERT_EQ(blocks.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
        EXPECT_FALSE(blocks[k]->truncated) << k;
        EXPECT_EQ(blocks[k]->size, sent[k].bytes.size()) << k;
        EXPECT_TRUE(blocks[k]->payload == sent[k].bytes) << "block " << k << " differs";
        const Event& connected = watcher.validation[k];
        EXPECT_EQ(connected.height, int32_t(k + 1));
        EXPECT_EQ(p2p::DisplayHex(connected.hash), p2p::DisplayHex(sent[k].hash)) << k;
        EXPECT_EQ(connected.transactions, sent[k].transactions) << k;
        EXPECT_EQ(connected.inputs, int32_t(sent[k].inputs)) << k;
        EXPECT_EQ(connected.sigops, 0);
        EXPECT_GT(connected.duration_ns, 0);
    }
    EXPECT_EQ(blocks[0]->peer_id, 0);
    EXPECT_EQ(blocks[2]->peer_id, 1);
    EXPECT_EQ(sent[2].bytes.size(), p2p::MAX_PROTOCOL_MESSAGE_LENGTH);
    // Each run ended with the barrier ping, answered after the blocks.
    const std::vector<uint8_t> barrier = Bytes(p2p::SerializeNonce(~uint64_t{0}));
    size_t barrier_pongs = 0;
    for (const Event& e : watcher.net) {
        if (e.type == EventType::NetOutboundMessage && e.msg_type == "pong" &&
            e.payload == barrier) {
            ++barrier_pongs;
        }
    }
    EXPECT_EQ(barrier_pongs, 2u);
}

// --- (c) a real mainnet block -----------------------------------------------------------

TEST(P2PEndToEndTest, MainnetBlock413567IsConnectedWithItsHashTransactionsAndInputs)
{
    const std::vector<uint8_t> raw = ReadFile(BLOCK_FILE);
    ASSERT_EQ(raw.size(), 999'887u)
        << "test data missing or damaged: " << BLOCK_FILE
        << " should hold mainnet block 413567 (999887 bytes; see tests/fixtures/README.md)";
    TestNode node;
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");

    const ToolRun run = RunWhilePolling(watcher, {LOADGEN, "--connect", node.endpoint(), "blocks",
                                                  "--file", BLOCK_FILE, "--count", "2"});
    ASSERT_EQ(run.exit_code, 0) << Summary(run);
    ASSERT_TRUE(watcher.PollUntil([&] { return watcher.validation.size() == 2; }));

    const auto expected_hash =
        p2p::HashFromDisplayHex("0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069");
    ASSERT_TRUE(expected_hash);
    for (int k = 0; k < 2; ++k) {
        const Event& connected = watcher.validation[k];
        EXPECT_EQ(connected.type, EventType::ValidationBlockConnected);
        // The event holds the digest in internal byte order: it ends in the zero bytes that
        // lead the display form.
        EXPECT_EQ(connected.hash, *expected_hash);
        EXPECT_EQ(connected.hash[31], 0);
        EXPECT_EQ(connected.height, k + 1);
        EXPECT_EQ(connected.transactions, 1557u);
        EXPECT_EQ(connected.inputs, 4887);
        EXPECT_EQ(connected.sigops, 0);
        EXPECT_GT(connected.duration_ns, 0);
    }
    size_t blocks = 0;
    for (const Event& e : watcher.net) {
        if (e.type == EventType::NetInboundMessage && e.msg_type == "block") {
            ++blocks;
            EXPECT_EQ(e.size, raw.size());
            EXPECT_TRUE(e.payload == raw) << "the block payload differs from the file";
        }
    }
    EXPECT_EQ(blocks, 2u);
    EXPECT_EQ(watcher.lost, 0u);
}

TEST(P2PEndToEndTest, TransactionsAreAddedToTheMempoolWithTxidAndVsize)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");
    constexpr uint64_t N = 50;
    const ToolRun run = RunWhilePolling(
        watcher, {LOADGEN, "--connect", node.endpoint(), "txs", "--count", std::to_string(N)});
    ASSERT_EQ(run.exit_code, 0) << Summary(run);
    ASSERT_TRUE(watcher.PollUntil([&] { return watcher.mempool.size() == N; }));
    for (uint64_t i = 0; i < N; ++i) {
        const bool segwit = i % 2 == 1;
        auto tx = p2p::ParseTransaction(p2p::MakeTransaction(i, segwit));
        ASSERT_TRUE(tx);
        const Event& added = watcher.mempool[i];
        EXPECT_EQ(added.type, EventType::MempoolAdded);
        EXPECT_EQ(added.hash, tx.value().txid) << i;
        EXPECT_EQ(added.vsize, segwit ? 395 : 554) << i;
        EXPECT_EQ(added.fee, 0); // unknowable without the outputs being spent
    }
}

// --- (d) garbage ------------------------------------------------------------------------

TEST(P2PEndToEndTest, GarbagePeersAreMisbehavingAndDisconnectedWhileOthersAreServed)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");
    RawPeer good{node.port()};
    ASSERT_TRUE(good.connected());
    ASSERT_TRUE(good.Handshake());

    auto message = [](std::string_view command, std::vector<uint8_t> payload) {
        std::vector<uint8_t> out;
        p2p::AppendMessage(out, p2p::REGTEST_MAGIC, command, payload);
        return out;
    };
    std::vector<uint8_t> bad_checksum = message("ping", Bytes(p2p::SerializeNonce(1)));
    bad_checksum[20] ^= 0xff;
    std::vector<uint8_t> oversized = message("block", {});
    p2p::StoreU32(oversized.data() + 16, p2p::MAX_PROTOCOL_MESSAGE_LENGTH + 1);
    std::vector<uint8_t> bad_type = message("ping", Bytes(p2p::SerializeNonce(1)));
    bad_type[6] = 0x07;
    const std::string http = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    std::vector<uint8_t> too_many_headers;
    p2p::WriteCompactSize(too_many_headers, 2001);

    struct Case {
        const char* what;
        std::vector<uint8_t> bytes;
        bool handshake_first;
        const char* reason;
    };
    const std::vector<Case> cases{
        {"bad magic", {http.begin(), http.end()}, false, "wrong magic 47455420"},
        {"bad checksum", bad_checksum, false, "bad checksum on 'ping'"},
        {"oversized length", oversized, false, "announces 4000001 bytes"},
        {"non-printable type", bad_type, false, "non-printable byte 0x07"},
        {"short version", message("version", std::vector<uint8_t>(30, 1)), false,
         "malformed version message"},
        {"malformed block", message("block", std::vector<uint8_t>(100, 0xee)), true,
         "malformed block"},
        {"malformed tx", message("tx", std::vector<uint8_t>(5, 0x01)), true,
         "malformed transaction"},
        {"2001 headers", message("headers", too_many_headers), true, "headers message size = 2001"},
    };
    std::vector<std::string> addrs;
    for (const Case& c : cases) {
        RawPeer bad{node.port()};
        ASSERT_TRUE(bad.connected()) << c.what;
        if (c.handshake_first) {
            ASSERT_TRUE(bad.Handshake()) << c.what;
        }
        ASSERT_TRUE(bad.Send(c.bytes)) << c.what;
        EXPECT_TRUE(bad.WaitForClose()) << c.what << ": the node did not disconnect";
        addrs.push_back(bad.addr());
    }
    ASSERT_TRUE(watcher.PollUntil(
        [&] { return watcher.Count(EventType::NetClosedConnection) == cases.size(); }));
    for (size_t k = 0; k < cases.size(); ++k) {
        const Event* connected = FindConnection(watcher.net, addrs[k]);
        ASSERT_NE(connected, nullptr) << cases[k].what;
        const Event* misbehaving =
            FindByPeer(watcher.net, EventType::NetMisbehavingConnection, connected->peer_id);
        ASSERT_NE(misbehaving, nullptr) << cases[k].what;
        EXPECT_TRUE(Contains(misbehaving->message, cases[k].reason))
            << cases[k].what << ": " << misbehaving->message;
        const Event* closed =
            FindByPeer(watcher.net, EventType::NetClosedConnection, connected->peer_id);
        ASSERT_NE(closed, nullptr) << cases[k].what;
        EXPECT_EQ(closed->addr, addrs[k]);
        EXPECT_GT(closed->seq, misbehaving->seq) << "closed before it was reported";
    }

    // The well-behaved peer, connected all along, is still answered...
    ASSERT_TRUE(good.SendMessage("ping", p2p::SerializeNonce(4242)));
    const auto pong = good.WaitFor("pong");
    ASSERT_TRUE(pong);
    EXPECT_EQ(*pong, Bytes(p2p::SerializeNonce(4242)));
    const Event* good_peer = FindConnection(watcher.net, good.addr());
    ASSERT_NE(good_peer, nullptr);
    EXPECT_EQ(FindByPeer(watcher.net, EventType::NetMisbehavingConnection, good_peer->peer_id),
              nullptr);
    // ...and so is a new one.
    const ToolRun run = RunWhilePolling(
        watcher, {LOADGEN, "--connect", node.endpoint(), "ping", "--count", "1000"});
    EXPECT_EQ(run.exit_code, 0) << Summary(run);
}

TEST(P2PEndToEndTest, APeerThatDoesNotReadItsPongsIsHeldBackWhileOthersAreServed)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    RawPeer flooder{node.port()};
    ASSERT_TRUE(flooder.Handshake());
    // 64 MB of pings whose pongs nobody reads for a while: far more than the kernel's socket
    // buffers (a few MB each way here) and the node's send queue hold, so the node must
    // stop reading this peer.
    constexpr uint64_t N = 2'000'000;
    std::atomic<bool> sent_all{false};
    std::thread writer{[&] {
        std::vector<uint8_t> batch;
        for (uint64_t nonce = 0; nonce < N;) {
            batch.clear();
            for (int k = 0; k < 4096 && nonce < N; ++k, ++nonce) {
                p2p::AppendMessage(batch, p2p::REGTEST_MAGIC, "ping", p2p::SerializeNonce(nonce));
            }
            if (!flooder.Send(batch)) return;
        }
        sent_all = true;
    }};
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(sent_all) << "the node took every ping without its pongs being read";

    RawPeer other{node.port()};
    ASSERT_TRUE(other.Handshake());
    ASSERT_TRUE(other.SendMessage("ping", p2p::SerializeNonce(7)));
    const auto pong = other.WaitFor("pong");
    ASSERT_TRUE(pong) << "a second peer was not answered while the first was held back";
    EXPECT_EQ(*pong, Bytes(p2p::SerializeNonce(7)));

    // Reading resumes the flood: every pong arrives, in order.
    uint64_t received = 0;
    for (; received < N; ++received) {
        const auto next = flooder.WaitFor("pong");
        if (!next || *next != Bytes(p2p::SerializeNonce(received))) break;
    }
    writer.join();
    EXPECT_TRUE(sent_all);
    EXPECT_EQ(received, N);
}

TEST(P2PEndToEndTest, LoadgenPacesPingsWithRateAndExitsThreeWhenPongsNeverCome)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    const auto start = Clock::now();
    const ToolRun paced = RunMerged(
        LOADGEN, {"--connect", node.endpoint(), "ping", "--count", "3000", "--rate", "20000"});
    const auto elapsed = Clock::now() - start;
    EXPECT_EQ(paced.exit_code, 0) << Summary(paced);
    EXPECT_GE(elapsed, 140ms) << "3000 pings at 20000/s took less than 0.15 s";

    // A "node" that completes the handshake and then only listens.
    MuteNode mute;
    ASSERT_TRUE(mute.ready());
    const ToolRun unanswered = RunMerged(
        LOADGEN, {"--connect", mute.endpoint(), "--timeout", "1", "ping", "--count", "100"});
    EXPECT_EQ(unanswered.exit_code, 3) << Summary(unanswered);
    EXPECT_TRUE(Contains(Join(unanswered.lines), "100 of 100 pongs missing"))
        << Summary(unanswered);
    EXPECT_TRUE(Contains(Join(unanswered.lines), "result mode=ping sent=100 pongs=0"))
        << Summary(unanswered);
}

TEST(P2PEndToEndTest, LoadgenPacedRunReportsTheRateItWasGivenNotMore)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    // 5 pings at 10 per second: each has 0.1 s, so the run takes 0.5 s at 10 pings per second.
    const ToolRun run =
        RunMerged(LOADGEN, {"--connect", node.endpoint(), "ping", "--count", "5", "--rate", "10"});
    ASSERT_EQ(run.exit_code, 0) << Summary(run);
    double send_seconds = -1, seconds = -1, rate = -1;
    for (const std::string& line : run.lines) {
        std::sscanf(line.c_str(),
                    "result mode=ping sent=5 pongs=5 bad_nonces=0 send_seconds=%lf seconds=%lf "
                    "rate=%lf",
                    &send_seconds, &seconds, &rate);
    }
    ASSERT_GE(rate, 0) << Summary(run);
    EXPECT_LE(send_seconds, seconds) << Summary(run);
    EXPECT_GE(seconds, 0.5) << Summary(run);
    EXPECT_LE(rate, 10) << Summary(run);
    EXPECT_GE(rate, 5) << Summary(run);
}

//! Runs loadgen with `args` until the node has received `messages` messages from it (the
//! handshake's two included), sends it SIGINT and returns its exit code with the lines it
//! printed after "connected to". The watcher drains the node's rings meanwhile.
std::pair<int, std::vector<std::string>>
InterruptLoadgen(Watcher& watcher, const std::vector<std::string>& args, size_t messages)
{
    std::vector<std::string> argv{LOADGEN};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess load{argv};
    const std::string connected = load.ReadLine();
    if (!Contains(connected, "connected to")) return {-2, {connected}};
    const size_t before = watcher.Count(EventType::NetInboundMessage);
    if (!watcher.PollUntil(
            [&] { return watcher.Count(EventType::NetInboundMessage) - before >= messages; })) {
        return {-3, {"the node did not receive " + std::to_string(messages) + " messages"}};
    }
    load.Kill(SIGINT);
    if (!watcher.PollUntil([&] { return !load.Running(); })) return {-4, {"loadgen did not stop"}};
    std::vector<std::string> lines;
    for (std::string line = load.ReadLine(); !line.empty(); line = load.ReadLine())
        lines.push_back(line);
    return {load.Wait(), lines};
}

TEST(P2PEndToEndTest, LoadgenStoppedByASignalReportsWhatItSentAndExitsFour)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");
    // Paced so that it would run for a day: only the signal ends it, after some pings.
    const auto [code, lines] = InterruptLoadgen(
        watcher, {"--connect", node.endpoint(), "ping", "--count", "100000000", "--rate", "1000"},
        2 + 20);
    EXPECT_EQ(code, 4) << Join(lines);
    unsigned long long sent = 0, pongs = 0;
    bool result = false;
    for (const std::string& line : lines) {
        if (std::sscanf(line.c_str(), "result mode=ping sent=%llu pongs=%llu", &sent, &pongs) ==
            2) {
            result = Contains(line, " stopped=1");
        }
    }
    EXPECT_TRUE(result) << Join(lines);
    EXPECT_GE(sent, 20u);
    EXPECT_LT(sent, 100000000u);
    EXPECT_EQ(pongs, sent) << "every ping sent before the signal is answered";
    EXPECT_TRUE(Contains(Join(lines), "of 100000000 (stopped by a signal) ping")) << Join(lines);

    // Transactions as fast as the socket takes them: the barrier ping still follows them.
    const auto [txs_code, txs_lines] = InterruptLoadgen(
        watcher, {"--connect", node.endpoint(), "txs", "--count", "1000000000"}, 2 + 100);
    EXPECT_EQ(txs_code, 4) << Join(txs_lines);
    EXPECT_TRUE(Contains(Join(txs_lines), "(stopped by a signal) tx")) << Join(txs_lines);
    EXPECT_TRUE(Contains(Join(txs_lines), " pongs=1 ")) << Join(txs_lines);
    EXPECT_TRUE(Contains(Join(txs_lines), " stopped=1")) << Join(txs_lines);
}

//! Runs `loadgen ping --count 100 --timeout SECONDS` against `mute`, then `signal(load)` once
//! all 100 pings (32 bytes each, after the handshake) are out, so that no sending is left to
//! stop; returns loadgen's exit code (-1 if it did not end within 20 s, -2 on a failed start).
int SignalWaitingLoadgen(const std::string& seconds, const std::function<void(Subprocess&)>& signal)
{
    MuteNode mute;
    if (!mute.ready()) return -2;
    Subprocess load{
        {LOADGEN, "--connect", mute.endpoint(), "--timeout", seconds, "ping", "--count", "100"}};
    if (!Contains(load.ReadLine(), "connected to")) return -2;
    if (!mute.WaitReceived(100 * (p2p::HEADER_SIZE + 8))) return -2;
    signal(load);
    return load.Wait(20000);
}

TEST(P2PEndToEndTest, ASecondStopSignalKillsOnlyASecondOrMoreAfterTheFirst)
{
    // Against a node that never answers, loadgen's clean end (waiting for the pongs of what it
    // sent) lasts until its --timeout: long enough to tell a kill from a clean end.
    // Two at once, as timeout(1) sends them: the second does not kill, it ends by its timeout.
    EXPECT_EQ(SignalWaitingLoadgen("2",
                                   [](Subprocess& load) {
                                       load.Kill(SIGINT);
                                       load.Kill(SIGINT);
                                   }),
              3);
    // The rule under test is a time: a second signal 1.1 s after the first kills at once.
    bool running_after_first = false;
    EXPECT_EQ(SignalWaitingLoadgen("600",
                                   [&](Subprocess& load) {
                                       load.Kill(SIGINT);
                                       std::this_thread::sleep_for(1100ms);
                                       running_after_first = load.Running();
                                       load.Kill(SIGINT);
                                   }),
              128 + SIGINT);
    EXPECT_TRUE(running_after_first) << "the first signal alone ended it";
}

TEST(P2PEndToEndTest, LoadgenFailsWhenItsResultCannotBeWritten)
{
    TestNode node;
    ASSERT_TRUE(node.ready());
    const ToolRun run =
        RunMerged(LOADGEN, {"--connect", node.endpoint(), "ping", "--count", "10"}, "/dev/full");
    EXPECT_EQ(run.exit_code, 2) << Summary(run);
    EXPECT_TRUE(Contains(Join(run.lines), "tracering-loadgen: cannot write the output to stdout"))
        << Summary(run);
    const ToolRun help = RunMerged(TESTNODE, {"--help"}, "/dev/full");
    EXPECT_EQ(help.exit_code, 2) << Summary(help);
    EXPECT_TRUE(Contains(Join(help.lines), "tracering-testnode: cannot write the output to stdout"))
        << Summary(help);
}

// --- (e) shutdown -----------------------------------------------------------------------

TEST(P2PEndToEndTest, SigtermSigintAndSighupRemoveTheSegmentAndSocketAndExitZero)
{
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        TestNode node;
        ASSERT_TRUE(node.ready());
        const std::string segment = "/dev/shm/tracering." + node.name();
        ASSERT_TRUE(PathExists(segment));
        EXPECT_FALSE(PathExists(segment + ".cursors")) << "cursor memory has no name";
        ASSERT_TRUE(PathExists(node.socket()));
        // Shut down busy: a consumer attached and a peer connected.
        Watcher watcher{node.socket()};
        ASSERT_EQ(watcher.error(), "");
        RawPeer peer{node.port()};
        ASSERT_TRUE(peer.Handshake());

        node.process().Kill(sig);
        EXPECT_EQ(node.process().Wait(10000), 0) << "signal " << sig;
        EXPECT_FALSE(PathExists(segment)) << segment;
        EXPECT_FALSE(PathExists(node.socket()));
        EXPECT_TRUE(peer.WaitForClose());
    }
}

// --- (f) bad command lines --------------------------------------------------------------

TEST(P2PEndToEndTest, TestnodeRefusesBadFlagsWithAClearMessage)
{
    struct Case {
        std::vector<std::string> args;
        const char* says;
    };
    const std::string sock = "/tmp/" + test::UniqueName("flags") + ".sock";
    const std::vector<Case> cases{
        {{}, "--listen IP:PORT is required"},
        {{"--listen", "127.0.0.1:0"}, "--control PATH is required"},
        {{"--listen", "localhost:18444", "--control", sock}, "is not an IPv4 address"},
        {{"--listen", "127.0.0.1:70000", "--control", sock}, "is more than 65535"},
        {{"--listen", "127.0.0.1:0", "--control", sock, "--net-ring-mib", "3"},
         "not a power of two"},
        {{"--listen", "127.0.0.1:0", "--control", sock, "--name", "a/b"}, "--name"},
        {{"--listen", "127.0.0.1:0", "--control", sock, "--verbose", "1"},
         "unknown option --verbose"},
        {{"--listen"}, "--listen needs a value"},
        {{"--listen", "127.0.0.1:0", "--control", sock, "--max-peers", "0"},
         "--max-peers must be at least 1"},
        {{"--listen", "127.0.0.1:0", "--control", sock, "--max-peers", "many"},
         "--max-peers needs a whole number, not 'many'"},
        {{"--listen", "127.0.0.1:0", "--control", sock, "--handshake-timeout", "0"},
         "--handshake-timeout must be at least 1"},
        {{"--listen", "127.0.0.1:0", "--control", sock, "--handshake-timeout", "90000"},
         "--handshake-timeout must be at most 86400, not 90000"},
        {{"--listen", "127.0.0.1:0", "--control", "/tmp/" + std::string(120, 'x')},
         "--control is 125 bytes long; a unix socket path may have at most 107"},
    };
    for (const Case& c : cases) {
        const ToolRun run = RunMerged(TESTNODE, c.args);
        EXPECT_EQ(run.exit_code, 1) << Summary(run);
        EXPECT_TRUE(Contains(Join(run.lines), c.says))
            << "wanted '" << c.says << "', " << Summary(run);
        EXPECT_TRUE(Contains(Join(run.lines), "Run 'tracering-testnode --help'")) << Summary(run);
        EXPECT_FALSE(PathExists(sock));
    }
    const ToolRun help = RunMerged(TESTNODE, {"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_TRUE(Contains(Join(help.lines), "Exit codes")) << Summary(help);
    for (const char* part : {"--max-peers N", "--handshake-timeout S", "capacity / 8", "below 32",
                             "too_big", "0440 and the socket 0660"}) {
        EXPECT_TRUE(Contains(Join(help.lines), part)) << part << ": " << Summary(help);
    }

    // A port already taken: exit 2, and nothing left behind.
    TestNode first;
    ASSERT_TRUE(first.ready());
    const std::string name = test::UniqueName("taken");
    const ToolRun taken =
        RunMerged(TESTNODE, {"--listen", first.endpoint(), "--control", sock, "--name", name});
    EXPECT_EQ(taken.exit_code, 2) << Summary(taken);
    EXPECT_TRUE(Contains(Join(taken.lines), "cannot listen on " + first.endpoint()))
        << Summary(taken);
    EXPECT_FALSE(PathExists("/dev/shm/tracering." + name));
    EXPECT_FALSE(PathExists(sock));
}

TEST(P2PEndToEndTest, LoadgenRefusesBadFlagsAndReportsARefusedConnection)
{
    // A port with a bound socket that does not listen: connecting to it is refused.
    const int closed = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(closed, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    socklen_t length = sizeof(sa);
    ASSERT_EQ(::getsockname(closed, reinterpret_cast<sockaddr*>(&sa), &length), 0);
    const std::string nobody = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));

    struct Case {
        std::vector<std::string> args;
        int exit_code;
        const char* says;
    };
    const std::vector<Case> cases{
        {{"ping", "--count", "1"}, 1, "--connect IP:PORT is required"},
        {{"--connect", nobody}, 1, "a mode is required"},
        {{"--connect", nobody, "flood", "--count", "1"}, 1, "unknown mode 'flood'"},
        {{"--connect", nobody, "ping"}, 1, "ping needs --count N"},
        {{"--connect", nobody, "ping", "--count", "ten"},
         1,
         "--count needs a whole number, not 'ten'"},
        {{"--connect", nobody, "ping", "--count", "1", "--rate", "-5"}, 1, "must be positive"},
        {{"--connect", nobody, "ping", "--count", "1", "--size", "1000"}, 1, "for blocks only"},
        {{"--connect", nobody, "blocks", "--count", "1", "--size", "5000000"},
         1,
         "--size must be at most 4000000, not 5000000"},
        {{"--connect", nobody, "blocks", "--count", "1", "--size", "100"}, 1, "at least 180 bytes"},
        {{"--connect", nobody, "blocks", "--count", "1", "--file", "/nonexistent/block.raw"},
         1,
         "cannot read block file /nonexistent/block.raw"},
        {{"--connect", "127.0.0.1", "ping", "--count", "1"}, 1, "has no port"},
        {{"--connect", nobody, "ping", "--count", "1"}, 2, "connection refused"},
    };
    for (const Case& c : cases) {
        const ToolRun run = RunMerged(LOADGEN, c.args);
        EXPECT_EQ(run.exit_code, c.exit_code) << Summary(run);
        EXPECT_TRUE(Contains(Join(run.lines), c.says))
            << "wanted '" << c.says << "', " << Summary(run);
    }
    const ToolRun help = RunMerged(LOADGEN, {"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_TRUE(Contains(Join(help.lines), "Exit codes")) << Summary(help);
    ::close(closed);
}

TEST(P2PEndToEndTest, LoadgenRefusesEndlessBlockFilesAndUnboundedNumbers)
{
    struct Case {
        std::vector<std::string> args;
        const char* says;
    };
    const std::string node = "127.0.0.1:1"; // never reached: every case is a usage error
    const std::vector<Case> cases{
        {{"--timeout", "inf"}, "'inf' is more than 86400 seconds"},
        {{"--timeout", "1e300"}, "'1e300' is more than 86400 seconds"},
        {{"--timeout", "86401"}, "'86401' is more than 86400 seconds"},
        {{"--rate", "inf"}, "'inf' is more than 1000000000 pings per second"},
        {{"--rate", "1e300"}, "'1e300' is more than 1000000000 pings per second"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args{"--connect", node, "ping", "--count", "1"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        const ToolRun run = RunMerged(LOADGEN, args);
        EXPECT_EQ(run.exit_code, 1) << Summary(run);
        EXPECT_TRUE(Contains(Join(run.lines), c.says))
            << "wanted '" << c.says << "', " << Summary(run);
    }

    // One byte more than a message may carry, in a regular file...
    const std::string big = "/tmp/" + test::UniqueName("big-block") + ".raw";
    {
        std::ofstream out{big, std::ios::binary};
        const std::vector<char> zeros(p2p::MAX_PROTOCOL_MESSAGE_LENGTH + 1);
        out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    }
    const ToolRun too_big =
        RunMerged(LOADGEN, {"--connect", node, "blocks", "--count", "1", "--file", big});
    ::unlink(big.c_str());
    EXPECT_EQ(too_big.exit_code, 1) << Summary(too_big);
    EXPECT_TRUE(Contains(Join(too_big.lines), "holds more than 4000000 bytes")) << Summary(too_big);

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    // ...and in a file that never ends. Under a 512 MiB address-space limit, reading all of
    // it before looking at its size would fail with bad_alloc instead of this usage error.
    // (The sanitizers' runtimes reserve far more address space: tested in normal builds.)
    const ToolRun endless =
        RunMerged("/bin/sh", {"-c", "ulimit -v 524288; exec \"$0\" \"$@\"", LOADGEN, "--connect",
                              node, "blocks", "--count", "1", "--file", "/dev/zero"});
    EXPECT_EQ(endless.exit_code, 1) << Summary(endless);
    EXPECT_TRUE(Contains(Join(endless.lines), "block file /dev/zero holds more than 4000000 bytes"))
        << Summary(endless);
#endif
}

// --- (g) limits: descriptors, peers, handshake time -------------------------------------

//! CPU time (user + system) a process has used so far, from /proc/PID/stat.
std::chrono::duration<double> CpuTime(pid_t pid)
{
    std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
    const std::string stat{std::istreambuf_iterator<char>{in}, {}};
    // After "pid (comm) ": state is field 3, utime 14 and stime 15, in clock ticks.
    std::istringstream fields{stat.substr(stat.rfind(')') + 2)};
    std::vector<std::string> field{std::istream_iterator<std::string>{fields}, {}};
    if (field.size() < 13) return std::chrono::duration<double>{-1};
    const double ticks = std::stod(field[11]) + std::stod(field[12]);
    return std::chrono::duration<double>{ticks / static_cast<double>(::sysconf(_SC_CLK_TCK))};
}

TEST(P2PEndToEndTest, RunningOutOfDescriptorsPausesAcceptingInsteadOfSpinning)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizers' runtimes need descriptors themselves: tested in normal builds.
    GTEST_SKIP() << "running out of descriptors is tested without sanitizers";
#endif
    constexpr int LIMIT = 64;
    TestNode node{{}, "ulimit -n " + std::to_string(LIMIT)};
    ASSERT_TRUE(node.ready());
    // More connections than the node has descriptors: the kernel completes them all (the
    // backlog holds thousands), the node accepts until it has none left.
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (int k = 0; k < LIMIT + 16; ++k) {
        peers.push_back(std::make_unique<RawPeer>(node.port()));
        ASSERT_TRUE(peers.back()->connected()) << k;
    }
    // The node says so once, on stderr (here merged into the stdout we read).
    std::string said;
    while (!Contains(said, "Too many open files")) {
        said = node.process().ReadLine(20000);
        if (said.empty()) break; // EOF or 20 s of silence
    }
    ASSERT_TRUE(Contains(said, "Too many open files")) << "the node never ran out of descriptors";
    EXPECT_TRUE(Contains(said, "cannot accept connections for now")) << said;

    // With connections waiting that it cannot accept, the node must sleep, not spin on its
    // listen socket: a spinning node burns a whole core, a paused one almost nothing.
    const auto cpu_before = CpuTime(node.process().pid());
    const auto wall_before = Clock::now();
    std::this_thread::sleep_for(1s);
    const auto cpu = CpuTime(node.process().pid()) - cpu_before;
    const std::chrono::duration<double> wall = Clock::now() - wall_before;
    EXPECT_LT(cpu.count(), 0.5 * wall.count())
        << "the node used " << cpu.count() << " s of CPU in " << wall.count() << " s";

    // Once the peers leave, the node accepts (and closes) the ones still waiting, and then
    // serves a new peer.
    peers.clear();
    const ToolRun run = RunMerged(LOADGEN, {"--connect", node.endpoint(), "ping", "--count", "10"});
    EXPECT_EQ(run.exit_code, 0) << Summary(run);

    const ToolRun stopped = StopNode(node);
    EXPECT_EQ(stopped.exit_code, 0) << Summary(stopped);
    EXPECT_TRUE(Contains(Join(stopped.lines), "accepting connections again")) << Summary(stopped);
}

TEST(P2PEndToEndTest, ConnectionsBeyondMaxPeersAreClosedAtOnceAndCounted)
{
    TestNode node{{"--max-peers", "2"}, ""};
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");
    auto first = std::make_unique<RawPeer>(node.port());
    RawPeer second{node.port()};
    ASSERT_TRUE(first->Handshake());
    ASSERT_TRUE(second.Handshake());

    // A third peer: its connection is accepted, then closed before it becomes a peer.
    RawPeer third{node.port()};
    ASSERT_TRUE(third.connected());
    EXPECT_TRUE(third.WaitForClose()) << "the node kept a peer beyond --max-peers";
    ASSERT_TRUE(
        watcher.PollUntil([&] { return watcher.Count(EventType::NetInboundConnection) >= 2; }));
    EXPECT_EQ(FindConnection(watcher.net, third.addr()), nullptr)
        << "a refused connection fired net:inbound_connection";
    ASSERT_TRUE(second.SendMessage("ping", p2p::SerializeNonce(2)));
    EXPECT_TRUE(second.WaitFor("pong")) << "a peer within the limit is no longer served";

    // A peer leaves: its slot is free for the next one.
    first.reset();
    ASSERT_TRUE(
        watcher.PollUntil([&] { return watcher.Count(EventType::NetClosedConnection) == 1; }));
    RawPeer fourth{node.port()};
    ASSERT_TRUE(fourth.Handshake()) << "a free slot was not given to a new peer";
    ASSERT_TRUE(
        watcher.PollUntil([&] { return watcher.Count(EventType::NetInboundConnection) == 3; }));
    EXPECT_NE(FindConnection(watcher.net, fourth.addr()), nullptr);
    EXPECT_EQ(watcher.Count(EventType::NetMisbehavingConnection), 0u);

    const ToolRun stopped = StopNode(node);
    EXPECT_EQ(stopped.exit_code, 0) << Summary(stopped);
    const std::string said = Join(stopped.lines);
    EXPECT_TRUE(Contains(said, "2 peers connected (--max-peers)")) << said;
    EXPECT_TRUE(Contains(said, "3 connections,")) << said;
    EXPECT_TRUE(Contains(said, "1 refused (--max-peers)")) << said;
}

TEST(P2PEndToEndTest, PeersThatDoNotCompleteTheHandshakeInTimeAreDisconnected)
{
    TestNode node{{"--handshake-timeout", "1"}, ""};
    ASSERT_TRUE(node.ready());
    Watcher watcher{node.socket()};
    ASSERT_EQ(watcher.error(), "");
    // Connected first, so its deadline comes first: it has passed once the others are gone.
    RawPeer good{node.port()};
    ASSERT_TRUE(good.Handshake());

    const auto start = Clock::now();
    RawPeer silent{node.port()}; // sends nothing
    RawPeer no_verack{node.port()};
    ASSERT_TRUE(silent.connected());
    p2p::VersionMessage version;
    version.timestamp = static_cast<int64_t>(std::time(nullptr));
    ASSERT_TRUE(no_verack.SendMessage("version", p2p::SerializeVersion(version)));
    ASSERT_TRUE(no_verack.WaitFor("verack")); // the node's; ours never comes
    // WaitForClose() gives up after 5 s; a loaded machine gets several of those.
    const auto closed = [](RawPeer& peer) {
        for (int attempt = 0; attempt < 6; ++attempt) {
            if (peer.WaitForClose()) return true;
        }
        return false;
    };
    EXPECT_TRUE(closed(silent)) << "a peer that sent nothing was kept";
    EXPECT_TRUE(closed(no_verack)) << "a peer that sent no verack was kept";
    // Never before the timeout: the node's deadline starts after our connect().
    EXPECT_GE(Clock::now() - start, 1s);

    ASSERT_TRUE(good.SendMessage("ping", p2p::SerializeNonce(9)));
    const auto pong = good.WaitFor("pong");
    ASSERT_TRUE(pong) << "a peer that completed the handshake was disconnected too";
    EXPECT_EQ(*pong, Bytes(p2p::SerializeNonce(9)));

    ASSERT_TRUE(
        watcher.PollUntil([&] { return watcher.Count(EventType::NetClosedConnection) == 2; }));
    for (const RawPeer* peer : {&silent, &no_verack}) {
        const Event* connected = FindConnection(watcher.net, peer->addr());
        ASSERT_NE(connected, nullptr);
        EXPECT_NE(FindByPeer(watcher.net, EventType::NetClosedConnection, connected->peer_id),
                  nullptr);
    }
    // As bitcoind: a timeout is logged, not reported as misbehaving.
    EXPECT_EQ(watcher.Count(EventType::NetMisbehavingConnection), 0u);

    const ToolRun stopped = StopNode(node);
    EXPECT_EQ(stopped.exit_code, 0) << Summary(stopped);
    const std::string said = Join(stopped.lines);
    EXPECT_TRUE(Contains(said, "version handshake timeout after 1 s; disconnecting")) << said;
    EXPECT_TRUE(Contains(said, "2 handshake timeouts")) << said;
}

} // namespace
} // namespace tracering
