// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! The second process of the multi-process tests.
//!
//!   consume SOCKET COUNT      attach every ring through the control socket, print
//!                             "attached", read COUNT sample events, check every field
//!   produce NAME SOCKET       create a producer serving SOCKET, print "ready", then act on
//!                             each line of stdin until it closes:
//!                               emit      emit all samples, print "emitted"
//!                               hold N    stop a thread in the middle of a record of the net
//!                                         ring (type UserFirst + 3, 8 bytes), write N more
//!                                         (the same type, 0 to N-1), print "held"
//!                               release   let the stopped thread finish its record (all ones),
//!                                         print "released"
//!   hostile SOCKET RING SECONDS
//!                             attach RING, then for SECONDS write garbage into its own
//!                             cursor, attaching again each time the producer detaches it;
//!                             prints "hostile", then "stores S attaches A"
//!   attack SOCKET RING        attach RING and try everything a consumer can do to the
//!                             memory it was given: one "<what> <result>" line each
//!   read-forever SOCKET RING  attach RING, print "reading", then poll it until killed
//!   crash NAME                create a producer and die without cleaning up
//!   attach-read SOCKET RING N attach RING through the control socket, print "attached",
//!                             read N events (0: until killed), print "read N lost L"
//!   attach-read-as UID GID SOCKET RING N
//!                             the same as user UID and group GID (started as root)

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/producer.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/shm.h"
#include "event_samples.h"
#include "held_record.h"
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

using namespace tracering;

namespace {

//! Attaches `rings` (all of them if empty) through `socket`, or prints why not.
std::unique_ptr<Session> AttachOrSay(ControlClient& client, std::vector<RingRequest> rings)
{
    if (rings.empty()) {
        auto all = client.Rings();
        if (!all) {
            std::printf("error %s\n", all.error().message().c_str());
            return nullptr;
        }
        for (const RingInfo& r : *all)
            rings.push_back({.ring = r.name});
    }
    auto session = client.Attach(rings);
    if (!session) {
        std::printf("error %s\n", session.error().message().c_str());
        return nullptr;
    }
    return std::move(session.value());
}

std::unique_ptr<ControlClient> ConnectOrSay(const std::string& socket)
{
    auto client = ControlClient::Connect(socket);
    if (!client) {
        std::printf("error %s\n", client.error().message().c_str());
        return nullptr;
    }
    return std::move(client.value());
}

int Consume(const std::string& socket, int count)
{
    auto client = ConnectOrSay(socket);
    if (!client) return 1;
    auto session = AttachOrSay(*client, {});
    if (!session) return 1;
    std::printf("attached\n");
    std::fflush(stdout);
    int seen = 0, failures = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen < count && std::chrono::steady_clock::now() < deadline) {
        for (const auto& reader : session->readers()) {
            auto n = reader->Poll([&](const EventView& ev) {
                const std::string problem = test::CheckSample(ev);
                if (!problem.empty()) {
                    std::printf("mismatch type %u: %s\n", ev.raw_type(), problem.c_str());
                    ++failures;
                }
                ++seen;
            });
            if (!n) {
                std::printf("error %s\n", n.error().message().c_str());
                return 1;
            }
        }
    }
    std::printf("seen %d failures %d\n", seen, failures);
    return seen == count && failures == 0 ? 0 : 1;
}

//! The type of the "hold" command's records.
constexpr uint16_t HELD_TYPE = static_cast<uint16_t>(EventType::UserFirst) + 3;

