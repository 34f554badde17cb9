// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/control.h>
#include <tracering/control/control.capnp.h>
#include <tracering/producer.h>
#include <tracering/schema_hash.h>
#include <tracering/tracepoint.h>

#include <capnp/rpc-twoparty.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <grp.h>
#include <optional>
#include <poll.h>
#include <pwd.h>
#include <thread>
#include <unistd.h>

#include "common/shm.h"
#include "paths.h"
#include "subprocess.h"
#include "test_util.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace tracering {
namespace {

using namespace std::chrono_literals;

std::string SocketPath(const std::string& what)
{
    return "/tmp/" + test::UniqueName(what) + ".sock";
}

using test::Contains;

size_t CountEntries(const char* dir)
{
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir))
        ++n;
    return n;
}

//! Shared-memory objects made by this process (other tests may run concurrently).
size_t CountOwnShm()
{
    const std::string mine = "-" + std::to_string(::getpid()) + "-";
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/dev/shm")) {
        n += e.path().filename().string().find(mine) != std::string::npos;
    }
    return n;
}

//! This process's open descriptors once the control thread has closed what it is closing:
//! the count no longer changes over 50 ms (bounded at 2 s). A baseline, so it may still
//! include a connection the control thread closes late; see FdCountBackTo.
size_t SettledFdCount()
{
    size_t last = CountEntries("/proc/self/fd");
    for (int i = 0; i < 40; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const size_t now = CountEntries("/proc/self/fd");
        if (now == last) return now;
        last = now;
    }
    return last;
}

//! The descriptor count once it is back to `baseline` or below, or after 10 s: the control
//! thread closes a connection's end some time after the client hung up, later still on a
//! loaded machine. A leak never comes back down, so it still shows.
size_t FdCountBackTo(size_t baseline)
{
    size_t now = CountEntries("/proc/self/fd");
    for (int i = 0; i < 1000 && now > baseline; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        now = CountEntries("/proc/self/fd");
    }
    return now;
}

//! A connection to `path` that never says anything, as a process hoarding them would hold.
int SilentConnection(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << std::strerror(errno);
    return fd;
}

//! Waits at most `timeout` for the server to close each of `fds` (connections that never
//! sent anything, so the server never writes to them); returns how many it closed.
size_t WaitClosedByServer(const std::vector<int>& fds, std::chrono::milliseconds timeout)
{
    std::vector<bool> closed(fds.size(), false);
    size_t n = 0;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (n < fds.size()) {
        std::vector<pollfd> open;
        std::vector<size_t> index;
        for (size_t i = 0; i < fds.size(); ++i) {
            if (!closed[i]) {
                open.push_back({fds[i], POLLIN, 0});
                index.push_back(i);
            }
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            end - std::chrono::steady_clock::now());
        const int ready = ::poll(open.data(), open.size(), int(std::max<int64_t>(left.count(), 0)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) break;
        for (size_t k = 0; k < open.size(); ++k) {
            char byte;
            if (open[k].revents != 0 && ::read(open[k].fd, &byte, 1) <= 0) {
                closed[index[k]] = true;
                ++n;
            }
        }
    }
    return n;
}

//! On a thread of its own (one kj event loop per thread, and the test's may be in use):
//! connects to `path`, calls info() once, then waits up to 10 s for the producer to close
//! the connection. Returns how long after the call that was, or nullopt if it stayed open.
std::optional<std::chrono::milliseconds> ClosedAfterOneCall(const std::string& path)
{
    return std::async(
               std::launch::async,
               [&]() -> std::optional<std::chrono::milliseconds> {
                   namespace msg = ::tracering::control::messages;
                   auto io = kj::setupAsyncIo();
                   auto address =
                       io.provider->getNetwork().parseAddress("unix:" + path).wait(io.waitScope);
                   auto stream = address->connect().wait(io.waitScope);
                   capnp::TwoPartyClient client{*stream};
                   auto control = client.bootstrap().castAs<msg::Control>();
                   control.infoRequest().send().wait(io.waitScope);
                   const auto called = std::chrono::steady_clock::now();
                   const bool closed =
                       client.onDisconnect()
                           .then([] { return true; })
                           .exclusiveJoin(
                               io.provider->getTimer().afterDelay(10 * kj::SECONDS).then([] {
                                   return false;
                               }))
                           .wait(io.waitScope);
                   if (!closed) return std::nullopt;
                   return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - called);
               })
        .get();
}

//! How long the control thread may take for what takes it milliseconds: a sanitized build
//! runs it several times slower on a loaded machine.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr auto SLACK = std::chrono::seconds(5);
#else
constexpr auto SLACK = std::chrono::seconds(1);
#endif

class ControlTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        Restart([](ProducerOptions&) {});
    }

    //! Replaces the producer with one made from the test options changed by `adjust`.
    void Restart(const std::function<void(ProducerOptions&)>& adjust)
    {
        m_producer.reset();
        ProducerOptions options = test::SmallProducer("control", 1 << 16, /*global=*/true);
        options.control_socket = SocketPath("control");
        adjust(options);
        auto producer = Producer::Create(options);
        ASSERT_TRUE(producer) << producer.error().message();
        m_producer = std::move(producer.value());
    }

    std::unique_ptr<ControlClient> Connect()
    {
        auto client = ControlClient::Connect(m_producer->ControlSocket());
        EXPECT_TRUE(client) << client.error().message();
        return client ? std::move(client.value()) : nullptr;
    }

    std::unique_ptr<Producer> m_producer;
};

TEST_F(ControlTest, InfoDescribesTheProducerAndTheSocketIsOwnerOnly)
{
    auto client = Connect();
    ASSERT_TRUE(client);
    EXPECT_EQ(client->producer().segment_name, m_producer->Name());
    EXPECT_EQ(client->producer().producer_pid, uint64_t(::getpid()));
    EXPECT_EQ(client->producer().abi_version, ABI_VERSION);
    struct stat st;
    ASSERT_EQ(::stat(m_producer->ControlSocket().c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto rings = client->Rings();
    ASSERT_TRUE(rings) << rings.error().message();
    ASSERT_EQ(rings->size(), SUBSYSTEM_COUNT);
    EXPECT_EQ((*rings)[2].name, "utxocache");
    EXPECT_FALSE((*rings)[2].enabled);
}

TEST_F(ControlTest, AttachTurnsOnOnlyTheRequestedEvents)
{
    auto client = Connect();
    ASSERT_TRUE(client);
    auto session = client->Attach({{.ring = "utxocache", .events = {"flush"}}});
    ASSERT_TRUE(session) << session.error().message();
    EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(utxocache, flush));
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(utxocache, add));
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(mempool, added));
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, inbound_message));
    TRACERING_TRACEPOINT(utxocache, flush, 10, 1, 2, 3, false);
    TRACERING_TRACEPOINT(utxocache, add, nullptr, 0, 0, 0, false);
    RingReader* reader = (*session)->reader("utxocache");
    ASSERT_NE(reader, nullptr);
    std::vector<EventType> seen;
    ASSERT_TRUE(reader->Poll([&](const EventView& ev) { seen.push_back(ev.type()); }));
    EXPECT_EQ(seen, std::vector<EventType>{EventType::UtxocacheFlush});
    auto stats = (*session)->Stats();
    ASSERT_TRUE(stats);
    ASSERT_EQ(stats->size(), 1u);
    EXPECT_EQ((*stats)[0].reader_pid, uint64_t(::getpid()));
    EXPECT_EQ((*stats)[0].seq, 1u);
}

TEST_F(ControlTest, RingsShowTheReadersBacklogAndIdleTime)
{
    auto client = Connect();
    ASSERT_TRUE(client);
    auto session = client->Attach({{.ring = "utxocache"}});
    ASSERT_TRUE(session) << session.error().message();
    for (int i = 0; i < 10; ++i)
        TRACERING_TRACEPOINT(utxocache, flush, 10, 1, 2, 3, false);
    const uint64_t written = m_producer->Stats(Subsystem::Utxocache).write_pos;
    ASSERT_GT(written, 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto before = client->Rings();
    ASSERT_TRUE(before) << before.error().message();
    EXPECT_EQ((*before)[2].unread_bytes, written);
    EXPECT_GE((*before)[2].reader_idle_ns, 20'000'000u); // nothing read since the attach
    EXPECT_EQ((*before)[1].unread_bytes, 0u);            // mempool: nobody reads it
    EXPECT_EQ((*before)[1].reader_idle_ns, 0u);

    RingReader* reader = (*session)->reader("utxocache");
    const auto read_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(reader->Poll([](const EventView&) {}));
    auto after = client->Rings();
    ASSERT_TRUE(after) << after.error().message();
    const auto since_read = std::chrono::steady_clock::now() - read_at;
    EXPECT_EQ((*after)[2].unread_bytes, 0u);
    EXPECT_LE((*after)[2].reader_idle_ns,
              uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(since_read).count()));
    // The consumer's own view of the ring agrees.
    EXPECT_EQ(reader->Info().unread_bytes, 0u);
}

TEST_F(ControlTest, ADetachedReaderGivesNothingItHadCachedAndLeavesTheNextReaderAlone)
{
    auto client = Connect();
    ASSERT_TRUE(client);
    auto first = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(first) << first.error().message();
    for (int i = 0; i < 10; ++i)
        TRACERING_TRACEPOINT(net, misbehaving_connection, i, "cached");
    RingReader* old_reader = (*first)->reader("net");
    auto one = old_reader->Poll([](const EventView&) {}, /*max_events=*/1);
    ASSERT_TRUE(one);
    EXPECT_EQ(one.value(), 1u); // nine more are cached by the reader
    ASSERT_TRUE((*first)->Detach());
    auto after = old_reader->Poll([](const EventView&) {});
    ASSERT_FALSE(after) << after.value() << " records handed out after the detach";
    EXPECT_EQ(after.error().code(), ErrorCode::Detached);

    // The next reader laps the 64 KiB ring many times over what the old one had cached;
    // the old reader going away never moves its cursor.
    auto second = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(second) << second.error().message();
    RingReader* reader = (*second)->reader("net");
    uint64_t seen = 0;
    for (int round = 0; round < 200; ++round) {
        for (int i = 0; i < 50; ++i)
            TRACERING_TRACEPOINT(net, misbehaving_connection, i, "for the second reader");
        if (round == 100) first->reset(); // destroys the old reader
        auto n = reader->Poll([&](const EventView&) { ++seen; }, 1u << 20);
        ASSERT_TRUE(n) << n.error().message();
    }
    EXPECT_EQ(seen, 200u * 50u);
    EXPECT_EQ(m_producer->Stats(Subsystem::Net).cursor_violations, 0u);
    EXPECT_EQ(m_producer->Stats(Subsystem::Net).dropped(), 0u);
}

