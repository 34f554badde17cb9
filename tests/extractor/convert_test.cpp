// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Tests of tracering-extractor's conversion (tools/extractor/convert): real events, written
// by the producer's emitters and read back through a ring, converted, and parsed with the
// C++ classes generated from the extractor's copy of peer-observer's schema. Every event
// must have every required field (IsInitialized), or peer-observer's tools would refuse it.

#include <tracering/bitcoin/mempool.h>
#include <tracering/bitcoin/net.h>
#include <tracering/bitcoin/utxocache.h>
#include <tracering/bitcoin/validation.h>
#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "extractor/convert/convert.h"
#include "p2p/block.h"
#include "p2p/builder.h"
#include "p2p/hash.h"
#include "p2p/messages.h"
#include "p2p/protocol.h"
#include "p2p/serialize.h"
#include "paths.h"
#include "test_util.h"
#include <bitcoin_primitives.pb.h>
#include <ebpf_extractor.pb.h>
#include <ebpf_extractor/connection.pb.h>
#include <ebpf_extractor/mempool.pb.h>
#include <ebpf_extractor/message.pb.h>
#include <ebpf_extractor/validation.pb.h>
#include <event.pb.h>

namespace tracering::extractor {
namespace {

namespace pb_conn = ::ebpf_extractor::connection;
namespace pb_mempool = ::ebpf_extractor::mempool;
namespace pb_msg = ::ebpf_extractor::message;
namespace primitives = ::bitcoin_primitives;

constexpr uint64_t UNIX_MS = 1'700'000'000'123;
constexpr int64_t PEER = 42;
constexpr const char* PEER_ADDR = "203.0.113.7:8333";

using Bytes = std::vector<uint8_t>;

std::string Str(std::span<const uint8_t> bytes)
{
    return std::string{reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

p2p::Hash256 MakeHash(uint8_t seed)
{
    p2p::Hash256 h;
    for (size_t i = 0; i < h.size(); ++i)
        h[i] = static_cast<uint8_t>(seed + 5 * i);
    return h;
}

Bytes ReadBlock413567()
{
    std::ifstream in{test::paths::BLOCK413567, std::ios::binary};
    return {std::istreambuf_iterator<char>{in}, {}};
}

using test::Contains;

class ConvertTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        ProducerOptions options = test::SmallProducer("convert", 1 << 16, /*global=*/true);
        // A record may take an eighth of its ring: the net ring must hold a 1 MB block.
        options.capacities[static_cast<size_t>(Subsystem::Net)] = 1 << 24;
        auto producer = Producer::Create(options);
        ASSERT_TRUE(producer) << producer.error().message();
        m_producer = std::move(producer.value());
        auto consumer = Consumer::Open(m_producer->Name());
        ASSERT_TRUE(consumer) << consumer.error().message();
        m_consumer = std::move(consumer.value());
        for (Subsystem ring :
             {Subsystem::Net, Subsystem::Mempool, Subsystem::Validation, Subsystem::Utxocache}) {
            Attach(ring, {});
        }
    }

    void Attach(Subsystem ring, const EnableOptions& options)
    {
        auto& slot = m_readers[ring];
        slot.reset();
        auto reader = test::AttachReader(*m_producer, *m_consumer, ring, options);
        ASSERT_TRUE(reader) << reader.error().message();
        slot.emplace(std::move(reader.value()));
    }

    //! Every event `ring` holds now, converted (nullopt where Convert skips one).
    std::vector<std::optional<Converted>> ConvertAll(Subsystem ring)
    {
        std::vector<std::optional<Converted>> out;
        auto n = (*m_readers[ring])->Poll([&](const EventView& ev) {
            out.push_back(Convert(ev, UNIX_MS));
        });
        EXPECT_TRUE(n) << n.error().message();
        return out;
    }

    //! The one event `ring` holds, converted and parsed back.
    ::event::Event One(Subsystem ring, Converted* converted = nullptr)
    {
        std::vector<std::optional<Converted>> all = ConvertAll(ring);
        ::event::Event event;
        if (all.size() != 1 || !all[0]) {
            ADD_FAILURE() << "expected one converted event, got " << all.size();
            return event;
        }
        EXPECT_TRUE(event.ParseFromString(all[0]->bytes));
        EXPECT_TRUE(event.IsInitialized()) << event.InitializationErrorString();
        EXPECT_EQ(event.timestamp(), UNIX_MS);
        EXPECT_EQ(event.peer_observer_event_case(), ::event::Event::kEbpfExtractor);
        if (converted) *converted = *all[0];
        return event;
    }

    //! `payload` sent to the node as message `command` from PEER (or by the node to PEER),
    //! converted; the metadata checked.
    pb_msg::MessageEvent Message(const std::string& command, std::span<const uint8_t> payload,
                                 Converted* converted = nullptr, bool inbound = true)
    {
        if (inbound) {
            bitcoin::net::inbound_message(PEER, PEER_ADDR, "outbound-full-relay", command.c_str(),
                                          payload.size(), payload.data());
        } else {
            bitcoin::net::outbound_message(PEER, PEER_ADDR, "outbound-full-relay", command.c_str(),
                                           payload.size(), payload.data());
        }
        Converted c;
        ::event::Event event = One(Subsystem::Net, &c);
        if (converted) *converted = c;
        EXPECT_EQ(c.subject, Subject::NetMsg);
        EXPECT_EQ(event.ebpf_extractor().ebpf_event_case(), ::ebpf_extractor::ebpf::kMessage);
        const pb_msg::MessageEvent& message = event.ebpf_extractor().message();
        const pb_msg::Metadata& meta = message.meta();
        EXPECT_EQ(meta.peer_id(), uint64_t(PEER));
        EXPECT_EQ(meta.addr(), PEER_ADDR);
        EXPECT_EQ(meta.conn_type(), primitives::OutboundFullRelay);
        EXPECT_EQ(meta.command(), command);
        EXPECT_EQ(meta.inbound(), inbound);
        EXPECT_EQ(meta.size(), payload.size());
        return message;
    }

    //! Like Message(), for a payload that must decode.
    pb_msg::MessageEvent Decoded(const std::string& command, std::span<const uint8_t> payload)
    {
        Converted c;
        pb_msg::MessageEvent message = Message(command, payload, &c);
        EXPECT_FALSE(c.undecodable) << command << ": " << c.error;
        EXPECT_NE(message.msg_case(), pb_msg::MessageEvent::kUnknown) << command;
        return message;
    }

    //! A payload that must not decode: sent as Unknown with every byte, flagged, and the
    //! error naming `why`.
    void ExpectUndecodable(const std::string& command, std::span<const uint8_t> payload,
                           const std::string& why)
    {
        SCOPED_TRACE(command);
        Converted c;
        pb_msg::MessageEvent message = Message(command, payload, &c);
        EXPECT_TRUE(c.undecodable);
        EXPECT_TRUE(Contains(c.error, why)) << c.error;
        ASSERT_EQ(message.msg_case(), pb_msg::MessageEvent::kUnknown);
        EXPECT_EQ(message.unknown().command(), command);
        EXPECT_EQ(message.unknown().payload(), Str(payload));
    }

    std::unique_ptr<Producer> m_producer;
    std::unique_ptr<Consumer> m_consumer;
    std::map<Subsystem, std::optional<test::LeasedReader>> m_readers;
};

// ----- the wire format itself ------------------------------------------------------------

//! Protobuf's encoding, written out: a varint, a field's key, a length-delimited field.
std::string Varint(uint64_t v)
{
    std::string out;
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
    return out;
}
std::string Key(int field, int wire_type) { return Varint(uint64_t(field) << 3 | wire_type); }
std::string Delimited(int field, const std::string& body)
{
    return Key(field, 2) + Varint(body.size()) + body;
}

TEST_F(ConvertTest, APingIsEncodedWithPeerObserversPublishedFieldNumbers)
{
    // event.Event{timestamp = 10, ebpf_extractor = 1 {message = 1 {meta = 1 {peer_id = 1,
    // addr = 2, conn_type = 3, command = 4, inbound = 5, size = 6}, ping = 2 {value = 1,
    // fixed64}}}}, built by hand from peer-observer's .proto files. C++ protobuf writes
    // fields in number order, so the bytes must be these exactly.
    const uint64_t nonce = 0x0123456789abcdef;
    std::string meta = Key(1, 0) + Varint(PEER) + Delimited(2, PEER_ADDR) + Key(3, 0) + Varint(2) +
                       Delimited(4, "ping") + Key(5, 0) + Varint(1) + Key(6, 0) + Varint(8);
    std::string ping = Key(1, 1) + Str(p2p::SerializeNonce(nonce));
    std::string message = Delimited(1, meta) + Delimited(2, ping);
    std::string expected = Delimited(1, Delimited(1, message)) + Key(10, 0) + Varint(UNIX_MS);

    const std::array<uint8_t, 8> payload = p2p::SerializeNonce(nonce);
    bitcoin::net::inbound_message(PEER, PEER_ADDR, "outbound-full-relay", "ping", 8,
                                  payload.data());
    std::vector<std::optional<Converted>> converted = ConvertAll(Subsystem::Net);
    ASSERT_EQ(converted.size(), 1u);
    ASSERT_TRUE(converted[0]);
    EXPECT_EQ(converted[0]->bytes, expected);

    // And the hand-made bytes read back as the same event with the generated classes.
    ::event::Event event;
    ASSERT_TRUE(event.ParseFromString(expected));
    EXPECT_TRUE(event.IsInitialized()) << event.InitializationErrorString();
    EXPECT_EQ(event.ebpf_extractor().message().ping().value(), nonce);
    EXPECT_EQ(event.ebpf_extractor().message().meta().addr(), PEER_ADDR);
}

TEST_F(ConvertTest, ProtocDecodesTheEventWithTheSchemaFiles)
{
    const std::array<uint8_t, 8> payload = p2p::SerializeNonce(7);
    bitcoin::net::outbound_message(PEER, PEER_ADDR, "inbound", "pong", 8, payload.data());
    std::vector<std::optional<Converted>> converted = ConvertAll(Subsystem::Net);
    ASSERT_EQ(converted.size(), 1u);
    ASSERT_TRUE(converted[0]);

    const std::string file =
        ::testing::TempDir() + "convert_test_event_" + std::to_string(::getpid()) + ".bin";
    std::ofstream{file, std::ios::binary} << converted[0]->bytes;
    const std::string command =
        std::string{TRACERING_PROTOC} +
        " --decode=event.Event --proto_path=" + test::paths::EXTRACTOR_PROTO + " event.proto < " +
        file + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr) << command;
    std::string text;
    char buffer[512];
    while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe))
        text.append(buffer, n);
    const int status = ::pclose(pipe);
    std::remove(file.c_str());
    EXPECT_EQ(status, 0) << command << "\n" << text;
    EXPECT_TRUE(Contains(text, "timestamp: 1700000000123")) << text;
    EXPECT_TRUE(Contains(text, "ebpf_extractor {")) << text;
    EXPECT_TRUE(Contains(text, "conn_type: Inbound")) << text;
    EXPECT_TRUE(Contains(text, "inbound: false")) << text;
    EXPECT_TRUE(Contains(text, "pong {\n      value: 7")) << text;
}