int Produce(const std::string& name, const std::string& socket)
{
    ProducerOptions options;
    options.name = name;
    options.capacities.fill(1 << 20);
    options.control_socket = socket;
    auto producer = Producer::Create(options);
    if (!producer) {
        std::printf("error %s\n", producer.error().message().c_str());
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    std::unique_ptr<test::HeldRecord> held;
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line == "emit") {
            test::EmitAllSamples();
            std::printf("emitted\n");
        } else if (line.rfind("hold ", 0) == 0 && !held) {
            const std::string count = line.substr(5);
            uint64_t others = 0;
            const auto [end, ec] =
                std::from_chars(count.data(), count.data() + count.size(), others);
            if (ec != std::errc{} || end != count.data() + count.size() || others > 1'000'000) {
                std::printf("error hold: '%s' is not a count from 0 to 1000000\n", count.c_str());
                std::fflush(stdout);
                continue;
            }
            held = std::make_unique<test::HeldRecord>();
            if (!held->Start(**producer, Subsystem::Net, HELD_TYPE)) {
                held.reset();
                std::printf("error hold: the record was not written (is the net ring read?)\n");
                std::fflush(stdout);
                continue;
            }
            for (uint64_t i = 0; i < others; ++i) {
                if (!(*producer)->WriteRaw(Subsystem::Net, HELD_TYPE, &i, sizeof(i))) {
                    std::printf("error record %" PRIu64 " after the held one was not written\n", i);
                }
            }
            std::printf("held\n");
        } else if (line == "release" && held) {
            held.reset();
            std::printf("released\n");
        } else {
            std::printf("error unknown or untimely command '%s'\n", line.c_str());
        }
        std::fflush(stdout);
    }
    return 0;
}

int Hostile(const std::string& socket, const std::string& ring, double seconds)
{
    auto client = ConnectOrSay(socket);
    if (!client) return 1;
    std::mt19937_64 rng{42};
    const uint64_t values[] = {0, 3, ~uint64_t{0}, uint64_t(-8), uint64_t{1} << 62, 4096 + 4};
    std::printf("hostile\n");
    std::fflush(stdout);
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    uint64_t stores = 0, attaches = 0;
    while (std::chrono::steady_clock::now() < end) {
        auto session = AttachOrSay(*client, {{.ring = ring}});
        if (!session) return 1;
        ++attaches;
        RingReader* reader = session->reader(ring);
        // Straight to its own cursor, as mapped from the descriptor it was given: a
        // consumer is free to write anything there.
        auto cursors = detail::SharedMemory::FromFd(reader->cursors_fd(), true, "cursors");
        if (!cursors) return 1;
        auto* slot = reinterpret_cast<CursorSlot*>((*cursors)->data()) + reader->index();
        while (std::chrono::steady_clock::now() < end) {
            const uint64_t write_pos = reader->Info().write_pos;
            uint64_t v;
            switch (rng() % 4) {
            case 0:
                v = values[rng() % std::size(values)];
                break;
            case 1:
                v = write_pos + 8 * (1 + rng() % 1000);
                break; // ahead of the producer
            case 2:
                v = write_pos - 8 * (rng() % 100000);
                break; // backwards, maybe far
            default:
                v = rng();
                break; // anything at all
            }
            slot->read_pos.store(v, std::memory_order_release);
            slot->heartbeat_ns.store(rng(), std::memory_order_relaxed);
            ++stores;
            EventView view;
            auto next = reader->Next(view);
            if (!next && next.error().code() == ErrorCode::Detached) break; // attach again
        }
    }
    std::printf("stores %llu attaches %llu\n", static_cast<unsigned long long>(stores),
                static_cast<unsigned long long>(attaches));
    return 0;
}

//! Prints "<what> ok" when an attempt failed as it must, "<what> FAILED ..." otherwise.
void Expect(const char* what, bool refused, int err)
{
    if (refused) {
        std::printf("%s ok\n", what);
    } else {
        std::printf("%s FAILED (errno %d)\n", what, err);
    }
}

