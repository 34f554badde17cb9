// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Writes the seed corpus of every fuzz target from the real code:
//
//   tracering_fuzz_seeds DIR     writes DIR/<target>/<seed> (DIR is normally fuzz/corpus)
//
// - ring_reader: rings of a real producer after it emitted the samples of
//   tests/event_samples.cpp (every event once), one of them wrapped, in RingReaderInput.
// - event_view: each sample's record type and payload as a reader got them.
// - event_schema: ringdump's built-in schema with one sample of each ring.
// - capture_file: native captures written by ringdump's capture command from a producer
//   emitting the samples (one whole, one with payloads cut to a limit).
// - control_server: what the control client (ControlClient, Session) sends to a producer's
//   control socket in a few real sessions, recorded by a proxy between the two.
// - p2p_messages: real payloads of the messages a peer sends, serialized with tools/p2p
//   from the transactions and header of mainnet block 413567 (tests/fixtures/) and made-up
//   addresses: version, inv, addr, addrv2 with every BIP155 network, headers, getheaders,
//   tx, block (the fixture cut to its first transactions, to keep the corpus small),
//   cmpctblock, getblocktxn, blocktxn, ping, reject and a message without a decoder.
//
// Seeds hold pids, timestamps and positions of the run that wrote them, so two runs differ.

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/producer.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <poll.h>
#include <thread>
#include <unistd.h>

#include "capture_file.h"
#include "commands.h"
#include "decode/event_schema.h"
#include "event_samples.h"
#include "inputs.h"
#include "p2p/address.h"
#include "p2p/builder.h"
#include "p2p/messages.h"
#include "p2p/protocol.h"
#include "p2p/serialize.h"
#include "util.h"
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace tracering::fuzz {
namespace {

namespace fs = std::filesystem;

void WriteSeed(const fs::path& dir, const std::string& name, std::span<const uint8_t> bytes)
{
    fs::create_directories(dir);
    std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) Die("cannot write " + (dir / name).string());
    std::printf("%s (%zu bytes)\n", (dir / name).c_str(), bytes.size());
}

ProducerOptions Options(const std::string& what, uint64_t capacity)
{
    ProducerOptions options;
    options.name = "fuzz-seeds-" + what + "-" + std::to_string(::getpid());
    options.capacities.fill(capacity);
    return options;
}

std::vector<LeaseRequest> EveryRing()
{
    std::vector<LeaseRequest> rings;
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i)
        rings.push_back({static_cast<Subsystem>(i), {}});
    return rings;
}

//! A read-only mapping of a producer's segment.
class SegmentView
{
public:
    explicit SegmentView(const Producer& producer)
    {
        const int fd = Must(producer.SegmentFd(), "the producer's segment");
        m_size = size_t(::lseek(fd, 0, SEEK_END));
        void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) Die("cannot map the producer's segment");
        m_data = static_cast<const uint8_t*>(p);
    }
    ~SegmentView() { ::munmap(const_cast<uint8_t*>(m_data), m_size); }
    SegmentView(const SegmentView&) = delete;
    SegmentView& operator=(const SegmentView&) = delete;

    //! The bytes of `ring` in [from, to), which must be within one capacity.
    std::vector<uint8_t> Bytes(Subsystem ring, uint64_t from, uint64_t to) const
    {
        const RingDescriptor& d =
            reinterpret_cast<const SegmentHeader*>(m_data)->rings[uint16_t(ring)];
        std::vector<uint8_t> out;
        for (uint64_t pos = from; pos < to; ++pos)
            out.push_back(m_data[d.data_offset + (pos & (d.capacity - 1))]);
        return out;
    }

private:
    const uint8_t* m_data{nullptr};
    size_t m_size{0};
};

// --- ring_reader ----------------------------------------------------------------------------

