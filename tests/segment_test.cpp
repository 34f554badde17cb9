// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/producer.h>

#include <flatbuffers/reflection.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sched.h>
#include <unistd.h>

#include "common/shm.h"
#include "paths.h"
#include "subprocess.h"
#include "test_util.h"
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

namespace tracering {
namespace {

//! A live producer whose main object the test may scribble on.
class SegmentTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        auto producer = Producer::Create(test::SmallProducer("segment", 4096));
        ASSERT_TRUE(producer) << producer.error().message();
        m_producer = std::move(producer.value());
        // The producer leaves its object read-only even for its own user; the owner may
        // still change that on purpose, as this test does to play a corrupting writer.
        ASSERT_EQ(
            ::chmod(detail::SharedMemory::DisplayPath(m_producer->SegmentObjectName()).c_str(),
                    0600),
            0);
        auto shm = detail::SharedMemory::Open(m_producer->SegmentObjectName(), /*writable=*/true);
        ASSERT_TRUE(shm);
        m_shm = std::move(shm.value());
    }
    SegmentHeader* header() { return reinterpret_cast<SegmentHeader*>(m_shm->data()); }
    const std::string& name() { return m_producer->Name(); }

    Error OpenError()
    {
        auto consumer = Consumer::Open(name());
        EXPECT_FALSE(consumer) << "the consumer accepted a bad segment";
        return consumer ? Error{ErrorCode::InvalidArgument, "opened"} : consumer.error();
    }

    std::unique_ptr<Producer> m_producer;
    std::unique_ptr<detail::SharedMemory> m_shm;
};

using test::Contains;

TEST_F(SegmentTest, GoodSegmentOpensAndDescribesItself)
{
    auto consumer = Consumer::Open(name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    const SegmentInfo& info = (*consumer)->info();
    EXPECT_EQ(info.name, name());
    EXPECT_EQ(info.abi_version, ABI_VERSION);
    EXPECT_EQ(info.producer_pid, uint64_t(::getpid()));
    EXPECT_TRUE(info.clock_id == ClockId::Monotonic || info.clock_id == ClockId::MonotonicTsc);
    EXPECT_EQ(info.ring_count, SUBSYSTEM_COUNT);
    const auto rings = (*consumer)->Rings();
    ASSERT_EQ(rings.size(), SUBSYSTEM_COUNT);
    EXPECT_EQ(rings[0].name, "net");
    EXPECT_EQ(rings[4].name, "coin_selection");
    EXPECT_FALSE(rings[0].enabled);
    auto missing = (*consumer)->Ring("p2p");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
    EXPECT_TRUE(Contains(missing.error().message(), "net, mempool, utxocache"));

    // The clock mapping a reader measures now is the one the producer wrote at creation
    // (nobody stepped the system time in between), and it maps an event just written to now.
    const int64_t now_offset = UnixClockOffsetNow();
    EXPECT_LT(std::llabs(now_offset - info.clock_offset_ns), 20'000'000) << "more than 20 ms";
    auto reader = test::AttachReader(*m_producer, **consumer, Subsystem::Mempool);
    ASSERT_TRUE(reader) << reader.error().message();
    const uint8_t payload[8]{};
    ASSERT_TRUE(m_producer->WriteRaw(Subsystem::Mempool, uint16_t(EventType::UserFirst), payload,
                                     sizeof(payload)));
    const int64_t unix_now = int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    int64_t event_unix = 0;
    ASSERT_TRUE((*reader)->Poll(
        [&](const EventView& ev) { event_unix = int64_t(ev.timestamp_ns()) + now_offset; }));
    EXPECT_LE(event_unix, unix_now + 1'000'000); // the TSC clock may run up to 1 ms apart
    EXPECT_GT(event_unix, unix_now - 1'000'000'000);
}

TEST(SegmentPermissionTest, TheSegmentIsReadOnlyForEveryoneAndTheOnlyObject)
{
    ProducerOptions options = test::SmallProducer("modes", 4096);
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer) << producer.error().message();
    struct stat st;
    const std::string path = detail::SharedMemory::DisplayPath((*producer)->SegmentObjectName());
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0400u);
    // Cursor memory is per lease and nameless: nothing else of this segment is in /dev/shm.
    EXPECT_FALSE(detail::SharedMemory::Exists((*producer)->SegmentObjectName() + ".cursors"));
    if (::geteuid() != 0) {
        // Not even the producer's own user opens it writable (root bypasses modes).
        errno = 0;
        EXPECT_LT(::open(path.c_str(), O_RDWR), 0);
        EXPECT_EQ(errno, EACCES);
    }
}

