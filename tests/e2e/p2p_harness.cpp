// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p_harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>
#include <unistd.h>

#include "p2p/protocol.h"
#include "p2p/serialize.h"
#include "paths.h"
#include "test_util.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

namespace tracering::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string TESTNODE = test::paths::TESTNODE;

p2p::Hash256 CopyHash(const tracering::Hash256* h)
{
    p2p::Hash256 out{};
    if (h) {
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = h->bytes()->Get(static_cast<uint32_t>(i));
    }
    return out;
}

template <typename Table>
void CopyMessage(const Table* m, Event& e)
{
    e.peer_id = m->peer_id();
    e.addr = m->addr() ? m->addr()->str() : "";
    e.conn_type = m->conn_type();
    e.msg_type = m->msg_type() ? m->msg_type()->str() : "";
    e.size = m->size();
    if (m->payload()) e.payload.assign(m->payload()->begin(), m->payload()->end());
}

template <typename Table>
void CopyConnection(const Table* c, Event& e)
{
    e.peer_id = c->peer_id();
    e.addr = c->addr() ? c->addr()->str() : "";
    e.conn_type = c->conn_type();
    e.network = static_cast<uint32_t>(c->network());
}

} // namespace

Event Decode(const EventView& view)
{
    Event e;
    e.type = view.type();
    e.seq = view.seq();
    e.truncated = view.truncated();
    if (auto* m = view.as<net::InboundMessage>()) {
        CopyMessage(m, e);
    } else if (auto* o = view.as<net::OutboundMessage>()) {
        CopyMessage(o, e);
    } else if (auto* c = view.as<net::InboundConnection>()) {
        CopyConnection(c, e);
        e.value = c->existing_connections();
    } else if (auto* d = view.as<net::ClosedConnection>()) {
        CopyConnection(d, e);
        e.value = static_cast<uint64_t>(d->time_established());
    } else if (auto* b = view.as<net::MisbehavingConnection>()) {
        e.peer_id = b->peer_id();
        e.message = b->message() ? b->message()->str() : "";
    } else if (auto* v = view.as<validation::BlockConnected>()) {
        e.hash = CopyHash(v->block_hash());
        e.height = v->height();
        e.transactions = v->transactions();
        e.inputs = v->inputs();
        e.sigops = v->sigops();
        e.duration_ns = v->duration_ns();
    } else if (auto* a = view.as<mempool::Added>()) {
        e.hash = CopyHash(a->txid());
        e.vsize = a->vsize();
        e.fee = a->fee();
    } else {
        ADD_FAILURE() << "undecodable event of type " << view.raw_type();
    }
    return e;
}