void RingReaderSeeds(const fs::path& dir)
{
    auto producer = Must(Producer::Create(Options("ring", RING_READER_CAPACITY)), "Producer");
    auto lease = Must(producer->Attach(EveryRing()), "Producer::Attach");
    test::EmitAllSamples(); // the 1000-byte outbound message is over 4096/8: a loss, counted
    {
        SegmentView segment{*producer};
        for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
            const auto ring = static_cast<Subsystem>(i);
            RingReaderInput input;
            input.ring = uint8_t(i);
            input.write_pos = producer->Stats(ring).write_pos;
            const std::vector<uint8_t> data = segment.Bytes(ring, 0, input.write_pos);
            input.data = data;
            WriteSeed(dir, std::string{SUBSYSTEM_NAMES[i]}, input.Encode());
            if (ring == Subsystem::Net) {
                input.flags = RING_READER_EXITED; // drained, then told the producer exited
                WriteSeed(dir, "net-exited", input.Encode());
                input.flags = RING_READER_RESUMED;
                WriteSeed(dir, "net-resumed", input.Encode());
            }
        }
    }

    // Mempool once more, read until its next batch of samples crosses the end of the ring:
    // a padding record, then records from the start of the data area.
    const int fd = Must(producer->SegmentFd(), "the producer's segment");
    auto consumer = Must(Consumer::OpenFd(fd, "the producer's segment"), "Consumer::OpenFd");
    ::close(fd);
    auto reader = Must(consumer->OpenReader("mempool", lease->Grant(Subsystem::Mempool)),
                       "Consumer::OpenReader");
    for (int round = 0; round < 1000; ++round) {
        (void)Must(reader->Poll([](const EventView&) {}), "RingReader::Poll");
        const uint64_t from = producer->Stats(Subsystem::Mempool).write_pos;
        const uint64_t seq = reader->next_seq().value_or(0);
        test::EmitAllSamples();
        const uint64_t to = producer->Stats(Subsystem::Mempool).write_pos;
        if (from / RING_READER_CAPACITY == to / RING_READER_CAPACITY) continue;
        SegmentView segment{*producer};
        RingReaderInput input;
        input.ring = uint8_t(Subsystem::Mempool);
        input.flags = RING_READER_RESUMED;
        input.read_pos = from;
        input.write_pos = to;
        input.attach_seq = seq;
        const std::vector<uint8_t> data = segment.Bytes(Subsystem::Mempool, from, to);
        input.data = data;
        WriteSeed(dir, "mempool-wrapped", input.Encode());
        return;
    }
    Die("the mempool ring never wrapped");
}

// --- event_view and event_schema ------------------------------------------------------------

struct Sample {
    uint16_t type;
    std::vector<uint8_t> payload;
};

std::vector<Sample> ReadSamples()
{
    auto producer = Must(Producer::Create(Options("view", EVENT_VIEW_CAPACITY)), "Producer");
    auto lease = Must(producer->Attach(EveryRing()), "Producer::Attach");
    const int fd = Must(producer->SegmentFd(), "the producer's segment");
    auto consumer = Must(Consumer::OpenFd(fd, "the producer's segment"), "Consumer::OpenFd");
    ::close(fd);
    test::EmitAllSamples();
    std::vector<Sample> samples;
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        auto reader =
            Must(consumer->OpenReader(SUBSYSTEM_NAMES[i], lease->Grant(static_cast<Subsystem>(i))),
                 "Consumer::OpenReader");
        (void)Must(reader->Poll([&](const EventView& view) {
            samples.push_back({view.raw_type(), {view.payload().begin(), view.payload().end()}});
        }),
                   "RingReader::Poll");
    }
    if (samples.size() != EVENTS.size()) Die("a sample event was not read back");
    return samples;
}

void EventViewSeeds(const fs::path& dir, const std::vector<Sample>& samples)
{
    for (const Sample& s : samples) {
        std::vector<uint8_t> input;
        PutLe(input, s.type);
        input.insert(input.end(), s.payload.begin(), s.payload.end());
        const EventInfo* e = FindEvent(static_cast<EventType>(s.type));
        WriteSeed(dir, std::string{e->context} + "-" + std::string{e->name}, input);
    }
}