TEST(SegmentPermissionTest, GroupAccessGivesReadToTheSegmentAndWriteToTheSocket)
{
    ProducerOptions options = test::SmallProducer("group", 4096);
    options.group_access = GroupAccess::Read;
    options.group_id = ::getgid();
    options.control_socket = "/tmp/" + options.name + ".sock";
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer) << producer.error().message();
    struct stat st;
    // Group members connect to the socket, which needs write permission.
    ASSERT_EQ(::stat(options.control_socket.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    EXPECT_EQ(st.st_gid, ::getgid());
    ASSERT_EQ(
        ::stat(detail::SharedMemory::DisplayPath((*producer)->SegmentObjectName()).c_str(), &st),
        0);
    EXPECT_EQ(st.st_mode & 0777, 0440u);
    EXPECT_EQ(st.st_gid, ::getgid());
}

TEST(SegmentOpenTest, MissingSegmentSaysSoAndWhere)
{
    auto consumer = Consumer::Open("no-such-producer");
    ASSERT_FALSE(consumer);
    EXPECT_EQ(consumer.error().code(), ErrorCode::NotFound);
    EXPECT_TRUE(Contains(consumer.error().message(), "tracering.no-such-producer"));
    EXPECT_TRUE(Contains(consumer.error().message(), "is the producer running"));
}

TEST(SegmentOpenTest, BadNameIsRejectedBeforeTouchingTheSystem)
{
    for (const std::string& bad :
         std::vector<std::string>{"", "a/b", "../x", std::string(49, 'a'), "sp ace"}) {
        auto consumer = Consumer::Open(bad);
        ASSERT_FALSE(consumer) << bad;
        EXPECT_EQ(consumer.error().code(), ErrorCode::InvalidArgument) << bad;
        ProducerOptions o;
        o.name = bad;
        o.install_global = false;
        auto producer = Producer::Create(o);
        ASSERT_FALSE(producer) << bad;
        EXPECT_EQ(producer.error().code(), ErrorCode::InvalidArgument) << bad;
    }
}

TEST(SegmentOpenTest, BadCapacityIsRejectedNamingTheRing)
{
    ProducerOptions o = test::SmallProducer("cap", 4096);
    o.capacities[2] = 5000;
    auto producer = Producer::Create(o);
    ASSERT_FALSE(producer);
    EXPECT_EQ(producer.error().code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(Contains(producer.error().message(), "utxocache"));
    EXPECT_TRUE(Contains(producer.error().message(), "5000"));
}

TEST_F(SegmentTest, WrongMagicIsNotATraceringSegment)
{
    header()->magic = 0x1122334455667788ULL;
    const Error e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_TRUE(Contains(e.message(), "not a tracering segment")) << e.message();
}

TEST_F(SegmentTest, OtherAbiVersionNamesBothVersions)
{
    header()->abi_version.store(ABI_VERSION + 1);
    const Error e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::VersionMismatch);
    EXPECT_TRUE(Contains(e.message(), "has ABI version " + std::to_string(ABI_VERSION + 1) +
                                          ", this reader supports " + std::to_string(ABI_VERSION)))
        << e.message();
}

TEST_F(SegmentTest, OtherSchemaHashOpensAndCarriesTheProducersSchema)
{
    header()->schema_hash ^= 1;
    auto consumer = Consumer::Open(name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    EXPECT_EQ((*consumer)->info().schema_hash, header()->schema_hash);
    const std::span<const uint8_t> schema = (*consumer)->schema();
    ASSERT_EQ(schema.size(), header()->schema_size);
    EXPECT_TRUE(std::equal(schema.begin(), schema.end(), m_shm->data() + header()->schema_offset));
    // The producer's catalogue is this build's, read back from the segment.
    const Catalogue& catalogue = (*consumer)->catalogue();
    ASSERT_EQ(catalogue.events.size(), EVENTS.size());
    for (size_t i = 0; i < EVENTS.size(); ++i) {
        EXPECT_EQ(catalogue.events[i].type, static_cast<uint16_t>(EVENTS[i].type));
        EXPECT_EQ(catalogue.events[i].name, EVENTS[i].name);
        EXPECT_EQ(catalogue.events[i].ring, EVENTS[i].context);
    }
    ASSERT_EQ(catalogue.rings.size(), SUBSYSTEM_COUNT);
}

TEST_F(SegmentTest, SchemaOutsideItsPlaceIsCorrupt)
{
    const uint64_t offset = header()->schema_offset;
    const uint64_t size = header()->schema_size;
    for (const auto& [bad_offset, bad_size] : std::vector<std::pair<uint64_t, uint64_t>>{
             {offset + 1, size},                          // misaligned
             {0, size},                                   // over the header
             {offset, MAX_SCHEMA_SIZE + 1},               // too big
             {header()->rings[0].data_offset - 16, size}, // into the ring data
             {~uint64_t{0} - 15, 32},                     // wraps around
         }) {
        header()->schema_offset = bad_offset;
        header()->schema_size = bad_size;
        const Error e = OpenError();
        EXPECT_EQ(e.code(), ErrorCode::Corrupt) << bad_offset << "+" << bad_size;
        EXPECT_TRUE(Contains(e.message(), "the schema at offset")) << e.message();
    }
}

TEST_F(SegmentTest, SchemaThatIsNotAValidCatalogueIsCorrupt)
{
    // Scribbled bytes: the reflection verifier refuses them.
    uint8_t* schema = m_shm->data() + header()->schema_offset;
    std::vector<uint8_t> saved(schema, schema + header()->schema_size);
    std::memset(schema + 4, 0xff, 16);
    Error e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_TRUE(Contains(e.message(), "is not a binary FlatBuffers schema")) << e.message();
    // A valid schema without the catalogue's enum: an empty reflection::Schema.
    std::copy(saved.begin(), saved.end(), schema);
    flatbuffers::FlatBufferBuilder fbb;
    const auto empty = reflection::CreateSchema(
        fbb, fbb.CreateVector(std::vector<flatbuffers::Offset<reflection::Object>>{}),
        fbb.CreateVector(std::vector<flatbuffers::Offset<reflection::Enum>>{}));
    fbb.Finish(empty, reflection::SchemaIdentifier());
    ASSERT_LE(fbb.GetSize(), saved.size());
    std::memcpy(schema, fbb.GetBufferPointer(), fbb.GetSize());
    header()->schema_size = fbb.GetSize();
    e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_TRUE(Contains(e.message(), "declares no enum tracering.Ring")) << e.message();
}

TEST_F(SegmentTest, HalfBuiltHeaderOfALiveProducerIsNotReady)
{
    header()->abi_version.store(0);
    const Error e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::NotReady);
}

TEST_F(SegmentTest, SizeDisagreeingWithTheHeaderIsCorrupt)
{
    header()->segment_size += 4096;
    const Error e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_TRUE(Contains(e.message(), "header says")) << e.message();
}

TEST_F(SegmentTest, RingTableOutsideTheSegmentIsCorrupt)
{
    header()->rings[1].data_offset = header()->segment_size - 100;
    Error e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_TRUE(Contains(e.message(), "mempool")) << e.message();
    header()->rings[1].data_offset = 4096 * 2;
    header()->rings[1].capacity = 12345;
    e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    header()->rings[1].capacity = 4096;
    header()->ring_count = 99;
    e = OpenError();
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
}

TEST_F(SegmentTest, GarbageRecordIsReportedNotFollowed)
{
    auto consumer = Consumer::Open(name());
    ASSERT_TRUE(consumer);
    auto reader = test::AttachReader(*m_producer, **consumer, Subsystem::Validation);
    ASSERT_TRUE(reader) << reader.error().message();
    const uint8_t payload[16] = {};
    const uint16_t type = static_cast<uint16_t>(EventType::UserFirst);
    ASSERT_TRUE(m_producer->WriteRaw(Subsystem::Validation, type, payload, 16));
    // Overwrite the record's length with nonsense, as a broken producer might.
    uint8_t* data = m_shm->data() + header()->rings[3].data_offset;
    const uint32_t huge = 0x7fffffff;
    std::memcpy(data + offsetof(RecordHeader, length), &huge, sizeof(huge));
    auto n = (*reader)->Poll([](const EventView&) { ADD_FAILURE() << "garbage was delivered"; });
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().code(), ErrorCode::Corrupt);
    EXPECT_TRUE(Contains(n.error().message(), "record length 2147483647")) << n.error().message();
}

