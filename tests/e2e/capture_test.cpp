// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! The tools together, as a user runs them: a test node, a load generator sending pings, and
//! ringdump capturing in Bitcoin Core's -capturemessages format. The capture files must hold
//! exactly the messages that crossed the wire.

#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "paths.h"
#include "subprocess.h"

namespace tracering {
namespace {

namespace fs = std::filesystem;

struct CapturedMessage {
    uint64_t time_us{0};
    std::string type;
    std::vector<uint8_t> payload;
};

//! Parses a msgs_recv.dat / msgs_sent.dat file as Bitcoin Core's message-capture parser does.
std::vector<CapturedMessage> ReadCaptureFile(const fs::path& path, std::string& error)
{
    std::ifstream in{path, std::ios::binary};
    std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), {}};
    std::vector<CapturedMessage> out;
    size_t at = 0;
    while (at < data.size()) {
        if (data.size() - at < 24) {
            error = path.string() + ": a record header is cut short at byte " + std::to_string(at);
            return out;
        }
        CapturedMessage m;
        std::memcpy(&m.time_us, &data[at], 8);
        const char* type = reinterpret_cast<const char*>(&data[at + 8]);
        m.type.assign(type, strnlen(type, 12));
        uint32_t length;
        std::memcpy(&length, &data[at + 20], 4);
        at += 24;
        if (data.size() - at < length) {
            error = path.string() + ": a payload is cut short at byte " + std::to_string(at);
            return out;
        }
        m.payload.assign(data.begin() + long(at), data.begin() + long(at + length));
        at += length;
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<uint8_t> Nonce(uint64_t n)
{
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), &n, 8);
    return bytes;
}