// ----- P2P messages ----------------------------------------------------------------------

TEST_F(ConvertTest, PingAndPongCarryTheirNonce)
{
    const std::array<uint8_t, 8> nonce = p2p::SerializeNonce(0xfedcba9876543210);
    pb_msg::MessageEvent ping = Decoded("ping", nonce);
    ASSERT_TRUE(ping.has_ping());
    EXPECT_EQ(ping.ping().value(), 0xfedcba9876543210u);

    Converted c;
    pb_msg::MessageEvent pong = Message("pong", nonce, &c, /*inbound=*/false);
    EXPECT_FALSE(c.undecodable);
    ASSERT_TRUE(pong.has_pong());
    EXPECT_EQ(pong.pong().value(), 0xfedcba9876543210u);
}

TEST_F(ConvertTest, EmptyPingAndAddrV2AreTheOldFormsPeerObserverNames)
{
    pb_msg::MessageEvent ping = Decoded("ping", {});
    EXPECT_EQ(ping.msg_case(), pb_msg::MessageEvent::kOldping);
    EXPECT_TRUE(ping.oldping());
    pb_msg::MessageEvent addrv2 = Decoded("addrv2", {});
    EXPECT_EQ(addrv2.msg_case(), pb_msg::MessageEvent::kEmptyaddrv2);
    EXPECT_TRUE(addrv2.emptyaddrv2());
}