TEST(SegmentFileTest, TruncatedObjectIsCorrupt)
{
    const std::string name = test::UniqueName("trunc");
    auto shm = detail::SharedMemory::Create(SegmentObjectName(name), 100, {});
    ASSERT_TRUE(shm);
    auto consumer = Consumer::Open(name);
    detail::SharedMemory::Remove(SegmentObjectName(name));
    ASSERT_FALSE(consumer);
    EXPECT_EQ(consumer.error().code(), ErrorCode::Corrupt);
    EXPECT_TRUE(Contains(consumer.error().message(), "truncated")) << consumer.error().message();
}

TEST(SegmentFileTest, ForeignObjectIsNotReplacedByAProducer)
{
    const std::string name = test::UniqueName("foreign");
    auto shm = detail::SharedMemory::Create(SegmentObjectName(name), 8192, {});
    ASSERT_TRUE(shm);
    std::memset((*shm)->data(), 0x42, 8192);
    ProducerOptions o = test::SmallProducer("unused", 4096);
    o.name = name;
    auto producer = Producer::Create(o);
    EXPECT_FALSE(producer);
    if (!producer) {
        EXPECT_EQ(producer.error().code(), ErrorCode::AlreadyExists);
        EXPECT_TRUE(Contains(producer.error().message(), "not a tracering segment"));
        // Whose it is, so the operator knows whom to ask.
        EXPECT_TRUE(Contains(producer.error().message(), "owner uid " + std::to_string(::getuid())))
            << producer.error().message();
    }
    EXPECT_TRUE(detail::SharedMemory::Exists(SegmentObjectName(name)));
    detail::SharedMemory::Remove(SegmentObjectName(name));
}