int Attack(const std::string& socket, const std::string& ring)
{
    auto client = ConnectOrSay(socket);
    if (!client) return 1;
    auto session = AttachOrSay(*client, {{.ring = ring}});
    if (!session) return 1;
    RingReader* reader = session->reader(ring);
    const int segment = session->consumer().segment_fd();
    const int cursors = reader->cursors_fd();
    struct stat st;
    ::fstat(cursors, &st);
    const off_t size = st.st_size;
    errno = 0;
    Expect("truncate-segment", ::ftruncate(segment, 0) != 0, errno);
    errno = 0;
    Expect("grow-segment", ::ftruncate(segment, 1 << 30) != 0, errno);
    errno = 0;
    void* writable = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, segment, 0);
    Expect("map-segment-writable", writable == MAP_FAILED, errno);
    const std::string again = "/proc/self/fd/" + std::to_string(segment);
    errno = 0;
    const int reopened = ::open(again.c_str(), O_RDWR);
    Expect("reopen-segment-writable", reopened < 0 || ::geteuid() == 0, errno);
    errno = 0;
    Expect("truncate-cursors", ::ftruncate(cursors, 0) != 0, errno);
    errno = 0;
    Expect("grow-cursors", ::ftruncate(cursors, size * 2) != 0, errno);
    // What it may do, and what only hurts itself: scribble over all of its cursor memory,
    // then unmap its view of it.
    void* mine = ::mmap(nullptr, size_t(size), PROT_READ | PROT_WRITE, MAP_SHARED, cursors, 0);
    if (mine != MAP_FAILED) {
        std::memset(mine, 0xa5, size_t(size));
        ::munmap(mine, size_t(size));
    }
    std::printf("scribbled %lld bytes\n", static_cast<long long>(size));
    EventView view;
    Result<bool> next = false;
    for (int i = 0; i < 1000 && next; ++i)
        next = reader->Next(view);
    std::printf("own reader %s\n", next ? "still reading" : next.error().message().c_str());
    std::fflush(stdout);
    return 0;
}