//! Waits until `ringdump capture` holds the net ring of the producer at `socket`.
bool WaitUntilCaptureAttached(const std::string& socket)
{
    for (int i = 0; i < 200; ++i) {
        test::Subprocess list{{test::paths::RINGDUMP, "list", "--control", socket}};
        bool attached = false;
        for (std::string line = list.ReadLine(); !line.empty(); line = list.ReadLine()) {
            if (line.rfind("net ", 0) == 0 && line.find(" on ") != std::string::npos) {
                attached = true;
            }
        }
        list.Wait();
        if (attached) return true;
        usleep(50'000);
    }
    return false;
}

//! The value of the JSON member `"name":` in `line` up to the next ',' or '}' (quotes kept).
std::string JsonMember(const std::string& line, const std::string& name)
{
    const std::string key = "\"" + name + "\":";
    const size_t at = line.find(key);
    if (at == std::string::npos) return {};
    const size_t from = at + key.size();
    return line.substr(from, line.find_first_of(",}", from) - from);
}

std::string Hex(const std::vector<uint8_t>& bytes)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

//! The capture folder, control socket and segment name of one test (tracering-PREFIX-PID),
//! removed however the test ends, also when an assertion returns early: declare it before
//! the processes, which are then killed first.
struct CaptureScene {
    explicit CaptureScene(const std::string& prefix)
        : name{prefix + "-" + std::to_string(::getpid())}, dir{fs::temp_directory_path() /
                                                               ("tracering-" + name)},
          socket{(fs::temp_directory_path() / ("tracering-" + name + ".sock")).string()}
    {
        fs::remove_all(dir);
    }
    ~CaptureScene()
    {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
        test::RemoveProducerLeftovers(name, socket);
    }
    const std::string name; //!< the test node's --name (its segment)
    const fs::path dir;
    const std::string socket;
};

TEST(ToolsEndToEndTest, CaptureMessageFilesHoldExactlyThePingsAndPongsSent)
{
    const CaptureScene scene{"capture"};
    const fs::path& dir = scene.dir;
    const std::string& socket = scene.socket;

    test::Subprocess node{{test::paths::TESTNODE, "--listen", "127.0.0.1:0", "--control", socket,
                           "--name", scene.name}};
    const std::string ready = node.ReadLine();
    ASSERT_EQ(ready.rfind("ready ", 0), 0u) << ready;
    const std::string port = ready.substr(6);

    // Lossless: a capture must be complete. Stops by itself once the node exits.
    test::Subprocess capture{{test::paths::RINGDUMP, "capture", "--control", socket, "--out",
                              dir.string(), "--format", "capturemessage", "--ring", "net",
                              "--lossless"}};
    // The load must not start before the capture holds the net ring.
    ASSERT_TRUE(WaitUntilCaptureAttached(socket)) << "ringdump capture did not attach the net ring";

    constexpr uint64_t PINGS = 5000;
    test::Subprocess load{{test::paths::LOADGEN, "--connect", "127.0.0.1:" + port, "ping",
                           "--count", std::to_string(PINGS)}};
    EXPECT_EQ(load.Wait(30'000), 0);
    node.Kill(SIGTERM);
    EXPECT_EQ(node.Wait(10'000), 0);
    EXPECT_EQ(capture.Wait(10'000), 0);

    // One connection, so one peer folder: 127.0.0.1_<port> with ':' replaced by '_'.
    std::vector<fs::path> peers;
    for (const auto& entry : fs::directory_iterator(dir))
        peers.push_back(entry.path());
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_EQ(peers[0].filename().string().rfind("127.0.0.1_", 0), 0u) << peers[0];

    std::string error;
    const auto received = ReadCaptureFile(peers[0] / "msgs_recv.dat", error);
    ASSERT_EQ(error, "");
    const auto sent = ReadCaptureFile(peers[0] / "msgs_sent.dat", error);
    ASSERT_EQ(error, "");

    // Received: version, verack, then ping 0..N-1 with their nonces, in order.
    ASSERT_EQ(received.size(), PINGS + 2);
    EXPECT_EQ(received[0].type, "version");
    EXPECT_EQ(received[1].type, "verack");
    for (uint64_t i = 0; i < PINGS; ++i) {
        ASSERT_EQ(received[2 + i].type, "ping") << i;
        ASSERT_EQ(received[2 + i].payload, Nonce(i)) << i;
    }
    // Sent: the node's handshake, then one pong per ping with the same nonce.
    std::vector<CapturedMessage> pongs;
    for (const auto& m : sent) {
        if (m.type == "pong") pongs.push_back(m);
    }
    ASSERT_EQ(pongs.size(), PINGS);
    for (uint64_t i = 0; i < PINGS; ++i)
        ASSERT_EQ(pongs[i].payload, Nonce(i)) << i;
    EXPECT_EQ(sent.front().type, "version");

    // Timestamps are UNIX microseconds, in order, and close to now.
    const uint64_t now_us = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    for (size_t i = 1; i < received.size(); ++i) {
        ASSERT_LE(received[i - 1].time_us, received[i].time_us);
    }
    EXPECT_LT(now_us - received.front().time_us, 120'000'000u);
}

TEST(ToolsEndToEndTest, CaptureOfARateLimitedPingFloodLosesNothingWithoutLossless)
{
    // A free-running capture (no --lossless: the node never waits for it) of a flood at
    // 100 k pings a second, native and -capturemessages at once, must hold every ping and
    // pong: the capture keeps up with the node, and no event is dropped.
    const CaptureScene scene{"flood"};
    const fs::path& dir = scene.dir;
    const std::string& socket = scene.socket;

    test::Subprocess node{{test::paths::TESTNODE, "--listen", "127.0.0.1:0", "--control", socket,
                           "--name", scene.name}};
    const std::string ready = node.ReadLine();
    ASSERT_EQ(ready.rfind("ready ", 0), 0u) << ready;
    const std::string port = ready.substr(6);
    test::Subprocess capture{{test::paths::RINGDUMP, "capture", "--control", socket, "--out",
                              dir.string(), "--format", "native,capturemessage", "--ring", "net"}};
    ASSERT_TRUE(WaitUntilCaptureAttached(socket)) << "ringdump capture did not attach the net ring";

    constexpr uint64_t PINGS = 200'000;
    test::Subprocess load{{test::paths::LOADGEN, "--connect", "127.0.0.1:" + port, "--timeout",
                           "60", "ping", "--count", std::to_string(PINGS), "--rate", "100000"}};
    ASSERT_EQ(load.Wait(70'000), 0);
    node.Kill(SIGTERM);
    EXPECT_EQ(node.Wait(10'000), 0);
    // 0: the producer exited and every event it wrote was read.
    ASSERT_EQ(capture.Wait(30'000), 0);

    // The native capture: complete (read checks every frame, the seqs and the end frame),
    // no gap, and every ping and pong with its nonce, in order.
    test::Subprocess read{
        {test::paths::RINGDUMP, "read", (dir / "capture.trcap").string(), "--json"}};
    uint64_t pings = 0, pongs = 0, lines = 0;
    for (std::string line = read.ReadLine(); !line.empty(); line = read.ReadLine()) {
        ++lines;
        ASSERT_EQ(line.find("\"lost\":"), std::string::npos) << line;
        const std::string type = JsonMember(line, "msg_type");
        const std::string payload = JsonMember(line, "payload");
        if (type == "\"ping\"" && JsonMember(line, "event") == "\"inbound_message\"") {
            ASSERT_EQ(payload, "\"" + Hex(Nonce(pings)) + "\"") << line;
            ++pings;
        } else if (type == "\"pong\"" && JsonMember(line, "event") == "\"outbound_message\"") {
            ASSERT_EQ(payload, "\"" + Hex(Nonce(pongs)) + "\"") << line;
            ++pongs;
        }
    }
    EXPECT_EQ(read.Wait(30'000), 0) << "ringdump read: the native capture is not complete";
    EXPECT_EQ(pings, PINGS);
    EXPECT_EQ(pongs, PINGS);
    EXPECT_GE(lines, 2 * PINGS);

    // The -capturemessages files: one peer, every ping received and every pong sent.
    std::vector<fs::path> peers;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_directory()) peers.push_back(entry.path());
    }
    ASSERT_EQ(peers.size(), 1u);
    std::string error;
    const auto received = ReadCaptureFile(peers[0] / "msgs_recv.dat", error);
    ASSERT_EQ(error, "");
    const auto sent = ReadCaptureFile(peers[0] / "msgs_sent.dat", error);
    ASSERT_EQ(error, "");
    uint64_t n = 0;
    for (const auto& m : received) {
        if (m.type != "ping") continue;
        ASSERT_EQ(m.payload, Nonce(n)) << n;
        ++n;
    }
    EXPECT_EQ(n, PINGS);
    n = 0;
    for (const auto& m : sent) {
        if (m.type != "pong") continue;
        ASSERT_EQ(m.payload, Nonce(n)) << n;
        ++n;
    }
    EXPECT_EQ(n, PINGS);
}

} // namespace
} // namespace tracering