TEST(SegmentFileTest, AProducerRemovesOnlyTheObjectItCreated)
{
    ProducerOptions options = test::SmallProducer("own", 4096);
    auto first = Producer::Create(options);
    ASSERT_TRUE(first) << first.error().message();
    // Someone removes the name, and another producer takes it.
    ASSERT_TRUE(detail::SharedMemory::Remove(SegmentObjectName(options.name)));
    auto second = Producer::Create(options);
    ASSERT_TRUE(second) << second.error().message();
    first->reset();
    // The first one's shutdown left the second one's object alone.
    auto consumer = Consumer::Open(options.name);
    ASSERT_TRUE(consumer) << consumer.error().message();
    EXPECT_EQ((*consumer)->info().producer_pid, uint64_t(::getpid()));
    second->reset();
    EXPECT_FALSE(detail::SharedMemory::Exists(SegmentObjectName(options.name)));
}

TEST(SegmentFileTest, SecondProducerOfTheSameNameNamesTheLiveOne)
{
    ProducerOptions o = test::SmallProducer("twice", 4096);
    auto first = Producer::Create(o);
    ASSERT_TRUE(first);
    auto second = Producer::Create(o);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), ErrorCode::AlreadyExists);
    EXPECT_TRUE(Contains(second.error().message(), "pid " + std::to_string(::getpid())))
        << second.error().message();
}