TEST_F(ControlTest, ReleasingTheSessionTurnsTheRingOffAndTheNextReaderStartsClean)
{
    auto client = Connect();
    ASSERT_TRUE(client);
    {
        auto session = client->Attach({{.ring = "net"}});
        ASSERT_TRUE(session) << session.error().message();
        for (int i = 0; i < 10; ++i)
            TRACERING_TRACEPOINT(net, misbehaving_connection, i, "x");
        EXPECT_TRUE(m_producer->Stats(Subsystem::Net).enabled);
    }
    EXPECT_FALSE(m_producer->Stats(Subsystem::Net).enabled);
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, misbehaving_connection));
    auto session = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(session) << session.error().message();
    TRACERING_TRACEPOINT(net, misbehaving_connection, 99, "after");
    int n = 0;
    ASSERT_TRUE((*session)->reader("net")->Poll([&](const EventView& ev) {
        EXPECT_EQ(ev.lost_before(), 0u);
        EXPECT_FALSE(ev.loss_precedes());
        EXPECT_EQ(ev.seq(), 10u);
        ++n;
    }));
    EXPECT_EQ(n, 1);
}

TEST_F(ControlTest, AConsumerAttachesAfterTheSegmentsNameWasRemoved)
{
    // The name is only for finding the segment; through the socket, a consumer is handed it.
    ASSERT_TRUE(detail::SharedMemory::Remove(m_producer->SegmentObjectName()));
    auto client = Connect();
    ASSERT_TRUE(client);
    auto session = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(session) << session.error().message();
    TRACERING_TRACEPOINT(net, misbehaving_connection, 5, "after the unlink");
    int n = 0;
    ASSERT_TRUE((*session)->reader("net")->Poll([&](const EventView&) { ++n; }));
    EXPECT_EQ(n, 1);
}

TEST_F(ControlTest, ExplicitDetachVoidsTheReaders)
{
    auto client = Connect();
    auto session = client->Attach({{.ring = "mempool"}});
    ASSERT_TRUE(session);
    ASSERT_TRUE((*session)->Detach());
    EXPECT_FALSE(m_producer->Stats(Subsystem::Mempool).enabled);
    auto n = (*session)->reader("mempool")->Poll([](const EventView&) {});
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().code(), ErrorCode::Detached);
}

TEST_F(ControlTest, SeveralSessionsReadOneRingEachWithItsOwnEvents)
{
    auto first = Connect();
    auto second = Connect();
    ASSERT_TRUE(first && second);
    auto all = first->Attach({{.ring = "net"}});
    ASSERT_TRUE(all) << all.error().message();
    auto some = second->Attach({{.ring = "net", .events = {"misbehaving_connection"}}});
    ASSERT_TRUE(some) << some.error().message();
    TRACERING_TRACEPOINT(net, closed_connection, 1, "a:1", "inbound", 0, 0);
    TRACERING_TRACEPOINT(net, misbehaving_connection, 1, "bad");
    std::vector<EventType> got_all, got_some;
    ASSERT_TRUE(
        (*all)->reader("net")->Poll([&](const EventView& ev) { got_all.push_back(ev.type()); }));
    ASSERT_TRUE((*some)->reader("net")->Poll([&](const EventView& ev) {
        got_some.push_back(ev.type());
        EXPECT_EQ(ev.lost_before(), 0u);
    }));
    EXPECT_EQ(got_all, (std::vector<EventType>{EventType::NetClosedConnection,
                                               EventType::NetMisbehavingConnection}));
    EXPECT_EQ(got_some, std::vector<EventType>{EventType::NetMisbehavingConnection});
    // Both are listed, each with its pid; a session's own stats show its own reader.
    auto rings = first->Rings();
    ASSERT_TRUE(rings);
    EXPECT_EQ((*rings)[0].reader_count, 2u);
    ASSERT_EQ((*rings)[0].readers.size(), 2u);
    EXPECT_EQ((*rings)[0].readers[0].pid, uint64_t(::getpid()));
    auto mine = (*some)->Stats();
    ASSERT_TRUE(mine);
    ASSERT_EQ((*mine)[0].readers.size(), 1u);
    EXPECT_EQ((*mine)[0].readers[0].event_mask,
              uint64_t{1} << (static_cast<uint16_t>(EventType::NetMisbehavingConnection) -
                              RingFirstType(Subsystem::Net)));
    // One leaves: the other goes on, and only the events nobody asks for turn off.
    ASSERT_TRUE((*all)->Detach());
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, closed_connection));
    EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(net, misbehaving_connection));
    TRACERING_TRACEPOINT(net, misbehaving_connection, 2, "bad");
    int n = 0;
    ASSERT_TRUE((*some)->reader("net")->Poll([&](const EventView&) { ++n; }));
    EXPECT_EQ(n, 1);
}