void EventSchemaSeeds(const fs::path& dir, const std::vector<Sample>& samples)
{
    const auto schema = Must(ringdump::EventSchema::Builtin(), "the built-in schema");
    // One event of each ring: the schema is most of each seed.
    for (const EventType type :
         {EventType::NetInboundMessage, EventType::MempoolReplaced, EventType::UtxocacheAdd,
          EventType::ValidationBlockConnected, EventType::CoinSelectionSelectedCoins}) {
        for (const Sample& s : samples) {
            if (s.type != static_cast<uint16_t>(type)) continue;
            EventSchemaInput input;
            input.schema = schema.bytes();
            input.type = s.type;
            input.payload = s.payload;
            const EventInfo* e = FindEvent(type);
            WriteSeed(dir, std::string{e->context} + "-" + std::string{e->name}, input.Encode());
        }
    }
}

// --- capture_file ---------------------------------------------------------------------------

//! Waits until every ring of `producer` has `readers` readers.
void AwaitReaders(const Producer& producer, uint32_t readers)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        bool all = true;
        for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i)
            all = all && producer.Stats(static_cast<Subsystem>(i)).reader_count == readers;
        if (all) return;
        if (std::chrono::steady_clock::now() > deadline) Die("the capture did not attach");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void CaptureSeeds(const fs::path& dir, const fs::path& scratch)
{
    ProducerOptions options = Options("capture", EVENT_VIEW_CAPACITY);
    options.control_socket = (scratch / "capture.sock").string();
    auto producer = Must(Producer::Create(options), "Producer");
    for (const uint64_t limit : {uint64_t{0}, uint64_t{16}}) {
        ringdump::CaptureOptions capture;
        capture.control = options.control_socket;
        capture.out_dir = scratch / ("capture-" + std::to_string(limit));
        capture.native = true;
        capture.lossless = true;
        capture.payload_limit = limit;
        capture.count = EVENTS.size();
        int code = -1;
        std::thread ringdump{[&] { code = ringdump::Capture(capture, {}); }};
        AwaitReaders(*producer, 1);
        test::EmitAllSamples();
        ringdump.join();
        if (code != ringdump::EXIT_OK) Die("ringdump capture failed");
        std::ifstream in{capture.out_dir / ringdump::CAPTURE_FILE_NAME, std::ios::binary};
        const std::vector<uint8_t> file{std::istreambuf_iterator<char>{in}, {}};
        WriteSeed(dir, limit ? "samples-limit-16" : "samples", file);
    }
}

// --- control_server -------------------------------------------------------------------------

int Listen(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd, 1) != 0) {
        Die("cannot listen on " + path);
    }
    return fd;
}

int Connect(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        Die("cannot connect to " + path);
    }
    return fd;
}

//! Moves what `from` sends to `to`, descriptors included; false once `from` ended.
bool Relay(int from, int to, std::vector<uint8_t>* record)
{
    uint8_t buffer[65536];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    iovec iov{buffer, sizeof(buffer)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(from, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) {
        ::shutdown(to, SHUT_WR);
        return false;
    }
    if (record) record->insert(record->end(), buffer, buffer + n);
    iov.iov_len = size_t(n);
    if (msg.msg_controllen == 0) msg.msg_control = nullptr;
    // A peer that hung up already (the client, once it has what it wanted) misses the rest.
    if (::sendmsg(to, &msg, MSG_NOSIGNAL) != n && errno != EPIPE && errno != ECONNRESET) {
        Die(std::string{"the proxy cannot pass a message on: "} + std::strerror(errno));
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < fds; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            ::close(fd);
        }
    }
    return true;
}