TEST(SegmentFileTest, StaleSegmentOfADeadProducerIsRecognisedAndReplaced)
{
    const std::string name = test::UniqueName("stale");
    test::Subprocess child{{test::paths::TEST_HELPER, "crash", name}};
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "created");
    ASSERT_EQ(child.Wait(), 0);
    ASSERT_TRUE(detail::SharedMemory::Exists(SegmentObjectName(name)));

    auto consumer = Consumer::Open(name);
    ASSERT_FALSE(consumer);
    EXPECT_EQ(consumer.error().code(), ErrorCode::Stale);
    EXPECT_TRUE(Contains(consumer.error().message(),
                         "producer " + std::to_string(child.pid()) + " is gone"))
        << consumer.error().message();

    ProducerOptions o = test::SmallProducer("unused", 4096);
    o.name = name;
    o.replace_stale = false;
    auto refused = Producer::Create(o);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), ErrorCode::Stale);

    o.replace_stale = true;
    auto producer = Producer::Create(o);
    ASSERT_TRUE(producer) << producer.error().message();
    auto fresh = Consumer::Open(name);
    ASSERT_TRUE(fresh) << fresh.error().message();
    EXPECT_EQ((*fresh)->info().producer_pid, uint64_t(::getpid()));
}

//! Runs `fn` in a child process as an unprivileged user (if we are root) and returns its
//! exit code.
int RunUnprivileged(const std::function<int()>& fn)
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::getuid() == 0) {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(99);
        }
        ::_exit(fn());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

//! Runs `fn` in a child process with a tmpfs of `size` (mount's size= option) over /dev/shm,
//! in a mount namespace of its own, and returns its exit code; SKIPPED if the namespace or
//! the mount is not permitted here (it needs CAP_SYS_ADMIN).
constexpr int SKIPPED = 77;
int RunWithSmallDevShm(const char* size, const std::function<int()>& fn)
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("tmpfs", "/dev/shm", "tmpfs", 0, (std::string{"size="} + size).c_str()) != 0) {
            ::_exit(SKIPPED);
        }
        ::_exit(fn());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

//! The child's side of a check: prints what failed (the parent's test output shows it).
int Fail(int code, const std::string& what)
{
    std::fprintf(stderr, "%s\n", what.c_str());
    return code;
}

// Without its pages allocated up front, a ring on a full /dev/shm mapped fine and the node
// died of SIGBUS in the first tracepoint that touched a page the file system had no room for
// (or, here, while its first reader attached).
TEST(SegmentSpaceTest, ARingThatDoesNotFitIsRefusedAtAttachAndTheNodeLives)
{
    const int code = RunWithSmallDevShm("8m", [] {
        ProducerOptions o = test::SmallProducer("space", 1 << 16);
        o.capacities[static_cast<size_t>(Subsystem::Net)] = 32u << 20;
        o.control_socket = "/tmp/" + o.name + ".sock";
        auto producer = Producer::Create(o);
        if (!producer) return Fail(1, "Create: " + producer.error().message());
        auto net = (*producer)->Attach(Subsystem::Net, {});
        if (net) return Fail(2, "a 32 MiB ring was attached on an 8 MiB /dev/shm");
        const std::string& msg = net.error().message();
        for (const char* part : {"ring 'net'", "32768 KiB", "No space left on device",
                                 "KiB free there", "smaller rings"}) {
            if (!Contains(msg, part))
                return Fail(3, "message lacks '" + std::string{part} + "': " + msg);
        }
        // A consumer asking over the control socket learns the same, as a refusal it did
        // not cause (ringdump exits 2 on it, not 1 as for a bad command line).
        auto client = ControlClient::Connect((*producer)->ControlSocket());
        if (!client) return Fail(6, "Connect: " + client.error().message());
        auto remote = (*client)->Attach({RingRequest{.ring = "net"}});
        if (remote) return Fail(7, "the control socket attached the ring that does not fit");
        if (remote.error().code() != ErrorCode::SystemError ||
            !Contains(remote.error().message(), "No space left on device")) {
            return Fail(8, "over the socket: " + std::string{ToString(remote.error().code())} +
                               ": " + remote.error().message());
        }
        // A ring that fits is attached and written as usual.
        auto mempool = (*producer)->Attach(Subsystem::Mempool, {});
        if (!mempool) return Fail(4, "mempool: " + mempool.error().message());
        const uint8_t payload[16] = {};
        if (!(*producer)->WriteRaw(Subsystem::Mempool, uint16_t(EventType::UserFirst), payload,
                                   sizeof(payload))) {
            return Fail(5, "the mempool ring did not take a record");
        }
        return 0;
    });
    if (code == SKIPPED) GTEST_SKIP() << "no mount namespace with its own tmpfs here (needs root)";
    EXPECT_EQ(code, 0);
}