TEST_F(ControlTest, BadRequestsAreClearErrors)
{
    auto client = Connect();
    auto ring = client->Attach({{.ring = "p2p"}});
    ASSERT_FALSE(ring);
    EXPECT_EQ(ring.error().code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(Contains(ring.error().message(), "unknown ring 'p2p'")) << ring.error().message();
    auto event = client->Attach({{.ring = "utxocache", .events = {"spend"}}});
    ASSERT_FALSE(event);
    EXPECT_TRUE(Contains(event.error().message(), "no event 'spend'"));
    EXPECT_TRUE(Contains(event.error().message(), "flush, add, spent, uncache"));
    auto wait = client->Attach({{.ring = "net", .lossless = true, .lossless_wait_ms = 60000}});
    ASSERT_FALSE(wait);
    EXPECT_EQ(wait.error().code(), ErrorCode::InvalidArgument);
    auto none = client->Attach({});
    ASSERT_FALSE(none);
    auto twice = client->Attach({{.ring = "net"}, {.ring = "net"}});
    ASSERT_FALSE(twice);
    for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        EXPECT_FALSE(m_producer->Stats(static_cast<Subsystem>(i)).enabled);
    }
}

TEST_F(ControlTest, OptionsReachTheRing)
{
    auto client = Connect();
    auto session = client->Attach(
        {{.ring = "net", .lossless = true, .lossless_wait_ms = 250, .payload_limit = 64}});
    ASSERT_TRUE(session) << session.error().message();
    const RingStats s = m_producer->Stats(Subsystem::Net);
    EXPECT_TRUE(s.lossless);
    EXPECT_EQ(s.payload_limit, 64u);
    std::vector<uint8_t> payload(1000, 7);
    TRACERING_TRACEPOINT(net, inbound_message, 1, "a:1", "inbound", "block", payload.size(),
                         payload.data());
    ASSERT_TRUE((*session)->reader("net")->Poll([&](const EventView& ev) {
        EXPECT_TRUE(ev.truncated());
        EXPECT_EQ(ev.as<net::InboundMessage>()->payload()->size(), 64u);
    }));
}

TEST_F(ControlTest, AnOffRingKeepsTheOffPriceWhileAnotherIsRead)
{
    auto client = Connect();
    auto session = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(session);
    bool evaluated = false;
    auto touch = [&] {
        evaluated = true;
        return 0;
    };
    TRACERING_TRACEPOINT(mempool, added, nullptr, touch(), 0);
    EXPECT_FALSE(evaluated);
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(mempool, added));
}

TEST_F(ControlTest, GarbageFromAPeerHarmsNothing)
{
    for (int round = 0; round < 20; ++round) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, m_producer->ControlSocket().c_str());
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
        std::vector<uint8_t> junk(4096);
        for (size_t i = 0; i < junk.size(); ++i)
            junk[i] = uint8_t(i * 37 + round);
        if (round % 2) {
            // A segment table claiming a huge message.
            const uint32_t header[2] = {0, 0x7fffffff};
            std::memcpy(junk.data(), header, sizeof(header));
        }
        ASSERT_GT(::write(fd, junk.data(), junk.size()), 0);
        ::close(fd);
    }
    auto client = Connect();
    ASSERT_TRUE(client);
    auto session = client->Attach({{.ring = "validation"}});
    ASSERT_TRUE(session) << session.error().message();
    EXPECT_FALSE(m_producer->Stats(Subsystem::Net).enabled);
}

TEST_F(ControlTest, SilentConnectionsAreClosedAtTheCallDeadlineSoTheyHoldNoPlace)
{
    Restart([](ProducerOptions& o) { o.control_call_deadline_ms = 500; });
    const std::string path = m_producer->ControlSocket();
    // A consumer that connected first (and so made its call in time) is not disturbed.
    auto early = Connect();
    ASSERT_TRUE(early);
    // 64 connections that never call, as a process hoarding them would hold: once served
    // (15, besides the consumer's) or refused (the rest), each is closed.
    const auto start = std::chrono::steady_clock::now();
    std::vector<int> silent;
    for (int i = 0; i < 64; ++i)
        silent.push_back(SilentConnection(path));
    const std::vector<int> served(silent.begin(), silent.begin() + 15);
    EXPECT_EQ(WaitClosedByServer(served, 500ms + SLACK + 10s), served.size());
    EXPECT_GE(std::chrono::steady_clock::now() - start, 500ms) << "closed before the deadline";
    EXPECT_EQ(WaitClosedByServer(silent, 10s), silent.size());
    for (int fd : silent)
        ::close(fd);

    auto rings = early->Rings();
    ASSERT_TRUE(rings) << rings.error().message();
    auto client = ControlClient::Connect(path);
    ASSERT_TRUE(client) << client.error().message();
    auto session = (*client)->Attach({{.ring = "validation"}});
    ASSERT_TRUE(session) << session.error().message();
}