int ReadForever(const std::string& socket, const std::string& ring)
{
    auto client = ConnectOrSay(socket);
    if (!client) return 1;
    auto session = AttachOrSay(*client, {{.ring = ring}});
    if (!session) return 1;
    std::printf("reading\n");
    std::fflush(stdout);
    RingReader* reader = session->reader(ring);
    for (;;) {
        auto n = reader->Poll([](const EventView&) {});
        if (!n) return 2;
        if (n.value() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

int Crash(const std::string& name)
{
    ProducerOptions options;
    options.name = name;
    options.capacities.fill(4096);
    auto producer = Producer::Create(options);
    if (!producer) return 1;
    std::printf("created\n");
    std::fflush(stdout);
    ::_exit(0); // no destructor: the objects stay behind, like after a crash
}

//! Creates a producer with a control socket under ever tighter limits on open files, one
//! line per limit: "<spare fds> ok" or "<spare fds> error <message>". Every attempt must
//! return, whatever part of the start-up runs out of descriptors.
int FewFds(const std::string& name, const std::string& socket)
{
    // Every descriptor below FIRST_FREE is taken, so the limit decides exactly how many
    // Create may open.
    constexpr int FIRST_FREE = 64;
    for (int fd = ::open("/dev/null", O_RDONLY); fd >= 0 && fd < FIRST_FREE - 1;) {
        fd = ::open("/dev/null", O_RDONLY);
    }
    for (int spare = 8; spare >= 0; --spare) {
        rlimit limit{};
        ::getrlimit(RLIMIT_NOFILE, &limit);
        limit.rlim_cur = rlim_t(FIRST_FREE + spare);
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 2;
        ProducerOptions options;
        options.name = name;
        options.capacities.fill(4096);
        options.control_socket = socket;
        auto producer = Producer::Create(options);
        if (producer) {
            std::printf("%d ok\n", spare);
        } else {
            std::printf("%d error %s\n", spare, producer.error().message().c_str());
        }
        std::fflush(stdout);
    }

    // A running control server that cannot accept for a while (no descriptor left) keeps
    // serving once descriptors are free again.
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = 1024;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ProducerOptions options;
    options.name = name;
    options.capacities.fill(4096);
    options.control_socket = socket;
    auto producer = Producer::Create(options);
    if (!producer) return 3;
    int highest = -1;
    for (int fd = 0; fd < 1024; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    }
    for (int fd = ::open("/dev/null", O_RDONLY); fd >= 0 && fd < highest;) {
        fd = ::open("/dev/null", O_RDONLY); // fill the holes below the limit
    }
    limit.rlim_cur = rlim_t(highest + 1);
    ::setrlimit(RLIMIT_NOFILE, &limit);
    const int client_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::printf("client socket %s\n", client_fd < 0 ? "refused" : "created");
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // the server fails to accept
    limit.rlim_cur = 1024;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    auto client = ControlClient::Connect(socket);
    auto rings = client ? (*client)->Rings() : Result<std::vector<RingInfo>>{client.error()};
    if (rings) {
        std::printf("served %zu rings after running out of descriptors\n", rings->size());
    } else {
        std::printf("not served: %s\n", rings.error().message().c_str());
    }
    std::fflush(stdout);
    return 0;
}

int AttachRead(const std::string& socket, const std::string& ring, uint64_t count)
{
    auto client = ControlClient::Connect(socket);
    if (!client) {
        std::printf("error %s\n", client.error().message().c_str());
        return 1;
    }
    auto session = (*client)->Attach({{.ring = ring}});
    if (!session) {
        std::printf("error %s\n", session.error().message().c_str());
        return 1;
    }
    std::printf("attached\n");
    std::fflush(stdout);
    RingReader* reader = (*session)->reader(ring);
    uint64_t read = 0, lost = 0;
    Backoff backoff{200};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((count == 0 || read < count) && std::chrono::steady_clock::now() < deadline) {
        auto n = reader->Poll([&](const EventView& ev) {
            lost += ev.lost_before();
            ++read;
        });
        if (!n) {
            std::printf("error %s\n", n.error().message().c_str());
            return 1;
        }
        backoff.Idle(n.value(), reader->TakeReadFill());
    }
    std::printf("read %llu lost %llu\n", static_cast<unsigned long long>(read),
                static_cast<unsigned long long>(lost));
    std::fflush(stdout);
    return read == count ? 0 : 1;
}

} // namespace

int main(int argc, char** argv)
{
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 2 && args[0] == "consume") return Consume(args[1], 20);
    if (args.size() == 3 && args[0] == "consume") return Consume(args[1], std::stoi(args[2]));
    if (args.size() == 3 && args[0] == "produce") return Produce(args[1], args[2]);
    if (args.size() == 3 && args[0] == "attack") return Attack(args[1], args[2]);
    if (args.size() == 4 && args[0] == "hostile")
        return Hostile(args[1], args[2], std::stod(args[3]));
    if (args.size() == 3 && args[0] == "read-forever") return ReadForever(args[1], args[2]);
    if (args.size() == 2 && args[0] == "crash") return Crash(args[1]);
    if (args.size() == 3 && args[0] == "few-fds") return FewFds(args[1], args[2]);
    if (args.size() == 4 && args[0] == "attach-read") {
        return AttachRead(args[1], args[2], std::stoull(args[3]));
    }
    if (args.size() == 6 && args[0] == "attach-read-as") {
        // Group first: once the uid is dropped, the process may no longer change it.
        const auto gid = static_cast<gid_t>(std::stoul(args[2]));
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 ||
            ::setuid(static_cast<uid_t>(std::stoul(args[1]))) != 0) {
            std::printf("error cannot become uid %s gid %s\n", args[1].c_str(), args[2].c_str());
            return 2;
        }
        return AttachRead(args[3], args[4], std::stoull(args[5]));
    }
    std::fprintf(
        stderr,
        "usage: tracering_test_helper consume|produce|hostile|attack|read-forever|crash ...\n");
    return 64;
}