//! Runs `client` against the producer's control socket through a proxy and returns what
//! the client sent.
template <typename Client>
std::vector<uint8_t> RecordClient(const std::string& server, const fs::path& scratch, Client client)
{
    const std::string path = (scratch / "proxy.sock").string();
    ::unlink(path.c_str());
    const int listener = Listen(path);
    std::vector<uint8_t> sent;
    std::thread proxy{[&] {
        const int a = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        const int b = Connect(server);
        if (a < 0) Die("the proxy cannot accept");
        bool a_open = true, b_open = true;
        while (a_open || b_open) {
            pollfd p[2]{{a, short(a_open ? POLLIN : 0), 0}, {b, short(b_open ? POLLIN : 0), 0}};
            if (::poll(p, 2, 10'000) <= 0) Die("the recorded session stalled");
            if (a_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                a_open = Relay(a, b, &sent);
            if (b_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
                b_open = Relay(b, a, nullptr);
        }
        ::close(a);
        ::close(b);
    }};
    client(path);
    proxy.join();
    ::close(listener);
    return sent;
}

void ControlSeeds(const fs::path& dir, const fs::path& scratch)
{
    ProducerOptions options = Options("control", 4096);
    options.control_socket = (scratch / "control.sock").string();
    auto producer = Must(Producer::Create(options), "Producer");
    const std::string& server = options.control_socket;

    WriteSeed(dir, "info", RecordClient(server, scratch, [](const std::string& path) {
                  (void)Must(ControlClient::Connect(path), "ControlClient::Connect");
              }));
    WriteSeed(dir, "rings", RecordClient(server, scratch, [](const std::string& path) {
                  auto client = Must(ControlClient::Connect(path), "ControlClient::Connect");
                  (void)Must(client->Rings(), "ControlClient::Rings");
              }));
    WriteSeed(dir, "attach-stats-detach",
              RecordClient(server, scratch, [](const std::string& path) {
                  auto client = Must(ControlClient::Connect(path), "ControlClient::Connect");
                  auto session = Must(client->Attach({{.ring = "net"},
                                                      {.ring = "mempool",
                                                       .events = {"added", "removed"},
                                                       .lossless = true,
                                                       .lossless_wait_ms = 50,
                                                       .payload_limit = 64}}),
                                      "ControlClient::Attach");
                  (void)Must(session->Stats(), "Session::Stats");
                  if (!session->Detach()) Die("Session::Detach failed");
              }));
    WriteSeed(dir, "attach-unknown-ring",
              RecordClient(server, scratch, [](const std::string& path) {
                  auto client = Must(ControlClient::Connect(path), "ControlClient::Connect");
                  if (client->Attach({{.ring = "p2p"}})) Die("an unknown ring was attached");
              }));
}

// --- p2p_messages ---------------------------------------------------------------------------

void WriteMessage(const fs::path& dir, const std::string& name, const std::string& command,
                  std::span<const uint8_t> payload)
{
    P2pMessageInput input;
    input.command = command;
    input.payload = payload;
    WriteSeed(dir, name, input.Encode());
}

//! The 80-byte header at the start of `block`.
std::span<const uint8_t> HeaderOf(std::span<const uint8_t> block)
{
    return block.first(p2p::BLOCK_HEADER_SIZE);
}

void P2pMessageSeeds(const fs::path& dir)
{
    std::ifstream in{TRACERING_BLOCK413567, std::ios::binary};
    const std::vector<uint8_t> fixture{std::istreambuf_iterator<char>{in}, {}};
    const p2p::FullBlock full = Must(p2p::ParseFullBlock(fixture), "block 413567");
    // The whole block is about 1 MB, the corpus' budget: its header and first transactions
    // (the merkle root no longer matches them; the parsers check structure only).
    constexpr size_t BLOCK_TXS = 40;
    std::vector<uint8_t> block{HeaderOf(fixture).begin(), HeaderOf(fixture).end()};
    p2p::WriteCompactSize(block, BLOCK_TXS);
    for (size_t i = 0; i < BLOCK_TXS; ++i)
        p2p::WriteBytes(block, full.transactions[i].raw);
    WriteMessage(dir, "block-413567-first-40-txs", "block", block);
    const p2p::TxEntry& coinbase = full.transactions[0];
    const p2p::TxEntry& tx = full.transactions[1];
    WriteMessage(dir, "tx-413567-1", "tx", tx.raw);
    WriteMessage(dir, "tx-segwit", "tx", p2p::MakeTransaction(1, /*segwit=*/true));

    p2p::VersionMessage version;
    version.services = 0x409; // NODE_NETWORK | NODE_WITNESS | NODE_NETWORK_LIMITED
    version.timestamp = 1'700'000'000;
    version.addr_recv = p2p::NetAddress::FromIPv4({203, 0, 113, 7}, 8333);
    version.addr_from = p2p::NetAddress::FromIPv4({0, 0, 0, 0}, 0, version.services);
    version.nonce = 0x0123456789abcdef;
    version.user_agent = "/Satoshi:27.0.0/";
    version.start_height = 850'000;
    WriteMessage(dir, "version", "version", p2p::SerializeVersion(version));
    WriteMessage(dir, "verack", "verack", {});

    std::vector<uint8_t> inv;
    p2p::WriteCompactSize(inv, 3);
    for (const auto& [type, hash] :
         {std::pair{p2p::MSG_WTX, tx.wtxid}, std::pair{p2p::MSG_WITNESS_TX, tx.txid},
          std::pair{p2p::MSG_BLOCK, full.hash}}) {
        p2p::WriteU32(inv, type);
        p2p::WriteBytes(inv, hash);
    }
    WriteMessage(dir, "inv", "inv", inv);

    // addr: IPv4-mapped, IPv6, and an IPv6 address under the Tor v2 prefix.
    const std::array<std::array<uint8_t, 16>, 3> v1_addresses{{
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 1},
        {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
        {0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
    }};
    std::vector<uint8_t> addr;
    p2p::WriteCompactSize(addr, v1_addresses.size());
    for (const auto& ip : v1_addresses) {
        p2p::WriteU32(addr, 1'700'000'000);
        p2p::WriteU64(addr, 0x409);
        p2p::WriteBytes(addr, ip);
        p2p::WriteU16BE(addr, 8333);
    }
    WriteMessage(dir, "addr", "addr", addr);

    // addrv2: every BIP155 network (1 to 6) at its size, and an id BIP155 does not define.
    std::vector<uint8_t> addrv2;
    p2p::WriteCompactSize(addrv2, 7);
    for (uint8_t id = 1; id <= 7; ++id) {
        const size_t size = id <= 6 ? p2p::Bip155AddressSize(id) : 20;
        p2p::WriteU32(addrv2, 1'700'000'000);
        p2p::WriteCompactSize(addrv2, 0x409);
        p2p::WriteU8(addrv2, id);
        std::vector<uint8_t> bytes(size);
        for (size_t i = 0; i < size; ++i)
            bytes[i] = static_cast<uint8_t>(id * 31 + i);
        if (id == 6) bytes[0] = 0xfc; // CJDNS addresses are in fc00::/8
        p2p::WriteVarBytes(addrv2, bytes);
        p2p::WriteU16BE(addrv2, 8333);
    }
    WriteMessage(dir, "addrv2-every-network", "addrv2", addrv2);

    std::vector<uint8_t> headers;
    p2p::WriteCompactSize(headers, 2);
    for (int i = 0; i < 2; ++i) {
        p2p::WriteBytes(headers, HeaderOf(fixture));
        p2p::WriteCompactSize(headers, 0);
    }
    WriteMessage(dir, "headers", "headers", headers);

    std::vector<uint8_t> locator;
    p2p::WriteU32(locator, p2p::PROTOCOL_VERSION);
    p2p::WriteCompactSize(locator, 2);
    p2p::WriteBytes(locator, full.hash);
    p2p::WriteBytes(locator, full.header.prev_block);
    p2p::WriteBytes(locator, p2p::Hash256{});
    WriteMessage(dir, "getheaders", "getheaders", locator);

    // cmpctblock: the short ids of the block's transactions but the coinbase, which is sent
    // in full (differential index 0).
    std::vector<uint8_t> cmpct{HeaderOf(fixture).begin(), HeaderOf(fixture).end()};
    p2p::WriteU64(cmpct, 0x1122334455667788);
    p2p::WriteCompactSize(cmpct, BLOCK_TXS - 1);
    for (size_t i = 1; i < BLOCK_TXS; ++i)
        p2p::WriteBytes(cmpct, std::span{full.transactions[i].wtxid}.first(6));
    p2p::WriteCompactSize(cmpct, 1);
    p2p::WriteCompactSize(cmpct, 0);
    p2p::WriteBytes(cmpct, coinbase.raw);
    WriteMessage(dir, "cmpctblock", "cmpctblock", cmpct);

    std::vector<uint8_t> getblocktxn;
    p2p::WriteBytes(getblocktxn, full.hash);
    p2p::WriteCompactSize(getblocktxn, 3);
    for (const uint64_t diff : {1, 0, 5}) // indexes 1, 2 and 8
        p2p::WriteCompactSize(getblocktxn, diff);
    WriteMessage(dir, "getblocktxn", "getblocktxn", getblocktxn);
    std::vector<uint8_t> blocktxn;
    p2p::WriteBytes(blocktxn, full.hash);
    p2p::WriteCompactSize(blocktxn, 3);
    for (const size_t i : {1, 2, 8})
        p2p::WriteBytes(blocktxn, full.transactions[i].raw);
    WriteMessage(dir, "blocktxn", "blocktxn", blocktxn);

    const std::array<uint8_t, 8> nonce = p2p::SerializeNonce(0x0123456789abcdef);
    WriteMessage(dir, "ping", "ping", nonce);
    WriteMessage(dir, "ping-before-bip31", "ping", {});

    std::vector<uint8_t> reject;
    const std::string_view rejected = "tx", reason = "bad-txns-inputs-missingorspent";
    p2p::WriteVarBytes(reject,
                       {reinterpret_cast<const uint8_t*>(rejected.data()), rejected.size()});
    p2p::WriteU8(reject, 0x10); // REJECT_INVALID
    p2p::WriteVarBytes(reject, {reinterpret_cast<const uint8_t*>(reason.data()), reason.size()});
    p2p::WriteBytes(reject, tx.txid);
    WriteMessage(dir, "reject", "reject", reject);

    // sendtxrcncl (BIP330): version u32, salt u64; no decoder, sent as Unknown.
    std::vector<uint8_t> sendtxrcncl;
    p2p::WriteU32(sendtxrcncl, 1);
    p2p::WriteU64(sendtxrcncl, 0xfeedfacecafebeef);
    WriteMessage(dir, "sendtxrcncl", "sendtxrcncl", sendtxrcncl);
    WriteMessage(dir, "unknown-command", "getmoney", nonce);
}

int Main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr,
                     "usage: %s DIR   (writes DIR/<target>/<seed>; DIR is normally "
                     "fuzz/corpus)\n",
                     argv[0]);
        return 1;
    }
    const fs::path out = argv[1];
    const fs::path scratch = ScratchDirectory("seeds");
    RingReaderSeeds(out / "ring_reader");
    const std::vector<Sample> samples = ReadSamples();
    EventViewSeeds(out / "event_view", samples);
    EventSchemaSeeds(out / "event_schema", samples);
    CaptureSeeds(out / "capture_file", scratch);
    ControlSeeds(out / "control_server", scratch);
    P2pMessageSeeds(out / "p2p_messages");
    return 0;
}

} // namespace
} // namespace tracering::fuzz

int main(int argc, char** argv) { return tracering::fuzz::Main(argc, argv); }