TEST_F(ControlTest, AnIdleConnectionIsClosedButOneHoldingASessionNever)
{
    Restart([](ProducerOptions& o) { o.control_idle_ms = 300; });
    auto client = Connect();
    ASSERT_TRUE(client);
    auto session = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(session) << session.error().message();
    // A connection that made one call and holds no session is closed after the idle time.
    const auto closed = ClosedAfterOneCall(m_producer->ControlSocket());
    ASSERT_TRUE(closed) << "an idle connection stayed open 10 s";
    EXPECT_GE(*closed, 250ms); // the server's clock may read a little before the call

    // The session's connection made its last call (attach) before that one, so it has been
    // idle longer; the lease holds it open all the same.
    auto stats = (*session)->Stats();
    ASSERT_TRUE(stats) << stats.error().message();
    EXPECT_TRUE(m_producer->Stats(Subsystem::Net).enabled);
    TRACERING_TRACEPOINT(net, misbehaving_connection, 1, "still leased");
    int n = 0;
    ASSERT_TRUE((*session)->reader("net")->Poll([&](const EventView&) { ++n; }));
    EXPECT_EQ(n, 1);
}

TEST_F(ControlTest, OneUserCannotTakeEveryPlaceAndTheRefusedAreToldWhy)
{
    // Running as root, another user (nobody, group nogroup) attaches too; it needs group
    // access to the segment and the socket.
    const passwd* nobody = ::getuid() == 0 ? ::getpwnam("nobody") : nullptr;
    const group* nogroup = nobody ? ::getgrnam("nogroup") : nullptr;
    Restart([&](ProducerOptions& o) {
        o.control_call_deadline_ms = 60'000; // the hoarded connections stay for the whole test
        if (nogroup) {
            o.group_access = GroupAccess::Read;
            o.group_id = nogroup->gr_gid;
        }
    });
    const std::string path = m_producer->ControlSocket();
    std::vector<int> held;
    for (int i = 0; i < 64; ++i)
        held.push_back(SilentConnection(path));
    // The first 16 are served; the rest are refused and closed within about a second.
    const std::vector<int> served(held.begin(), held.begin() + 16);
    const std::vector<int> refused(held.begin() + 16, held.end());
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(WaitClosedByServer(refused, 10s), refused.size());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s + SLACK);
    EXPECT_EQ(WaitClosedByServer(served, 0ms), 0u) << "a served connection was closed";

    // The next consumer of the same user is told why it is refused.
    auto busy = ControlClient::Connect(path);
    ASSERT_FALSE(busy) << "a 17th connection of one user was served";
    EXPECT_EQ(busy.error().code(), ErrorCode::Busy) << busy.error().message();
    EXPECT_TRUE(Contains(busy.error().message(), "too many control connections from uid " +
                                                     std::to_string(::getuid()) + " (16 open"))
        << busy.error().message();

    // Another user is not locked out: it attaches and reads.
    if (nogroup) {
        test::Subprocess other{{test::paths::TEST_HELPER, "attach-read-as",
                                std::to_string(nobody->pw_uid), std::to_string(nogroup->gr_gid),
                                path, "net", "1"}};
        ASSERT_EQ(other.ReadLine(), "attached");
        TRACERING_TRACEPOINT(net, misbehaving_connection, 1, "another user");
        EXPECT_EQ(other.ReadLine(), "read 1 lost 0");
        EXPECT_EQ(other.Wait(), 0);
    } else {
        std::printf("not root, or no nobody/nogroup: another user's attach is not tried\n");
    }

    // One of the user's connections ends: a consumer of that user gets its place.
    ::close(held.front());
    Result<std::unique_ptr<ControlClient>> client = Error{ErrorCode::NotFound, "not yet"};
    const auto closed = std::chrono::steady_clock::now();
    while (!client && std::chrono::steady_clock::now() - closed < 10s) {
        client = ControlClient::Connect(path);
        if (!client) std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(client) << client.error().message();
    auto session = (*client)->Attach({{.ring = "validation"}});
    ASSERT_TRUE(session) << session.error().message();
    for (size_t i = 1; i < held.size(); ++i)
        ::close(held[i]);
}