TEST_F(ConvertTest, VersionHasEveryField)
{
    p2p::VersionMessage v;
    v.version = 70016;
    v.services = p2p::NODE_NETWORK | p2p::NODE_WITNESS;
    v.timestamp = 1'700'000'001;
    v.addr_recv = p2p::NetAddress::FromIPv4({198, 51, 100, 9}, 18444, 0);
    v.addr_from.services = p2p::NODE_WITNESS;
    v.addr_from.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    v.addr_from.port = 8333;
    v.nonce = 0x1122334455667788;
    v.user_agent = "/Satoshi:31.0.0/";
    v.start_height = 912345;
    v.relay = false;
    const Bytes payload = p2p::SerializeVersion(v);
    pb_msg::MessageEvent message = Decoded("version", payload);
    ASSERT_TRUE(message.has_version());
    const pb_msg::Version& version = message.version();
    EXPECT_EQ(version.version(), 70016u);
    EXPECT_EQ(version.services(), p2p::NODE_NETWORK | p2p::NODE_WITNESS);
    EXPECT_EQ(version.timestamp(), 1'700'000'001);
    EXPECT_EQ(version.receiver().timestamp(), 0u);
    EXPECT_EQ(version.receiver().ipv4(), "198.51.100.9");
    EXPECT_EQ(version.receiver().port(), 18444u);
    EXPECT_EQ(version.receiver().services(), 0u);
    EXPECT_EQ(version.sender().timestamp(), 0u);
    EXPECT_EQ(version.sender().ipv6(), "2001:db8::1");
    EXPECT_EQ(version.sender().port(), 8333u);
    EXPECT_EQ(version.sender().services(), p2p::NODE_WITNESS);
    EXPECT_EQ(version.nonce(), 0x1122334455667788u);
    EXPECT_EQ(version.user_agent(), "/Satoshi:31.0.0/");
    EXPECT_EQ(version.start_height(), 912345);
    EXPECT_FALSE(version.relay());

    // The 46-byte minimum Bitcoin Core accepts: the rest at Core's defaults, the sender
    // unspecified (0.0.0.0, as peer-observer names the zero address).
    pb_msg::MessageEvent minimal = Decoded("version", std::span{payload}.first(46));
    EXPECT_EQ(minimal.version().sender().ipv4(), "0.0.0.0");
    EXPECT_EQ(minimal.version().user_agent(), "");
    EXPECT_TRUE(minimal.version().relay());
}

TEST_F(ConvertTest, InventoryItemsKeepTheirTypeAndHash)
{
    const std::vector<uint32_t> types{p2p::MSG_TX,
                                      p2p::MSG_BLOCK,
                                      p2p::MSG_WTX,
                                      p2p::MSG_WITNESS_TX,
                                      p2p::MSG_WITNESS_BLOCK,
                                      p2p::MSG_CMPCT_BLOCK,
                                      p2p::MSG_FILTERED_BLOCK,
                                      0};
    Bytes payload;
    p2p::WriteCompactSize(payload, types.size());
    for (size_t i = 0; i < types.size(); ++i) {
        p2p::WriteU32(payload, types[i]);
        p2p::WriteBytes(payload, MakeHash(static_cast<uint8_t>(i)));
    }
    using Item = primitives::InventoryItem;
    for (const std::string command : {"inv", "getdata", "notfound"}) {
        SCOPED_TRACE(command);
        pb_msg::MessageEvent message = Decoded(command, payload);
        const auto& items = command == "inv"       ? message.inv().items()
                            : command == "getdata" ? message.getdata().items()
                                                   : message.notfound().items();
        ASSERT_EQ(items.size(), 8);
        EXPECT_EQ(items[0].transaction(), Str(MakeHash(0)));
        EXPECT_EQ(items[1].block(), Str(MakeHash(1)));
        EXPECT_EQ(items[2].wtx(), Str(MakeHash(2)));
        EXPECT_EQ(items[3].witness_transaction(), Str(MakeHash(3)));
        EXPECT_EQ(items[4].witness_block(), Str(MakeHash(4)));
        EXPECT_EQ(items[5].compact_block(), Str(MakeHash(5)));
        ASSERT_EQ(items[6].item_case(), Item::kUnknown);
        EXPECT_EQ(items[6].unknown().inv_type(), p2p::MSG_FILTERED_BLOCK);
        EXPECT_EQ(items[6].unknown().hash(), Str(MakeHash(6)));
        ASSERT_EQ(items[7].item_case(), Item::kError);
        EXPECT_TRUE(items[7].error());
    }
    pb_msg::MessageEvent empty = Decoded("inv", Bytes{0});
    EXPECT_TRUE(empty.has_inv());
    EXPECT_EQ(empty.inv().items_size(), 0);
}

TEST_F(ConvertTest, AddrEntriesHaveTimeServicesPortAndTheirNetwork)
{
    struct Entry {
        std::array<uint8_t, 16> ip;
        const char* text;
        primitives::Address::AddressCase network;
    };
    const std::vector<Entry> entries{
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4},
         "1.2.3.4",
         primitives::Address::kIpv4},
        {{0x2a, 0x01, 0x04, 0xf8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xef},
         "2a01:4f8::beef",
         primitives::Address::kIpv6},
        // The address in peer-observer's own test of this conversion.
        {{0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43, 0xed, 0xb1, 0x08, 0xe4, 0x35, 0x88, 0xe5, 0x46, 0x35,
          0xca},
         "5wyqrzbvrdsumnok.onion",
         primitives::Address::kTorv2},
    };
    Bytes payload;
    p2p::WriteCompactSize(payload, entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        p2p::WriteU32(payload, 1'699'000'000 + uint32_t(i));
        p2p::WriteU64(payload, p2p::NODE_NETWORK | i);
        p2p::WriteBytes(payload, entries[i].ip);
        p2p::WriteU16BE(payload, static_cast<uint16_t>(8333 + i));
    }
    pb_msg::MessageEvent message = Decoded("addr", payload);
    ASSERT_TRUE(message.has_addr());
    ASSERT_EQ(message.addr().addresses_size(), 3);
    for (int i = 0; i < 3; ++i) {
        const primitives::Address& a = message.addr().addresses(i);
        EXPECT_EQ(a.timestamp(), 1'699'000'000u + i);
        EXPECT_EQ(a.services(), p2p::NODE_NETWORK | i);
        EXPECT_EQ(a.port(), 8333u + i);
        ASSERT_EQ(a.address_case(), entries[i].network) << i;
    }
    EXPECT_EQ(message.addr().addresses(0).ipv4(), "1.2.3.4");
    EXPECT_EQ(message.addr().addresses(1).ipv6(), "2a01:4f8::beef");
    EXPECT_EQ(message.addr().addresses(2).torv2(), "5wyqrzbvrdsumnok.onion");
}

TEST_F(ConvertTest, AddrV2NamesEveryBip155Network)
{
    Bytes v4{10, 0, 0, 1};
    Bytes v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    // A Tor v3 key from Bitcoin Core's tests; its address has a checksum and version byte.
    Bytes torv3{0x79, 0xbc, 0xc6, 0x25, 0x18, 0x4b, 0x05, 0x19, 0x49, 0x75, 0xc2,
                0x8b, 0x66, 0xb6, 0x6b, 0x04, 0x69, 0xf7, 0xf6, 0x55, 0x6f, 0xb1,
                0xac, 0x31, 0x89, 0xa7, 0x9b, 0x40, 0xdd, 0xa3, 0x2f, 0x1f};
    Bytes i2p(32);
    for (size_t i = 0; i < i2p.size(); ++i)
        i2p[i] = static_cast<uint8_t>(i);
    Bytes cjdns{0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    Bytes unknown{9, 8, 7};
    const std::vector<std::pair<uint8_t, Bytes>> entries{{1, v4},  {2, v6},    {4, torv3},
                                                         {5, i2p}, {6, cjdns}, {42, unknown}};

    Bytes payload;
    p2p::WriteCompactSize(payload, entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        p2p::WriteU32(payload, 1'698'000'000 + uint32_t(i));
        p2p::WriteCompactSize(payload, p2p::NODE_NETWORK_LIMITED | p2p::NODE_WITNESS);
        p2p::WriteU8(payload, entries[i].first);
        p2p::WriteVarBytes(payload, entries[i].second);
        p2p::WriteU16BE(payload, static_cast<uint16_t>(18444 + i));
    }
    pb_msg::MessageEvent message = Decoded("addrv2", payload);
    ASSERT_TRUE(message.has_addrv2());
    const auto& a = message.addrv2().addresses();
    ASSERT_EQ(a.size(), 6);
    for (int i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].timestamp(), 1'698'000'000u + i);
        EXPECT_EQ(a[i].services(), p2p::NODE_NETWORK_LIMITED | p2p::NODE_WITNESS);
        EXPECT_EQ(a[i].port(), 18444u + i);
    }
    EXPECT_EQ(a[0].ipv4(), "10.0.0.1");
    EXPECT_EQ(a[1].ipv6(), "2001:db8:0:1::1");
    EXPECT_EQ(a[2].torv3(), "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion");
    EXPECT_EQ(a[3].i2p(), "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypq.b32.i2p");
    EXPECT_EQ(a[4].cjdns(), "fc00::1");
    ASSERT_EQ(a[5].address_case(), primitives::Address::kUnknown);
    EXPECT_EQ(a[5].unknown().id(), 42u);
    EXPECT_EQ(a[5].unknown().address(), Str(unknown));
}

TEST_F(ConvertTest, HeadersAndLocatorsCarryEveryHash)
{
    const Bytes block = ReadBlock413567();
    ASSERT_EQ(block.size(), 999'887u) << "test data missing: " << test::paths::BLOCK413567;
    p2p::BlockHeader second;
    second.version = 0x20000000;
    second.prev_block = p2p::DoubleSha256Of(std::span{block}.first(80));
    second.merkle_root = MakeHash(9);
    second.time = 1464307999;
    second.bits = 0x18062776;
    second.nonce = 12345;
    std::array<uint8_t, 80> second_bytes;
    p2p::SerializeBlockHeader(second, second_bytes);

    Bytes headers;
    p2p::WriteCompactSize(headers, 2);
    p2p::WriteBytes(headers, std::span{block}.first(80));
    p2p::WriteCompactSize(headers, 0);
    p2p::WriteBytes(headers, second_bytes);
    p2p::WriteCompactSize(headers, 0);
    pb_msg::MessageEvent message = Decoded("headers", headers);
    ASSERT_EQ(message.headers().headers_size(), 2);
    const primitives::BlockHeader& first = message.headers().headers(0);
    EXPECT_EQ(first.hash(),
              Str(*p2p::HashFromDisplayHex(
                  "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069")));
    EXPECT_EQ(first.prev_blockhash(),
              Str(*p2p::HashFromDisplayHex(
                  "00000000000000000542b54d29b12b523ff6c6474e0e86085bd3005ec6c5ce11")));
    EXPECT_EQ(first.time(), 1464307123u);
    const primitives::BlockHeader& h = message.headers().headers(1);
    EXPECT_EQ(h.version(), 0x20000000);
    EXPECT_EQ(h.prev_blockhash(), first.hash());
    EXPECT_EQ(h.merkle_root(), Str(MakeHash(9)));
    EXPECT_EQ(h.time(), 1464307999u);
    EXPECT_EQ(h.bits(), 0x18062776u);
    EXPECT_EQ(h.nonce(), 12345u);
    EXPECT_EQ(h.hash(), Str(p2p::DoubleSha256Of(second_bytes)));

    Bytes locator;
    p2p::WriteU32(locator, 70016);
    p2p::WriteCompactSize(locator, 2);
    p2p::WriteBytes(locator, MakeHash(1));
    p2p::WriteBytes(locator, MakeHash(2));
    p2p::WriteBytes(locator, p2p::Hash256{});
    auto check = [](const auto& l) {
        EXPECT_EQ(l.version(), 70016u);
        ASSERT_EQ(l.locator_hashes_size(), 2);
        EXPECT_EQ(l.locator_hashes(0), Str(MakeHash(1)));
        EXPECT_EQ(l.locator_hashes(1), Str(MakeHash(2)));
        EXPECT_EQ(l.stop_hash(), std::string(32, '\0'));
    };
    pb_msg::MessageEvent getheaders = Decoded("getheaders", locator);
    ASSERT_TRUE(getheaders.has_getheaders());
    check(getheaders.getheaders());
    pb_msg::MessageEvent getblocks = Decoded("getblocks", locator);
    ASSERT_TRUE(getblocks.has_getblocks());
    check(getblocks.getblocks());
}

TEST_F(ConvertTest, FeeFilterAndSendCmpctCarryTheirValues)
{
    Bytes fee;
    p2p::WriteI64(fee, 1000);
    EXPECT_EQ(Decoded("feefilter", fee).feefilter().fee(), 1000);
    Bytes negative;
    p2p::WriteI64(negative, -5);
    EXPECT_EQ(Decoded("feefilter", negative).feefilter().fee(), -5);

    Bytes sendcmpct{1};
    p2p::WriteU64(sendcmpct, 2);
    pb_msg::MessageEvent message = Decoded("sendcmpct", sendcmpct);
    EXPECT_TRUE(message.sendcompact().send_compact());
    EXPECT_EQ(message.sendcompact().version(), 2u);
    sendcmpct[0] = 0;
    EXPECT_FALSE(Decoded("sendcmpct", sendcmpct).sendcompact().send_compact());
}

TEST_F(ConvertTest, TxHasTxidWtxidAndTheRawBytes)
{
    const Bytes segwit = p2p::MakeTransaction(21, /*segwit=*/true);
    const p2p::TransactionInfo info = p2p::ParseTransaction(segwit).value();
    pb_msg::MessageEvent message = Decoded("tx", segwit);
    const primitives::Transaction& tx = message.tx().tx();
    EXPECT_EQ(tx.txid(), Str(info.txid));
    EXPECT_EQ(tx.wtxid(), Str(p2p::DoubleSha256Of(segwit)));
    EXPECT_NE(tx.txid(), tx.wtxid());
    ASSERT_TRUE(tx.has_raw());
    EXPECT_EQ(tx.raw(), Str(segwit));

    const Bytes legacy = p2p::MakeTransaction(21, /*segwit=*/false);
    pb_msg::MessageEvent plain = Decoded("tx", legacy);
    EXPECT_EQ(plain.tx().tx().txid(), Str(p2p::DoubleSha256Of(legacy)));
    EXPECT_EQ(plain.tx().tx().wtxid(), plain.tx().tx().txid());
}

TEST_F(ConvertTest, MainnetBlock413567HasItsHeaderAndAll1557Transactions)
{
    const Bytes block = ReadBlock413567();
    ASSERT_EQ(block.size(), 999'887u) << "test data missing: " << test::paths::BLOCK413567;
    const p2p::BlockInfo expected = p2p::ParseBlock(block, p2p::Txids::Compute).value();

    pb_msg::MessageEvent message = Decoded("block", block);
    ASSERT_TRUE(message.has_block());
    const primitives::BlockHeader& header = message.block().header();
    EXPECT_EQ(header.hash(),
              Str(*p2p::HashFromDisplayHex(
                  "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069")));
    EXPECT_EQ(header.prev_blockhash(),
              Str(*p2p::HashFromDisplayHex(
                  "00000000000000000542b54d29b12b523ff6c6474e0e86085bd3005ec6c5ce11")));
    EXPECT_EQ(header.merkle_root(), Str(expected.header.merkle_root));
    EXPECT_EQ(header.version(), expected.header.version);
    EXPECT_EQ(header.time(), 1464307123u);
    EXPECT_EQ(header.bits(), expected.header.bits);
    EXPECT_EQ(header.nonce(), expected.header.nonce);

    const auto& txs = message.block().transactions();
    ASSERT_EQ(txs.size(), 1557);
    // The raw transactions follow each other after the header and the count: together they
    // are the whole block.
    std::string rebuilt = Str(std::span{block}.first(80 + 3));
    std::vector<p2p::Hash256> txids;
    for (int i = 0; i < txs.size(); ++i) {
        ASSERT_EQ(txs[i].txid(), Str(expected.txids[i])) << i;
        ASSERT_EQ(txs[i].wtxid(), txs[i].txid()) << i; // no segwit transaction in 2016
        ASSERT_EQ(txs[i].txid(),
                  Str(p2p::DoubleSha256Of({reinterpret_cast<const uint8_t*>(txs[i].raw().data()),
                                           txs[i].raw().size()})))
            << i;
        rebuilt += txs[i].raw();
        txids.push_back(expected.txids[i]);
    }
    EXPECT_TRUE(rebuilt == Str(block));
    EXPECT_EQ(Str(p2p::ComputeMerkleRoot(txids)), header.merkle_root());
}

TEST_F(ConvertTest, CompactBlocksAndBlockTransactionsKeepEveryPart)
{
    const Bytes block = ReadBlock413567();
    ASSERT_EQ(block.size(), 999'887u) << "test data missing: " << test::paths::BLOCK413567;
    const Bytes tx = p2p::MakeTransaction(4, /*segwit=*/true);
    const p2p::TransactionInfo info = p2p::ParseTransaction(tx).value();

    Bytes cmpct{block.begin(), block.begin() + 80};
    p2p::WriteU64(cmpct, 0xabcdef);
    p2p::WriteCompactSize(cmpct, 2);
    p2p::WriteBytes(cmpct, Bytes{1, 2, 3, 4, 5, 6});
    p2p::WriteBytes(cmpct, Bytes{7, 8, 9, 10, 11, 12});
    p2p::WriteCompactSize(cmpct, 1);
    p2p::WriteCompactSize(cmpct, 3);
    p2p::WriteBytes(cmpct, tx);
    pb_msg::MessageEvent message = Decoded("cmpctblock", cmpct);
    const pb_msg::CompactBlock& c = message.compactblock();
    EXPECT_EQ(c.header().time(), 1464307123u);
    EXPECT_EQ(c.header().hash(), Str(p2p::DoubleSha256Of(std::span{block}.first(80))));
    EXPECT_EQ(c.nonce(), 0xabcdefu);
    ASSERT_EQ(c.short_ids_size(), 2);
    EXPECT_EQ(c.short_ids(0), Str(Bytes{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(c.short_ids(1), Str(Bytes{7, 8, 9, 10, 11, 12}));
    ASSERT_EQ(c.transactions_size(), 1);
    EXPECT_EQ(c.transactions(0).diff_index(), 3u);
    EXPECT_EQ(c.transactions(0).tx().txid(), Str(info.txid));
    EXPECT_EQ(c.transactions(0).tx().raw(), Str(tx));

    Bytes request;
    p2p::WriteBytes(request, MakeHash(3));
    p2p::WriteCompactSize(request, 3);
    for (uint64_t diff : {2, 0, 10})
        p2p::WriteCompactSize(request, diff);
    pb_msg::MessageEvent get = Decoded("getblocktxn", request);
    EXPECT_EQ(get.getblocktxn().block_hash(), Str(MakeHash(3)));
    EXPECT_EQ(std::vector<uint64_t>(get.getblocktxn().tx_indexes().begin(),
                                    get.getblocktxn().tx_indexes().end()),
              (std::vector<uint64_t>{2, 3, 14}));

    Bytes response;
    p2p::WriteBytes(response, MakeHash(3));
    p2p::WriteCompactSize(response, 2);
    p2p::WriteBytes(response, tx);
    p2p::WriteBytes(response, p2p::MakeTransaction(5, false));
    pb_msg::MessageEvent txn = Decoded("blocktxn", response);
    EXPECT_EQ(txn.blocktxn().block_hash(), Str(MakeHash(3)));
    ASSERT_EQ(txn.blocktxn().transactions_size(), 2);
    EXPECT_EQ(txn.blocktxn().transactions(0).wtxid(), Str(p2p::DoubleSha256Of(tx)));
    EXPECT_EQ(txn.blocktxn().transactions(1).raw(), Str(p2p::MakeTransaction(5, false)));
}

TEST_F(ConvertTest, Bip37AndBip157MessagesAreDecoded)
{
    const Bytes block = ReadBlock413567();
    ASSERT_EQ(block.size(), 999'887u) << "test data missing: " << test::paths::BLOCK413567;
    Bytes merkle{block.begin(), block.begin() + 80};
    p2p::WriteU32(merkle, 1557);
    p2p::WriteCompactSize(merkle, 2);
    p2p::WriteBytes(merkle, MakeHash(1));
    p2p::WriteBytes(merkle, MakeHash(2));
    p2p::WriteVarBytes(merkle, Bytes{0x05, 0x80});
    pb_msg::MessageEvent mb = Decoded("merkleblock", merkle);
    EXPECT_EQ(mb.merkleblock().num_transactions(), 1557u);
    EXPECT_EQ(mb.merkleblock().header().time(), 1464307123u);
    ASSERT_EQ(mb.merkleblock().hashes_size(), 2);
    EXPECT_EQ(mb.merkleblock().hashes(1), Str(MakeHash(2)));
    // 0x05 0x80: bits 0 and 2 of the first byte, bit 7 of the second, 16 bits in all.
    std::vector<bool> bits(mb.merkleblock().bits().begin(), mb.merkleblock().bits().end());
    std::vector<bool> expected_bits(16, false);
    expected_bits[0] = expected_bits[2] = expected_bits[15] = true;
    EXPECT_EQ(bits, expected_bits);

    Bytes load;
    p2p::WriteVarBytes(load, Bytes{0xde, 0xad, 0xbe, 0xef});
    p2p::WriteU32(load, 11);
    p2p::WriteU32(load, 0x12345678);
    p2p::WriteU8(load, 2);
    pb_msg::MessageEvent fl = Decoded("filterload", load);
    EXPECT_EQ(fl.filterload().filter(), "\xde\xad\xbe\xef");
    EXPECT_EQ(fl.filterload().hash_funcs(), 11u);
    EXPECT_EQ(fl.filterload().tweak(), 0x12345678u);
    EXPECT_EQ(fl.filterload().flags(), pb_msg::FilterLoad::PubkeyOnly);

    Bytes add;
    p2p::WriteVarBytes(add, Bytes(33, 0x02));
    EXPECT_EQ(Decoded("filteradd", add).filteradd().filter(), std::string(33, '\x02'));

    Bytes get_filters{0};
    p2p::WriteU32(get_filters, 700000);
    p2p::WriteBytes(get_filters, MakeHash(7));
    pb_msg::MessageEvent gcf = Decoded("getcfilters", get_filters);
    EXPECT_EQ(gcf.getcfilter().filter_type(), 0u);
    EXPECT_EQ(gcf.getcfilter().start_height(), 700000u);
    EXPECT_EQ(gcf.getcfilter().stop_hash(), Str(MakeHash(7)));
    pb_msg::MessageEvent gch = Decoded("getcfheaders", get_filters);
    EXPECT_EQ(gch.getcfheaders().start_height(), 700000u);
    EXPECT_EQ(gch.getcfheaders().stop_hash(), Str(MakeHash(7)));

    Bytes cfilter{0};
    p2p::WriteBytes(cfilter, MakeHash(8));
    p2p::WriteVarBytes(cfilter, Bytes{1, 2, 3});
    pb_msg::MessageEvent cf = Decoded("cfilter", cfilter);
    EXPECT_EQ(cf.cfilter().block_hash(), Str(MakeHash(8)));
    EXPECT_EQ(cf.cfilter().filter(), "\x01\x02\x03");

    Bytes cfheaders{0};
    p2p::WriteBytes(cfheaders, MakeHash(9));
    p2p::WriteBytes(cfheaders, MakeHash(10));
    p2p::WriteCompactSize(cfheaders, 1);
    p2p::WriteBytes(cfheaders, MakeHash(11));
    pb_msg::MessageEvent cfh = Decoded("cfheaders", cfheaders);
    EXPECT_EQ(cfh.cfheaders().stop_hash(), Str(MakeHash(9)));
    EXPECT_EQ(cfh.cfheaders().previous_filter_header(), Str(MakeHash(10)));
    ASSERT_EQ(cfh.cfheaders().filter_hashes_size(), 1);
    EXPECT_EQ(cfh.cfheaders().filter_hashes(0), Str(MakeHash(11)));

    Bytes get_checkpoint{0};
    p2p::WriteBytes(get_checkpoint, MakeHash(12));
    EXPECT_EQ(Decoded("getcfcheckpt", get_checkpoint).getcfcheckpt().stop_hash(),
              Str(MakeHash(12)));
    Bytes checkpoint = get_checkpoint;
    p2p::WriteCompactSize(checkpoint, 2);
    p2p::WriteBytes(checkpoint, MakeHash(13));
    p2p::WriteBytes(checkpoint, MakeHash(14));
    pb_msg::MessageEvent cp = Decoded("cfcheckpt", checkpoint);
    ASSERT_EQ(cp.cfcheckpt().filter_headers_size(), 2);
    EXPECT_EQ(cp.cfcheckpt().filter_headers(1), Str(MakeHash(14)));
}

TEST_F(ConvertTest, RejectAndAlertAreDecoded)
{
    Bytes reject;
    p2p::WriteVarBytes(reject, Bytes{'t', 'x'});
    p2p::WriteU8(reject, 0x42);
    const std::string reason = "min relay fee not met";
    p2p::WriteVarBytes(reject, Bytes{reason.begin(), reason.end()});
    p2p::WriteBytes(reject, MakeHash(4));
    pb_msg::MessageEvent r = Decoded("reject", reject);
    EXPECT_EQ(r.reject().rejected_command(), "tx");
    EXPECT_EQ(r.reject().reason(), pb_msg::Reject::FEE);
    EXPECT_EQ(r.reject().reason_details(), reason);
    EXPECT_EQ(r.reject().hash(), Str(MakeHash(4)));
    // Without a hash (a rejected version, say): 32 zero bytes, as tools read 32.
    pb_msg::MessageEvent no_hash = Decoded("reject", std::span{reject}.first(reject.size() - 32));
    EXPECT_EQ(no_hash.reject().hash(), std::string(32, '\0'));

    Bytes alert;
    p2p::WriteVarBytes(alert, Bytes{1, 2, 3, 4});
    p2p::WriteVarBytes(alert, Bytes(71, 0x30));
    EXPECT_EQ(Decoded("alert", alert).alert().alert(), "\x01\x02\x03\x04");
}

TEST_F(ConvertTest, MessagesWithoutPayloadAreTrueFlags)
{
    using Case = pb_msg::MessageEvent::MsgCase;
    const std::vector<std::pair<std::string, Case>> cases{
        {"verack", pb_msg::MessageEvent::kVerack},
        {"sendheaders", pb_msg::MessageEvent::kSendheaders},
        {"getaddr", pb_msg::MessageEvent::kGetaddr},
        {"mempool", pb_msg::MessageEvent::kMempool},
        {"wtxidrelay", pb_msg::MessageEvent::kWtxidrelay},
        {"sendaddrv2", pb_msg::MessageEvent::kSendaddrv2},
        {"filterclear", pb_msg::MessageEvent::kFilterclear},
    };
    for (const auto& [command, expected] : cases) {
        SCOPED_TRACE(command);
        pb_msg::MessageEvent message = Decoded(command, {});
        ASSERT_EQ(message.msg_case(), expected);
        // Each variant is a bool field that is set and true.
        const auto* field = message.GetDescriptor()->FindFieldByNumber(expected);
        ASSERT_NE(field, nullptr);
        EXPECT_TRUE(message.GetReflection()->GetBool(message, field));
    }
}

TEST_F(ConvertTest, UnknownCommandsGoOutWithTheirPayload)
{
    Bytes payload;
    p2p::WriteU32(payload, 1);
    p2p::WriteU64(payload, 0x0102030405060708);
    Converted c;
    pb_msg::MessageEvent message = Message("sendtxrcncl", payload, &c);
    EXPECT_FALSE(c.undecodable); // a type without a variant is not a failure
    ASSERT_EQ(message.msg_case(), pb_msg::MessageEvent::kUnknown);
    EXPECT_EQ(message.unknown().command(), "sendtxrcncl");
    EXPECT_EQ(message.unknown().payload(), Str(payload));
}

TEST_F(ConvertTest, PayloadsThatDoNotDecodeGoOutAsUnknownAndAreFlagged)
{
    Bytes short_inv;
    p2p::WriteCompactSize(short_inv, 2);
    p2p::WriteU32(short_inv, 1);
    p2p::WriteBytes(short_inv, MakeHash(1));
    ExpectUndecodable("inv", short_inv, "malformed inventory: inventory count: 2 entries");
    ExpectUndecodable("version", Bytes(10, 0x11), "malformed version message");
    ExpectUndecodable("ping", Bytes(7, 1), "nonce: needs 8 bytes");
    ExpectUndecodable("ping", Bytes(9, 1), "1 bytes after the last field");
    ExpectUndecodable("verack", Bytes{0}, "without payload");
    Bytes garbage(300);
    for (size_t i = 0; i < garbage.size(); ++i)
        garbage[i] = static_cast<uint8_t>(i * 97 + 13);
    ExpectUndecodable("block", garbage, "malformed block");
    Bytes tx = p2p::MakeTransaction(2, false);
    tx.push_back(0);
    ExpectUndecodable("tx", tx, "1 bytes after the last field");

    Bytes bad_torv3;
    p2p::WriteCompactSize(bad_torv3, 1);
    p2p::WriteU32(bad_torv3, 0);
    p2p::WriteCompactSize(bad_torv3, 0);
    p2p::WriteU8(bad_torv3, 4);
    p2p::WriteVarBytes(bad_torv3, Bytes(31, 1));
    p2p::WriteU16BE(bad_torv3, 9050);
    ExpectUndecodable("addrv2", bad_torv3, "31 bytes instead of 32");

    Bytes load;
    p2p::WriteVarBytes(load, Bytes{1});
    p2p::WriteU32(load, 1);
    p2p::WriteU32(load, 1);
    p2p::WriteU8(load, 3);
    ExpectUndecodable("filterload", load, "flags 3");

    Bytes reject;
    p2p::WriteVarBytes(reject, Bytes{'t', 'x'});
    p2p::WriteU8(reject, 0x99);
    p2p::WriteVarBytes(reject, Bytes{});
    ExpectUndecodable("reject", reject, "code 153");

    // Strings go out as protobuf `string`s, which must be UTF-8.
    p2p::VersionMessage v;
    v.user_agent = "/bad\xff\xfe/";
    ExpectUndecodable("version", p2p::SerializeVersion(v), "user agent is not UTF-8");
}

TEST_F(ConvertTest, APayloadCutByThePayloadLimitIsUnknownAndFlagged)
{
    EnableOptions limited;
    limited.payload_limit = 16;
    Attach(Subsystem::Net, limited);
    const Bytes tx = p2p::MakeTransaction(1, false);
    bitcoin::net::inbound_message(PEER, PEER_ADDR, "inbound", "tx", tx.size(), tx.data());
    Converted c;
    ::event::Event event = One(Subsystem::Net, &c);
    EXPECT_TRUE(c.undecodable);
    EXPECT_TRUE(Contains(c.error, "cut to 16 bytes")) << c.error;
    const pb_msg::MessageEvent& message = event.ebpf_extractor().message();
    EXPECT_EQ(message.meta().size(), tx.size()); // the message's size, not the part kept
    ASSERT_EQ(message.msg_case(), pb_msg::MessageEvent::kUnknown);
    EXPECT_EQ(message.unknown().payload(), Str(std::span{tx}.first(16)));
}

TEST_F(ConvertTest, NodeStringsThatAreNotUtf8AreMadeUtf8)
{
    const std::array<uint8_t, 8> nonce = p2p::SerializeNonce(1);
    bitcoin::net::inbound_message(PEER, "1.2.3.4:\xff\x38", "inbound", "ping", 8, nonce.data());
    ::event::Event event = One(Subsystem::Net);
    EXPECT_EQ(event.ebpf_extractor().message().meta().addr(), "1.2.3.4:\xef\xbf\xbd\x38");
    EXPECT_EQ(event.ebpf_extractor().message().ping().value(), 1u);
}

// ----- connections -----------------------------------------------------------------------

TEST_F(ConvertTest, ConnectionEventsCarryTheirPeerAndCounts)
{
    const std::string onion = std::string(56, 'q') + ".onion:8333";
    bitcoin::net::inbound_connection(11, "[2001:db8::2]:8333", "inbound", 2, 5);
    bitcoin::net::outbound_connection(12, onion.c_str(), "block-relay-only", 3, 2);
    bitcoin::net::closed_connection(13, "1.2.3.4:8333", "feeler", 1, 1'700'000'000);
    bitcoin::net::evicted_inbound_connection(14, "5.6.7.8:8333", "inbound", 1, 1'690'000'000);
    bitcoin::net::misbehaving_connection(15, "header with invalid proof of work");
    std::vector<std::optional<Converted>> all = ConvertAll(Subsystem::Net);
    ASSERT_EQ(all.size(), 5u);
    std::vector<pb_conn::ConnectionEvent> events;
    for (const auto& converted : all) {
        ASSERT_TRUE(converted);
        EXPECT_EQ(converted->subject, Subject::NetConn);
        EXPECT_FALSE(converted->undecodable);
        ::event::Event event;
        ASSERT_TRUE(event.ParseFromString(converted->bytes));
        EXPECT_TRUE(event.IsInitialized()) << event.InitializationErrorString();
        EXPECT_EQ(event.timestamp(), UNIX_MS);
        ASSERT_EQ(event.ebpf_extractor().ebpf_event_case(), ::ebpf_extractor::ebpf::kConnection);
        events.push_back(event.ebpf_extractor().connection());
    }
    ASSERT_EQ(events[0].event_case(), pb_conn::ConnectionEvent::kInbound);
    const pb_conn::InboundConnection& in = events[0].inbound();
    EXPECT_EQ(in.conn().peer_id(), 11u);
    EXPECT_EQ(in.conn().addr(), "[2001:db8::2]:8333");
    EXPECT_EQ(in.conn().conn_type(), primitives::Inbound);
    EXPECT_EQ(in.conn().network(), 2u);
    EXPECT_EQ(in.existing_connections(), 5u);

    ASSERT_EQ(events[1].event_case(), pb_conn::ConnectionEvent::kOutbound);
    const pb_conn::OutboundConnection& out = events[1].outbound();
    EXPECT_EQ(out.conn().peer_id(), 12u);
    EXPECT_EQ(out.conn().addr(), onion);
    EXPECT_EQ(out.conn().conn_type(), primitives::BlockRelayOnly);
    EXPECT_EQ(out.conn().network(), 3u);
    EXPECT_EQ(out.existing_connections(), 2u);

    ASSERT_EQ(events[2].event_case(), pb_conn::ConnectionEvent::kClosed);
    const pb_conn::ClosedConnection& closed = events[2].closed();
    EXPECT_EQ(closed.conn().peer_id(), 13u);
    EXPECT_EQ(closed.conn().addr(), "1.2.3.4:8333");
    EXPECT_EQ(closed.conn().conn_type(), primitives::Feeler);
    EXPECT_EQ(closed.conn().network(), 1u);
    EXPECT_EQ(closed.time_established(), 1'700'000'000u);

    ASSERT_EQ(events[3].event_case(), pb_conn::ConnectionEvent::kInboundEvicted);
    const pb_conn::EvictedInboundConnection& evicted = events[3].inbound_evicted();
    EXPECT_EQ(evicted.conn().peer_id(), 14u);
    EXPECT_EQ(evicted.conn().addr(), "5.6.7.8:8333");
    EXPECT_EQ(evicted.conn().conn_type(), primitives::Inbound);
    EXPECT_EQ(evicted.time_established(), 1'690'000'000u);

    ASSERT_EQ(events[4].event_case(), pb_conn::ConnectionEvent::kMisbehaving);
    EXPECT_EQ(events[4].misbehaving().id(), 15u);
    EXPECT_EQ(events[4].misbehaving().message(), "header with invalid proof of work");
}

TEST_F(ConvertTest, ConnectionTypesMapToPeerObserversEnum)
{
    // Feeler is the schema's 4 (peer-observer's ebpf-extractor sends 2; see ToConnType).
    const std::vector<std::pair<const char*, primitives::ConnType>> cases{
        {"inbound", primitives::Inbound},
        {"outbound-full-relay", primitives::OutboundFullRelay},
        {"block-relay-only", primitives::BlockRelayOnly},
        {"feeler", primitives::Feeler},
        {"manual", primitives::Unknown},
        {"addr-fetch", primitives::Unknown},
        {"private-broadcast", primitives::Unknown},
        {"from-the-future", primitives::Unknown},
    };
    for (const auto& [name, expected] : cases) {
        SCOPED_TRACE(name);
        bitcoin::net::inbound_connection(1, "1.1.1.1:1", name, 1, 1);
        ::event::Event event = One(Subsystem::Net);
        EXPECT_EQ(event.ebpf_extractor().connection().inbound().conn().conn_type(), expected);
    }
    // A time before 1970 (never sent by a node) would underflow tools' subtraction: 0.
    bitcoin::net::closed_connection(1, "1.1.1.1:1", "inbound", 1, -5);
    EXPECT_EQ(One(Subsystem::Net).ebpf_extractor().connection().closed().time_established(), 0u);
}

// ----- mempool and validation ------------------------------------------------------------

TEST_F(ConvertTest, MempoolEventsCarryTxidsFeesAndReasons)
{
    const p2p::Hash256 a = MakeHash(1);
    const p2p::Hash256 b = MakeHash(2);
    bitcoin::mempool::added(a.data(), 141, 2820);
    bitcoin::mempool::removed(a.data(), "block", 141, 2820, 1'700'000'100);
    bitcoin::mempool::replaced(a.data(), 141, 2820, 1'700'000'100, b.data(), 200, 5000, true);
    bitcoin::mempool::rejected(b.data(), "min relay fee not met");
    std::vector<std::optional<Converted>> all = ConvertAll(Subsystem::Mempool);
    ASSERT_EQ(all.size(), 4u);
    std::vector<pb_mempool::MempoolEvent> events;
    for (const auto& converted : all) {
        ASSERT_TRUE(converted);
        EXPECT_EQ(converted->subject, Subject::Mempool);
        ::event::Event event;
        ASSERT_TRUE(event.ParseFromString(converted->bytes));
        EXPECT_TRUE(event.IsInitialized()) << event.InitializationErrorString();
        EXPECT_EQ(event.timestamp(), UNIX_MS);
        ASSERT_EQ(event.ebpf_extractor().ebpf_event_case(), ::ebpf_extractor::ebpf::kMempool);
        events.push_back(event.ebpf_extractor().mempool());
    }
    ASSERT_EQ(events[0].event_case(), pb_mempool::MempoolEvent::kAdded);
    EXPECT_EQ(events[0].added().txid(), Str(a));
    EXPECT_EQ(events[0].added().vsize(), 141);
    EXPECT_EQ(events[0].added().fee(), 2820);

    ASSERT_EQ(events[1].event_case(), pb_mempool::MempoolEvent::kRemoved);
    EXPECT_EQ(events[1].removed().txid(), Str(a));
    EXPECT_EQ(events[1].removed().reason(), "block");
    EXPECT_EQ(events[1].removed().vsize(), 141);
    EXPECT_EQ(events[1].removed().fee(), 2820);
    EXPECT_EQ(events[1].removed().entry_time(), 1'700'000'100u);

    ASSERT_EQ(events[2].event_case(), pb_mempool::MempoolEvent::kReplaced);
    const pb_mempool::Replaced& r = events[2].replaced();
    EXPECT_EQ(r.replaced_txid(), Str(a));
    EXPECT_EQ(r.replaced_vsize(), 141);
    EXPECT_EQ(r.replaced_fee(), 2820);
    EXPECT_EQ(r.replaced_entry_time(), 1'700'000'100u);
    EXPECT_EQ(r.replacement_id(), Str(b));
    EXPECT_EQ(r.replacement_vsize(), 200);
    EXPECT_EQ(r.replacement_fee(), 5000);
    EXPECT_TRUE(r.replaced_by_transaction());

    ASSERT_EQ(events[3].event_case(), pb_mempool::MempoolEvent::kRejected);
    EXPECT_EQ(events[3].rejected().txid(), Str(b));
    EXPECT_EQ(events[3].rejected().reason(), "min relay fee not met");
}

TEST_F(ConvertTest, RemovalReasonsAreBitcoinCoresWords)
{
    const p2p::Hash256 txid = MakeHash(3);
    for (const char* reason :
         {"expiry", "sizelimit", "reorg", "block", "conflict", "replaced", "someday"}) {
        SCOPED_TRACE(reason);
        bitcoin::mempool::removed(txid.data(), reason, 1, 2, 3);
        EXPECT_EQ(One(Subsystem::Mempool).ebpf_extractor().mempool().removed().reason(), reason);
    }
    // No txid from the node: the required 32 bytes are zero.
    bitcoin::mempool::added(nullptr, 1, 1);
    EXPECT_EQ(One(Subsystem::Mempool).ebpf_extractor().mempool().added().txid(),
              std::string(32, '\0'));
}

TEST_F(ConvertTest, BlockConnectedCarriesHashCountsAndNanoseconds)
{
    const p2p::Hash256 hash = MakeHash(7);
    bitcoin::validation::block_connected(hash.data(), 800'000, 3'000, 7'000, 12'000, 123'456'789);
    Converted c;
    ::event::Event event = One(Subsystem::Validation, &c);
    EXPECT_EQ(c.subject, Subject::Validation);
    ASSERT_EQ(event.ebpf_extractor().ebpf_event_case(), ::ebpf_extractor::ebpf::kValidation);
    const auto& block = event.ebpf_extractor().validation().block_connected();
    EXPECT_EQ(block.hash(), Str(hash));
    EXPECT_EQ(block.height(), 800'000);
    EXPECT_EQ(block.transactions(), 3'000);
    EXPECT_EQ(block.inputs(), 7'000);
    EXPECT_EQ(block.sigops(), 12'000);
    EXPECT_EQ(block.connection_time(), 123'456'789u);
}

TEST_F(ConvertTest, EventsPeerObserverHasNoMessageForAreSkipped)
{
    const p2p::Hash256 txid = MakeHash(4);
    bitcoin::utxocache::add(txid.data(), 0, 100, 5000, false);
    std::vector<std::optional<Converted>> all = ConvertAll(Subsystem::Utxocache);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_FALSE(all[0]);
}

TEST(ConvertSubjectTest, SubjectsArePeerObserversNatsSubjects)
{
    EXPECT_STREQ(SubjectName(Subject::NetMsg), "netmsg");
    EXPECT_STREQ(SubjectName(Subject::NetConn), "netconn");
    EXPECT_STREQ(SubjectName(Subject::Mempool), "mempool");
    EXPECT_STREQ(SubjectName(Subject::Validation), "validation");
}

} // namespace
} // namespace tracering::extractor