bool PathExists(const std::string& path)
{
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

std::string Join(const std::vector<std::string>& lines)
{
    std::string out;
    for (const std::string& line : lines)
        out += line + "\n";
    return out;
}

TestNode::TestNode(std::vector<std::string> extra, std::optional<std::string> shell)
    : m_name{UniqueName("p2p")}, m_socket{"/tmp/" + m_name + ".sock"}, m_process{Argv(extra, shell)}
{
    const std::string line = m_process.ReadLine(10000);
    if (line.rfind("ready ", 0) == 0) m_port = static_cast<uint16_t>(std::stoi(line.substr(6)));
}

TestNode::~TestNode()
{
    m_process.Kill(SIGTERM);
    if (m_process.Wait(10000) != 0) {
        // It did not shut down cleanly (or a test killed it): clean up after it.
        m_process.Kill(SIGKILL);
        m_process.Wait(10000);
        RemoveProducerLeftovers(m_name, m_socket);
    }
}

std::vector<std::string> TestNode::Argv(const std::vector<std::string>& extra,
                                        const std::optional<std::string>& shell) const
{
    std::vector<std::string> argv{TESTNODE, "--listen", "127.0.0.1:0", "--control",
                                  m_socket, "--name",   m_name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (shell) argv.insert(argv.begin(), {"/bin/sh", "-c", *shell + "\nexec \"$0\" \"$@\" 2>&1"});
    return argv;
}

Watcher::Watcher(const std::string& socket)
{
    auto client = ControlClient::Connect(socket);
    if (!client) {
        m_error = client.error().message();
        return;
    }
    m_client = std::move(client.value());
    auto session = m_client->Attach({
        {.ring = "net", .lossless = true, .lossless_wait_ms = 10000},
        {.ring = "validation", .lossless = true, .lossless_wait_ms = 10000},
        {.ring = "mempool", .lossless = true, .lossless_wait_ms = 10000},
    });
    if (!session) {
        m_error = session.error().message();
        return;
    }
    m_session = std::move(session.value());
}

size_t Watcher::Poll()
{
    size_t n = 0;
    for (const char* ring : {"net", "validation", "mempool"}) {
        RingReader* reader = m_session->reader(ring);
        std::vector<Event>& out = std::string_view{ring} == "net"          ? net
                                  : std::string_view{ring} == "validation" ? validation
                                                                           : mempool;
        auto polled = reader->Poll([&](const EventView& view) {
            lost += view.lost_before();
            out.push_back(Decode(view));
        });
        if (!polled) {
            ADD_FAILURE() << "polling " << ring << ": " << polled.error().message();
            continue;
        }
        n += polled.value();
    }
    return n;
}

bool Watcher::PollUntil(const std::function<bool()>& done, Clock::duration timeout)
{
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
        if (Clock::now() > deadline) return false;
        if (Poll() == 0) std::this_thread::sleep_for(1ms);
    }
    return true;
}

uint64_t Watcher::Dropped()
{
    auto stats = m_session->Stats();
    if (!stats) {
        ADD_FAILURE() << stats.error().message();
        return ~uint64_t{0};
    }
    uint64_t dropped = 0;
    for (const RingInfo& r : stats.value()) {
        dropped += r.dropped_full + r.dropped_too_big + r.dropped_reader_reset + r.dropped_timeout;
    }
    return dropped;
}

size_t Watcher::Count(EventType type) const
{
    size_t n = 0;
    for (const Event& e : net)
        n += e.type == type ? 1 : 0;
    return n;
}

ToolRun Finish(Subprocess& process, int exit_code)
{
    ToolRun run;
    for (std::string line = process.ReadLine(2000); !line.empty(); line = process.ReadLine(2000)) {
        run.lines.push_back(line);
    }
    run.exit_code = exit_code != -1 ? exit_code : process.Wait(10000);
    return run;
}

ToolRun StopNode(TestNode& node)
{
    node.process().Kill(SIGTERM);
    return Finish(node.process(), -1);
}

ToolRun RunWhilePolling(Watcher& watcher, const std::vector<std::string>& argv,
                        Clock::duration timeout)
{
    Subprocess process{argv};
    if (!process.started()) return {};
    const auto deadline = Clock::now() + timeout;
    int exit_code = -1;
    while (exit_code == -1 && Clock::now() < deadline) {
        if (watcher.Poll() == 0) std::this_thread::sleep_for(1ms);
        exit_code = process.Wait(0);
    }
    return Finish(process, exit_code);
}

ToolRun RunMerged(const std::string& tool, const std::vector<std::string>& args,
                  const std::string& stdout_file)
{
    std::string command = "'" + tool + "'";
    for (const std::string& arg : args)
        command += " '" + arg + "'";
    command += " 2>&1";
    if (!stdout_file.empty()) command += " >'" + stdout_file + "'";
    ToolRun run;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return run;
    std::string output;
    char chunk[4096];
    for (size_t n; (n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0;)
        output.append(chunk, n);
    const int status = ::pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    for (size_t begin = 0; begin < output.size();) {
        const size_t end = std::min(output.find('\n', begin), output.size());
        run.lines.push_back(output.substr(begin, end - begin));
        begin = end + 1;
    }
    return run;
}

std::string Summary(const ToolRun& run)
{
    return "exit " + std::to_string(run.exit_code) + ", output:\n" + Join(run.lines);
}

RawPeer::RawPeer(uint16_t port)
{
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(m_fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return;
    socklen_t length = sizeof(sa);
    ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&sa), &length);
    m_addr = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
    timeval tv{5, 0};
    ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    m_connected = true;
}

RawPeer::~RawPeer() { ::close(m_fd); }

bool RawPeer::Send(std::span<const uint8_t> bytes)
{
    return ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
}

bool RawPeer::SendMessage(std::string_view command, std::span<const uint8_t> payload)
{
    std::vector<uint8_t> message;
    p2p::AppendMessage(message, p2p::REGTEST_MAGIC, command, payload);
    return Send(message);
}

std::optional<std::vector<uint8_t>> RawPeer::WaitFor(std::string_view command)
{
    for (;;) {
        while (m_buffer.size() - m_read >= p2p::HEADER_SIZE) {
            const std::span<const uint8_t> buffered{m_buffer.data() + m_read,
                                                    m_buffer.size() - m_read};
            auto header = p2p::ParseHeader(buffered, p2p::REGTEST_MAGIC);
            if (!header) return std::nullopt;
            const size_t total = p2p::HEADER_SIZE + header.value().length;
            if (buffered.size() < total) break;
            m_read += total;
            if (header.value().Command() == command) {
                return std::vector<uint8_t>{buffered.begin() + p2p::HEADER_SIZE,
                                            buffered.begin() + static_cast<ptrdiff_t>(total)};
            }
        }
        m_buffer.erase(m_buffer.begin(), m_buffer.begin() + static_cast<ptrdiff_t>(m_read));
        m_read = 0;
        uint8_t chunk[65536];
        const ssize_t n = ::recv(m_fd, chunk, sizeof(chunk), 0);
        if (n <= 0) return std::nullopt;
        m_buffer.insert(m_buffer.end(), chunk, chunk + n);
    }
}

bool RawPeer::Handshake()
{
    p2p::VersionMessage version;
    version.timestamp = static_cast<int64_t>(std::time(nullptr));
    version.user_agent = "/e2e-test/";
    return SendMessage("version", p2p::SerializeVersion(version)) && WaitFor("verack") &&
           SendMessage("verack", {});
}

bool RawPeer::WaitForClose()
{
    for (;;) {
        uint8_t chunk[4096];
        const ssize_t n = ::recv(m_fd, chunk, sizeof(chunk), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
        if (n < 0) return false; // timeout
    }
}

const Event* FindConnection(const std::vector<Event>& events, const std::string& addr)
{
    for (const Event& e : events) {
        if (e.type == EventType::NetInboundConnection && e.addr == addr) return &e;
    }
    return nullptr;
}

const Event* FindByPeer(const std::vector<Event>& events, EventType type, int64_t peer_id)
{
    for (const Event& e : events) {
        if (e.type == type && e.peer_id == peer_id) return &e;
    }
    return nullptr;
}

std::string CheckMessage(const Event& e, EventType type, const char* msg_type, int64_t peer_id,
                         const std::string& addr, std::optional<std::vector<uint8_t>> payload)
{
    const std::string where = "seq " + std::to_string(e.seq) + ": ";
    if (e.type != type) {
        return where + "type " + std::to_string(int(e.type)) + " instead of " +
               std::to_string(int(type)) + " (" + msg_type + ")";
    }
    if (e.msg_type != msg_type) return where + "msg_type " + e.msg_type + " instead of " + msg_type;
    if (e.peer_id != peer_id) return where + "peer " + std::to_string(e.peer_id);
    if (e.addr != addr) return where + "addr " + e.addr + " instead of " + addr;
    if (e.conn_type != net::ConnectionType::Inbound) return where + "conn_type not inbound";
    if (e.truncated || e.size != e.payload.size()) return where + "payload cut";
    if (payload && e.payload != *payload) {
        return where + msg_type + " payload " + p2p::Hex(e.payload) + " instead of " +
               p2p::Hex(*payload);
    }
    return "";
}

MuteNode::MuteNode()
{
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_listener < 0) return;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(sa);
    if (::bind(m_listener, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        ::listen(m_listener, 1) != 0 ||
        ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&sa), &length) != 0) {
        return;
    }
    m_port = ntohs(sa.sin_port);
    m_thread = std::thread{[this] {
        // Ends when the peer leaves or the destructor shuts the sockets down.
        const int fd = ::accept(m_listener, nullptr, nullptr);
        if (fd < 0) return;
        m_peer = fd;
        std::vector<uint8_t> hello;
        p2p::VersionMessage version;
        p2p::AppendMessage(hello, p2p::REGTEST_MAGIC, "version", p2p::SerializeVersion(version));
        p2p::AppendMessage(hello, p2p::REGTEST_MAGIC, "verack", {});
        (void)!::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
        uint8_t sink[65536];
        for (ssize_t n; (n = ::recv(fd, sink, sizeof(sink), 0)) > 0;)
            m_received += static_cast<uint64_t>(n);
    }};
}

bool MuteNode::WaitReceived(uint64_t bytes, std::chrono::steady_clock::duration timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (m_received.load() < bytes) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
    return true;
}

MuteNode::~MuteNode()
{
    if (m_listener >= 0) ::shutdown(m_listener, SHUT_RDWR);
    if (const int peer = m_peer.load(); peer >= 0) ::shutdown(peer, SHUT_RDWR);
    if (m_thread.joinable()) m_thread.join();
    if (const int peer = m_peer.load(); peer >= 0) ::close(peer);
    if (m_listener >= 0) ::close(m_listener);
}

} // namespace tracering::test