TEST_F(ControlTest, LimitsOutOfRangeAreRefusedAtCreate)
{
    m_producer.reset();
    ProducerOptions options = test::SmallProducer("limits", 4096);
    options.control_socket = SocketPath("limits");
    options.control_max_per_uid = MAX_CONTROL_CONNECTIONS + 1;
    auto producer = Producer::Create(options);
    ASSERT_FALSE(producer);
    EXPECT_EQ(producer.error().code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(Contains(producer.error().message(), "control_max_per_uid"))
        << producer.error().message();
    options.control_max_per_uid = DEFAULT_CONTROL_MAX_PER_UID;
    options.control_call_deadline_ms = 0;
    producer = Producer::Create(options);
    ASSERT_FALSE(producer);
    EXPECT_TRUE(Contains(producer.error().message(), "control_call_deadline_ms"))
        << producer.error().message();
    EXPECT_NE(::access(options.control_socket.c_str(), F_OK), 0);
    EXPECT_FALSE(detail::SharedMemory::Exists(SegmentObjectName(options.name)));
}

TEST_F(ControlTest, HundredsOfAttachDetachCyclesLeakNothing)
{
    // Warm up once so lazily created process state is not counted as a leak.
    {
        auto client = Connect();
        auto session = client->Attach({{.ring = "mempool"}});
    }
    const size_t fds = SettledFdCount();
    const size_t threads = CountEntries("/proc/self/task");
    const size_t shm = CountOwnShm();
    for (int i = 0; i < 300; ++i) {
        auto client = ControlClient::Connect(m_producer->ControlSocket());
        ASSERT_TRUE(client) << i << ": " << client.error().message();
        auto session = (*client)->Attach({{.ring = "mempool"}, {.ring = "utxocache"}});
        ASSERT_TRUE(session) << i << ": " << session.error().message();
        TRACERING_TRACEPOINT(mempool, added, nullptr, i, i);
        int n = 0;
        ASSERT_TRUE((*session)->reader("mempool")->Poll([&](const EventView&) { ++n; }));
        ASSERT_EQ(n, 1) << i;
    }
    // The server closes its end of each connection on its own thread; let it finish.
    EXPECT_LE(FdCountBackTo(fds), fds);
    EXPECT_FALSE(m_producer->Stats(Subsystem::Mempool).enabled);
    EXPECT_EQ(CountEntries("/proc/self/task"), threads);
    EXPECT_EQ(CountOwnShm(), shm);
}

//! The names of this process's threads (/proc/self/task/*/comm).
std::vector<std::string> ThreadNames()
{
    std::vector<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator{"/proc/self/task"}) {
        std::ifstream comm{task.path() / "comm"};
        std::string name;
        if (std::getline(comm, name)) names.push_back(name);
    }
    return names;
}

TEST_F(ControlTest, TheControlThreadCarriesTheNameItWasGiven)
{
    EXPECT_EQ(std::ranges::count(ThreadNames(), "tracering-ctl"), 1);
    Restart([](ProducerOptions& o) { o.control_thread_name = "b-tracering"; });
    const auto names = ThreadNames();
    EXPECT_EQ(std::ranges::count(names, "b-tracering"), 1);
    EXPECT_EQ(std::ranges::count(names, "tracering-ctl"), 0);

    m_producer.reset();
    ProducerOptions o = test::SmallProducer("control", 1 << 16);
    o.control_socket = SocketPath("control");
    o.control_thread_name = "sixteen-bytes-xx";
    auto refused = Producer::Create(o);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(Contains(refused.error().message(), "1 to 15 bytes")) << refused.error().message();
    EXPECT_FALSE(detail::SharedMemory::Exists(SegmentObjectName(o.name)));
}

TEST(ControlStartTest, RunningOutOfDescriptorsIsAnErrorAtEveryStepNeverAHang)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizers' runtimes need descriptors themselves (UBSan's vptr check opens a pipe
    // to probe memory and reports a false error without one): tested in normal builds.
    GTEST_SKIP() << "running out of descriptors is tested without sanitizers";
#endif
    const std::string name = test::UniqueName("few-fds");
    const std::string socket = "/tmp/" + name + ".sock";
    // Should the helper die mid-way, what it made is removed all the same (checked below
    // before this runs, so a leak is still a failure).
    struct Cleanup {
        std::string name, socket;
        ~Cleanup() { test::RemoveProducerLeftovers(name, socket); }
    } cleanup{name, socket};
    test::Subprocess helper{{test::paths::TEST_HELPER, "few-fds", name, socket}};
    ASSERT_TRUE(helper.started());
    std::vector<std::string> lines;
    for (std::string line = helper.ReadLine(20'000); !line.empty(); line = helper.ReadLine(20'000))
        lines.push_back(line);
    ASSERT_EQ(helper.Wait(20'000), 0) << "the helper hung or failed";
    ASSERT_EQ(lines.size(), 11u);
    bool control_server_failed = false;
    for (int spare = 8; spare >= 0; --spare) {
        const std::string& line = lines[size_t(8 - spare)];
        const std::string prefix = std::to_string(spare) + " ";
        ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
        if (line == prefix + "ok") continue;
        EXPECT_EQ(line.rfind(prefix + "error cannot ", 0), 0u) << line;
        EXPECT_NE(line.find("Too many open files"), std::string::npos) << line;
        control_server_failed |= line.find("cannot start the control server") != std::string::npos;
    }
    EXPECT_TRUE(control_server_failed) << "no limit hit the control server's start-up";
    EXPECT_EQ(lines[0], "8 ok");
    EXPECT_EQ(lines[8].rfind("0 error", 0), 0u) << lines[8];
    EXPECT_EQ(lines[9], "client socket refused");
    EXPECT_EQ(lines[10], "served 5 rings after running out of descriptors");
    EXPECT_FALSE(detail::SharedMemory::Exists(SegmentObjectName(name)));
    EXPECT_NE(::access(socket.c_str(), F_OK), 0) << socket << " was left behind";
}

TEST_F(ControlTest, StoppingTheProducerRemovesTheSocket)
{
    const std::string path = m_producer->ControlSocket();
    auto client = Connect();
    auto session = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(session);
    m_producer.reset();
    struct stat st;
    EXPECT_NE(::stat(path.c_str(), &st), 0);
    auto n = (*session)->reader("net")->Poll([](const EventView&) {});
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().code(), ErrorCode::Detached);
}