TEST(SegmentSpaceTest, AHeaderThatDoesNotFitFailsCreateAndLeavesNothing)
{
    const int code = RunWithSmallDevShm("4k", [] {
        ProducerOptions o = test::SmallProducer("space", 1 << 16);
        auto producer = Producer::Create(o);
        if (producer) return Fail(1, "created on a 4 KiB /dev/shm");
        if (!Contains(producer.error().message(), "the segment's header")) {
            return Fail(2, "message: " + producer.error().message());
        }
        if (detail::SharedMemory::Exists(SegmentObjectName(o.name))) {
            return Fail(3, "the object was left behind");
        }
        return 0;
    });
    if (code == SKIPPED) GTEST_SKIP() << "no mount namespace with its own tmpfs here (needs root)";
    EXPECT_EQ(code, 0);
}

TEST_F(SegmentTest, NoPermissionIsAClearError)
{
    if (::getuid() != 0) {
        // Not root: take our own read permission away instead.
        ASSERT_EQ(
            ::chmod(detail::SharedMemory::DisplayPath(m_producer->SegmentObjectName()).c_str(), 0),
            0);
    }
    const std::string segment_name = name();
    // The message names the object's mode: 0600 as the fixture left it, or 0000 once taken
    // away above.
    const std::string mode = ::getuid() == 0 ? "mode 0600" : "mode 0000";
    const int code = RunUnprivileged([&] {
        auto consumer = Consumer::Open(segment_name);
        if (consumer) return 1;
        if (consumer.error().code() != ErrorCode::PermissionDenied) return 2;
        if (!Contains(consumer.error().message(), "Permission denied")) return 3;
        if (!Contains(consumer.error().message(), mode)) return 4;
        return 0;
    });
    EXPECT_EQ(code, 0) << "1: opened, 2: other error code, 3: no reason, 4: no owner/mode";
}

TEST_F(SegmentTest, ConsumerOpensTheSegmentReadOnly)
{
    // A consumer's mapping of the main object must refuse writes: check in a child, where
    // the fault cannot take the test binary down.
    auto consumer = Consumer::Open(name());
    ASSERT_TRUE(consumer);
    auto reader = test::AttachReader(*m_producer, **consumer, Subsystem::Net);
    ASSERT_TRUE(reader) << reader.error().message();
    const uint16_t type = static_cast<uint16_t>(EventType::UserFirst);
    const uint8_t payload[8] = {};
    ASSERT_TRUE(m_producer->WriteRaw(Subsystem::Net, type, payload, 8));
    const uint8_t* view_data = nullptr;
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) { view_data = ev.data(); }));
    ASSERT_NE(view_data, nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        // The default action, not a sanitizer's handler, so the fault shows as a signal.
        std::signal(SIGSEGV, SIG_DFL);
        std::signal(SIGBUS, SIG_DFL);
        const_cast<volatile uint8_t*>(view_data)[0] = 1; // must fault
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status)) << "a write through the consumer's mapping succeeded";
}

} // namespace
} // namespace tracering