TEST(ControlSocketTest, MissingSocketAndPlainFileSayWhatIsWrong)
{
    auto missing = ControlClient::Connect("/tmp/no-such-tracering.sock");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
    EXPECT_TRUE(Contains(missing.error().message(), "is the producer running"));

    const std::string file = SocketPath("plain");
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    auto plain = ControlClient::Connect(file);
    ASSERT_FALSE(plain);
    EXPECT_EQ(plain.error().code(), ErrorCode::NotFound);
    // A producer will not take over a path that is not a socket either.
    ProducerOptions options = test::SmallProducer("plainfile", 4096);
    options.control_socket = file;
    auto producer = Producer::Create(options);
    ASSERT_FALSE(producer);
    EXPECT_TRUE(Contains(producer.error().message(), "is not a socket"));
    ::unlink(file.c_str());
    EXPECT_FALSE(detail::SharedMemory::Exists(SegmentObjectName(options.name)));
}

//! A unix socket server that is not tracering: it answers with `reply` (or nothing).
class ForeignServer
{
public:
    ForeignServer(const std::string& path, std::string reply) : m_path{path}
    {
        m_fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        ::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        ::listen(m_fd, 4);
        m_thread = std::thread{[this, reply] {
            const int c = ::accept(m_fd, nullptr, nullptr);
            if (c < 0) return;
            if (!reply.empty()) (void)!::write(c, reply.data(), reply.size());
            char buf[256];
            while (::read(c, buf, sizeof(buf)) > 0) {
            }
            ::close(c);
        }};
    }
    ~ForeignServer()
    {
        ::shutdown(m_fd, SHUT_RDWR);
        ::close(m_fd);
        m_thread.join();
        ::unlink(m_path.c_str());
    }

private:
    std::string m_path;
    int m_fd;
    std::thread m_thread;
};

TEST(ControlSocketTest, SocketThatIsNotOursIsAClearErrorNotAHang)
{
    {
        const std::string path = SocketPath("silent");
        ForeignServer silent{path, ""};
        const auto start = std::chrono::steady_clock::now();
        auto client = ControlClient::Connect(path, 300ms);
        ASSERT_FALSE(client);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
        EXPECT_TRUE(Contains(client.error().message(), "no answer")) << client.error().message();
    }
    {
        const std::string path = SocketPath("chatty");
        ForeignServer chatty{path, std::string(64, '\xff') + "HTTP/1.1 400 Bad Request\r\n"};
        auto client = ControlClient::Connect(path, 2s);
        ASSERT_FALSE(client);
        EXPECT_TRUE(client.error().code() == ErrorCode::Corrupt ||
                    client.error().code() == ErrorCode::Detached)
            << client.error().message();
    }
}

TEST(ControlSocketTest, LeftoverSocketFileIsReplacedButALiveOneIsNot)
{
    const std::string path = SocketPath("leftover");
    {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
        ::close(fd); // the file stays, nobody listens: like a crashed producer
    }
    ProducerOptions options = test::SmallProducer("leftover", 4096);
    options.control_socket = path;
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer) << producer.error().message();
    ProducerOptions again = test::SmallProducer("leftover2", 4096);
    again.control_socket = path;
    auto second = Producer::Create(again);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), ErrorCode::AlreadyExists);
    EXPECT_TRUE(Contains(second.error().message(), "already serves"));
}

//! Sends an attach request as a consumer built from other versions would, through the
//! generated Cap'n Proto client, and returns the producer's error.
std::pair<std::string, std::string> AttachWithVersions(const std::string& path, uint32_t abi,
                                                       uint64_t schema)
{
    namespace msg = ::tracering::control::messages;
    auto io = kj::setupAsyncIo();
    auto address = io.provider->getNetwork().parseAddress("unix:" + path).wait(io.waitScope);
    auto stream = address->connect().wait(io.waitScope);
    capnp::TwoPartyClient client{*stream};
    auto control = client.bootstrap().castAs<msg::Control>();
    auto request = control.attachRequest();
    auto r = request.initRequest();
    r.setAbiVersion(abi);
    r.setSchemaHash(schema);
    r.initRings(1)[0].setName("net");
    auto response = request.send().wait(io.waitScope);
    const auto error = response.getError();
    const std::string code =
        error.getCode() == msg::ControlError::Code::VERSION_MISMATCH ? "versionMismatch" : "other";
    return {code, error.getMessage()};
}

TEST_F(ControlTest, ProducerRefusesAConsumerOfAnotherAbiButNotOfOtherSchemas)
{
    const auto [abi_code, abi_message] =
        AttachWithVersions(m_producer->ControlSocket(), ABI_VERSION + 7, SCHEMA_HASH);
    EXPECT_EQ(abi_code, "versionMismatch");
    EXPECT_TRUE(Contains(abi_message, "producer has ABI version " + std::to_string(ABI_VERSION) +
                                          ", the consumer " + std::to_string(ABI_VERSION + 7)))
        << abi_message;
    EXPECT_FALSE(m_producer->Stats(Subsystem::Net).enabled);
    // Schemas evolve compatibly: a consumer built from other schemas attaches.
    const auto [schema_code, schema_message] =
        AttachWithVersions(m_producer->ControlSocket(), ABI_VERSION, SCHEMA_HASH ^ 1);
    EXPECT_EQ(schema_code, "other");
    EXPECT_EQ(schema_message, "");
}

// --- With real consumer processes -------------------------------------------------------

TEST_F(ControlTest, KilledConsumerProcessLosesItsRingsWithinASecond)
{
    test::Subprocess child{
        {test::paths::TEST_HELPER, "attach-read", m_producer->ControlSocket(), "net", "0"}};
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "attached");
    EXPECT_TRUE(m_producer->Stats(Subsystem::Net).enabled);
    EXPECT_EQ(m_producer->Stats(Subsystem::Net).reader_pid, uint64_t(child.pid()));
    for (int i = 0; i < 1000; ++i)
        TRACERING_TRACEPOINT(net, misbehaving_connection, i, "x");
    child.Kill(SIGKILL);
    ASSERT_EQ(child.Wait(), 128 + SIGKILL);
    // The promise is one second; it takes milliseconds. A sanitized build runs the control
    // thread several times slower on a loaded machine, so it gets more room.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    constexpr auto LIMIT = 5s;
#else
    constexpr auto LIMIT = 1s;
#endif
    const auto killed = std::chrono::steady_clock::now();
    while (m_producer->Stats(Subsystem::Net).enabled &&
           std::chrono::steady_clock::now() - killed < LIMIT) {
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_FALSE(m_producer->Stats(Subsystem::Net).enabled)
        << "still on " << std::chrono::seconds(LIMIT).count() << " s after SIGKILL";
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, misbehaving_connection));

    auto client = Connect();
    auto session = client->Attach({{.ring = "net"}});
    ASSERT_TRUE(session) << session.error().message();
    TRACERING_TRACEPOINT(net, misbehaving_connection, 1, "fresh");
    int n = 0;
    ASSERT_TRUE((*session)->reader("net")->Poll([&](const EventView& ev) {
        EXPECT_EQ(ev.lost_before(), 0u);
        ++n;
    }));
    EXPECT_EQ(n, 1);
}

TEST_F(ControlTest, TwoConsumerProcessesReadDifferentRingsAtOnce)
{
    test::Subprocess net{
        {test::paths::TEST_HELPER, "attach-read", m_producer->ControlSocket(), "net", "500"}};
    test::Subprocess mempool{
        {test::paths::TEST_HELPER, "attach-read", m_producer->ControlSocket(), "mempool", "300"}};
    ASSERT_EQ(net.ReadLine(), "attached");
    ASSERT_EQ(mempool.ReadLine(), "attached");
    for (int i = 0; i < 500; ++i)
        TRACERING_TRACEPOINT(net, misbehaving_connection, i, "x");
    for (int i = 0; i < 300; ++i)
        TRACERING_TRACEPOINT(mempool, added, nullptr, i, i);
    EXPECT_EQ(net.ReadLine(), "read 500 lost 0");
    EXPECT_EQ(mempool.ReadLine(), "read 300 lost 0");
    EXPECT_EQ(net.Wait(), 0);
    EXPECT_EQ(mempool.Wait(), 0);
    for (int i = 0; i < 100 && m_producer->Stats(Subsystem::Net).enabled; ++i) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(m_producer->Stats(Subsystem::Net).enabled);
    EXPECT_FALSE(m_producer->Stats(Subsystem::Mempool).enabled);
}

TEST_F(ControlTest, AttachCyclesOfConsumerProcessesLeaveNothingBehind)
{
    const size_t fds = SettledFdCount();
    for (int i = 0; i < 30; ++i) {
        test::Subprocess child{{test::paths::TEST_HELPER, "attach-read",
                                m_producer->ControlSocket(), "utxocache", "1"}};
        ASSERT_EQ(child.ReadLine(), "attached") << i;
        TRACERING_TRACEPOINT(utxocache, flush, 1, 2, 3, 4, false);
        ASSERT_EQ(child.ReadLine(), "read 1 lost 0") << i;
        ASSERT_EQ(child.Wait(), 0);
        for (int k = 0; k < 100 && m_producer->Stats(Subsystem::Utxocache).enabled; ++k) {
            std::this_thread::sleep_for(2ms);
        }
    }
    EXPECT_LE(FdCountBackTo(fds), fds);
}

} // namespace
} // namespace tracering
