// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Unit tests of tools/p2p's message payloads (messages.h) and network addresses
// (address.h): known encodings, and every prefix of a valid payload refused cleanly.

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "p2p/address.h"
#include "p2p/block.h"
#include "p2p/builder.h"
#include "p2p/hash.h"
#include "p2p/messages.h"
#include "p2p/protocol.h"
#include "p2p/serialize.h"
#include "test_util.h"

namespace tracering::p2p {
namespace {

using test::Contains;

Hash256 MakeHash(uint8_t seed)
{
    Hash256 h;
    for (size_t i = 0; i < h.size(); ++i)
        h[i] = static_cast<uint8_t>(seed + 3 * i);
    return h;
}

std::array<uint8_t, 16> Ip6(std::initializer_list<uint16_t> groups)
{
    std::array<uint8_t, 16> ip{};
    size_t i = 0;
    for (uint16_t g : groups) {
        ip[i++] = static_cast<uint8_t>(g >> 8);
        ip[i++] = static_cast<uint8_t>(g);
    }
    return ip;
}

TEST(P2PAddressTest, IPv6TextFollowsRfc5952)
{
    EXPECT_EQ(FormatIPv6(Ip6({0, 0, 0, 0, 0, 0, 0, 0})), "::");
    EXPECT_EQ(FormatIPv6(Ip6({0, 0, 0, 0, 0, 0, 0, 1})), "::1");
    EXPECT_EQ(FormatIPv6(Ip6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1})), "2001:db8::1");
    EXPECT_EQ(FormatIPv6(Ip6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 0})), "2001:db8::");
    // Of two runs as long, the first is compressed; a single zero group never is.
    EXPECT_EQ(FormatIPv6(Ip6({0x2001, 0xdb8, 0, 0, 1, 0, 0, 1})), "2001:db8::1:0:0:1");
    EXPECT_EQ(FormatIPv6(Ip6({1, 0, 2, 3, 4, 5, 6, 7})), "1:0:2:3:4:5:6:7");
    EXPECT_EQ(FormatIPv6(Ip6({0x2001, 0, 0, 1, 0, 0, 0, 1})), "2001:0:0:1::1");
    EXPECT_EQ(FormatIPv6(Ip6({0xfe80, 0, 0, 0, 0xabcd, 0xef, 0x1234, 0xffff})),
              "fe80::abcd:ef:1234:ffff");
    EXPECT_EQ(FormatIPv6(Ip6({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304})), "::ffff:1.2.3.4");
}

TEST(P2PAddressTest, V1AddressesAreNamedAsPeerObserverNamesThem)
{
    // NetAddr views the bytes it classifies: they live here.
    const auto mapped = Ip6({0, 0, 0, 0, 0, 0xffff, 0xcb00, 0x7107});
    const auto v4 = ClassifyV1(mapped);
    EXPECT_EQ(v4.network, uint8_t(AddrNetwork::IPv4));
    EXPECT_EQ(AddressText(v4), "203.0.113.7");
    // rust-bitcoin's to_ipv4() takes IPv4-compatible addresses too: the unspecified address
    // that Bitcoin Core sends as its own in `version` reads 0.0.0.0.
    const auto zero = Ip6({0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_EQ(AddressText(ClassifyV1(zero)), "0.0.0.0");
    const auto onion_ip = Ip6({0xfd87, 0xd87e, 0xeb43, 0xedb1, 0x8e4, 0x3588, 0xe546, 0x35ca});
    const auto onion = ClassifyV1(onion_ip);
    EXPECT_EQ(onion.network, uint8_t(AddrNetwork::TorV2));
    EXPECT_EQ(AddressText(onion), "5wyqrzbvrdsumnok.onion");
    const auto v6_ip = Ip6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1});
    const auto v6 = ClassifyV1(v6_ip);
    EXPECT_EQ(v6.network, uint8_t(AddrNetwork::IPv6));
    EXPECT_EQ(AddressText(v6), "2001:db8::1");
}

TEST(P2PAddressTest, Base32AndOnionAndI2PMatchTheirSpecifications)
{
    auto b32 = [](std::string_view s) {
        return Base32({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
    };
    // RFC 4648's test vectors, lowercase and without padding.
    EXPECT_EQ(b32(""), "");
    EXPECT_EQ(b32("f"), "my");
    EXPECT_EQ(b32("fo"), "mzxq");
    EXPECT_EQ(b32("foo"), "mzxw6");
    EXPECT_EQ(b32("foob"), "mzxw6yq");
    EXPECT_EQ(b32("fooba"), "mzxw6ytb");
    EXPECT_EQ(b32("foobar"), "mzxw6ytboi");

    // A Tor v3 address from Bitcoin Core's tests: its key gives back its checksum.
    const std::array<uint8_t, 32> key{0x79, 0xbc, 0xc6, 0x25, 0x18, 0x4b, 0x05, 0x19,
                                      0x49, 0x75, 0xc2, 0x8b, 0x66, 0xb6, 0x6b, 0x04,
                                      0x69, 0xf7, 0xf6, 0x55, 0x6f, 0xb1, 0xac, 0x31,
                                      0x89, 0xa7, 0x9b, 0x40, 0xdd, 0xa3, 0x2f, 0x1f};
    EXPECT_EQ(OnionV3Address(key),
              "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion");
    EXPECT_EQ(AddressText({uint8_t(AddrNetwork::TorV3), key}), OnionV3Address(key));

    std::array<uint8_t, 32> i2p;
    for (size_t i = 0; i < i2p.size(); ++i)
        i2p[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(AddressText({uint8_t(AddrNetwork::I2P), i2p}),
              "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypq.b32.i2p");
    // Bytes of the wrong size for their network, and unknown networks, have no text.
    EXPECT_EQ(AddressText({uint8_t(AddrNetwork::IPv4), std::span<const uint8_t>{i2p}.first(5)}),
              "");
    EXPECT_EQ(AddressText({42, i2p}), "");
}

TEST(P2PMessagesTest, InventoryAndLocatorsKeepEveryEntry)
{
    std::vector<uint8_t> inv;
    WriteCompactSize(inv, 3);
    for (uint32_t type : {MSG_TX, MSG_WITNESS_BLOCK, 77u}) {
        WriteU32(inv, type);
        WriteBytes(inv, MakeHash(static_cast<uint8_t>(type)));
    }
    Result<std::vector<InventoryEntry>> entries = ParseInventory(inv);
    ASSERT_TRUE(entries) << entries.error().message();
    ASSERT_EQ(entries->size(), 3u);
    EXPECT_EQ((*entries)[1].type, MSG_WITNESS_BLOCK);
    EXPECT_EQ((*entries)[2].hash, MakeHash(77));

    std::vector<uint8_t> locator;
    WriteU32(locator, 70016);
    WriteCompactSize(locator, 2);
    WriteBytes(locator, MakeHash(1));
    WriteBytes(locator, MakeHash(2));
    WriteBytes(locator, MakeHash(9));
    Result<BlockLocator> parsed = ParseLocator(locator);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->version, 70016u);
    EXPECT_EQ(parsed->hashes, (std::vector<Hash256>{MakeHash(1), MakeHash(2)}));
    EXPECT_EQ(parsed->stop, MakeHash(9));
}

TEST(P2PMessagesTest, HugeCountsAreRefusedBeforeAnythingIsAllocated)
{
    // Each announces MAX_SIZE entries in a few bytes: refused by the count check, which
    // names the count and the bytes left (a resize to the count would need gigabytes).
    std::vector<uint8_t> huge;
    WriteCompactSize(huge, MAX_SIZE);
    huge.resize(huge.size() + 40, 0);
    const std::vector<std::pair<const char*, std::function<std::string()>>> parsers{
        {"inventory", [&] { return ParseInventory(huge).error().message(); }},
        {"addr", [&] { return ParseAddr(huge).error().message(); }},
        {"addrv2", [&] { return ParseAddrV2(huge).error().message(); }},
        {"headers", [&] { return ParseHeaders(huge).error().message(); }},
    };
    for (const auto& [name, parse] : parsers) {
        const std::string error = parse();
        EXPECT_TRUE(Contains(error, "33554432 entries")) << name << ": " << error;
        EXPECT_TRUE(Contains(error, "cannot fit")) << name << ": " << error;
    }
}

TEST(P2PMessagesTest, AddrV2ChecksAddressSizesOfKnownNetworks)
{
    // addrv2 sends services as a CompactSize: this one needs 9 bytes.
    constexpr uint64_t SERVICES = NODE_NETWORK_LIMITED | NODE_WITNESS | uint64_t{1} << 40;
    auto entry = [&](uint8_t network, size_t size) {
        std::vector<uint8_t> p;
        WriteCompactSize(p, 1);
        WriteU32(p, 1700000000);
        WriteCompactSize(p, SERVICES);
        WriteU8(p, network);
        WriteVarBytes(p, std::vector<uint8_t>(size, 0xfc));
        WriteU16BE(p, 8333);
        return p;
    };
    Result<std::vector<AddressEntry>> cjdns = ParseAddrV2(entry(6, 16));
    ASSERT_TRUE(cjdns) << cjdns.error().message();
    EXPECT_EQ((*cjdns)[0].services, SERVICES);
    EXPECT_EQ((*cjdns)[0].port, 8333);
    EXPECT_EQ(AddressText((*cjdns)[0].addr), "fcfc:fcfc:fcfc:fcfc:fcfc:fcfc:fcfc:fcfc");

    Result<std::vector<AddressEntry>> short_v3 = ParseAddrV2(entry(4, 31));
    ASSERT_FALSE(short_v3);
    EXPECT_TRUE(Contains(short_v3.error().message(), "31 bytes instead of 32"))
        << short_v3.error().message();
    // An unknown network may have any size up to BIP155's 512 bytes.
    EXPECT_TRUE(ParseAddrV2(entry(42, 512)));
    Result<std::vector<AddressEntry>> too_long = ParseAddrV2(entry(42, 513));
    ASSERT_FALSE(too_long);
    EXPECT_TRUE(Contains(too_long.error().message(), "exceeds the limit of 512"))
        << too_long.error().message();
}

TEST(P2PMessagesTest, GetBlockTxnIndexesAreDifferentiallyDecoded)
{
    std::vector<uint8_t> p;
    WriteBytes(p, MakeHash(5));
    WriteCompactSize(p, 4);
    for (uint64_t diff : {0, 0, 5, 0})
        WriteCompactSize(p, diff);
    Result<BlockTxnRequest> request = ParseGetBlockTxn(p);
    ASSERT_TRUE(request) << request.error().message();
    EXPECT_EQ(request->block_hash, MakeHash(5));
    EXPECT_EQ(request->indexes, (std::vector<uint64_t>{0, 1, 7, 8}));

    // Bitcoin Core reads the indexes into 16 bits: 65535 is the last one it takes.
    const auto request_of = [](uint64_t first, uint64_t second_diff) {
        std::vector<uint8_t> out;
        WriteBytes(out, MakeHash(5));
        WriteCompactSize(out, 2);
        WriteCompactSize(out, first);
        WriteCompactSize(out, second_diff);
        return out;
    };
    Result<BlockTxnRequest> last = ParseGetBlockTxn(request_of(1, MAX_BLOCK_TX_INDEX - 2));
    ASSERT_TRUE(last) << last.error().message();
    EXPECT_EQ(last->indexes, (std::vector<uint64_t>{1, MAX_BLOCK_TX_INDEX}));
    for (const uint64_t diff : {MAX_BLOCK_TX_INDEX - 1, MAX_SIZE, UINT64_MAX - 1}) {
        Result<BlockTxnRequest> bad = ParseGetBlockTxn(request_of(1, diff));
        ASSERT_FALSE(bad) << diff;
        EXPECT_TRUE(Contains(bad.error().message(), "over 65535") ||
                    Contains(bad.error().message(), "exceeds the limit"))
            << bad.error().message();
    }
}

TEST(P2PMessagesTest, TransactionsCarryTxidWtxidAndTheirBytes)
{
    const std::vector<uint8_t> segwit = MakeTransaction(3, /*segwit=*/true);
    Result<TxEntry> tx = ParseTx(segwit);
    ASSERT_TRUE(tx) << tx.error().message();
    EXPECT_EQ(tx->txid, ParseTransaction(segwit).value().txid);
    EXPECT_EQ(tx->wtxid, DoubleSha256Of(segwit));
    EXPECT_NE(tx->txid, tx->wtxid);
    EXPECT_EQ(tx->raw.data(), segwit.data());
    EXPECT_EQ(tx->raw.size(), segwit.size());

    const std::vector<uint8_t> legacy = MakeTransaction(3, /*segwit=*/false);
    Result<TxEntry> plain = ParseTx(legacy);
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->txid, plain->wtxid);
    EXPECT_EQ(plain->txid, DoubleSha256Of(legacy));

    std::vector<uint8_t> trailing = legacy;
    trailing.push_back(0);
    Result<TxEntry> extra = ParseTx(trailing);
    ASSERT_FALSE(extra);
    EXPECT_TRUE(Contains(extra.error().message(), "malformed tx: 1 bytes after the last field"))
        << extra.error().message();
}

// Found by fuzz/p2p_messages (corpus: crash-headers-tx-count-over-max-size): ParseHeaders
// read each header's transaction count up to 2^64 - 1, ParseHeadersCount (and Bitcoin Core)
// only up to MAX_SIZE, so the two disagreed on whether such a message is well formed.
TEST(P2PMessagesTest, HeadersTransactionCountIsRangeCheckedLikeParseHeadersCount)
{
    for (const uint64_t tx_count : {MAX_SIZE, MAX_SIZE + 1, uint64_t{UINT64_MAX}}) {
        std::vector<uint8_t> headers;
        WriteCompactSize(headers, 1);
        WriteBytes(headers, std::vector<uint8_t>(BLOCK_HEADER_SIZE, 0x5a));
        WriteCompactSize(headers, tx_count);
        const bool ok = tx_count <= MAX_SIZE;
        EXPECT_EQ(ParseHeadersCount(headers).ok(), ok) << tx_count;
        auto parsed = ParseHeaders(headers);
        ASSERT_EQ(parsed.ok(), ok) << tx_count;
        if (ok) {
            EXPECT_EQ(parsed.value().size(), 1u);
        } else {
            EXPECT_TRUE(Contains(parsed.error().message(), "header transaction count"))
                << parsed.error().message();
        }
    }
}

TEST(P2PMessagesTest, PrefilledIndexesFitSixteenBitsAsBitcoinCoreReadsThem)
{
    BlockBuilder builder{1200};
    const std::span<const uint8_t> built = builder.Next();
    const std::vector<uint8_t> tx = MakeTransaction(11, true);
    for (const uint64_t diff_index : {MAX_BLOCK_TX_INDEX, MAX_BLOCK_TX_INDEX + 1, MAX_SIZE}) {
        std::vector<uint8_t> cmpct{built.begin(), built.begin() + BLOCK_HEADER_SIZE};
        WriteU64(cmpct, 42);
        WriteCompactSize(cmpct, 0);
        WriteCompactSize(cmpct, 1);
        WriteCompactSize(cmpct, diff_index);
        WriteBytes(cmpct, tx);
        Result<CompactBlock> parsed = ParseCmpctBlock(cmpct);
        ASSERT_EQ(parsed.ok(), diff_index <= MAX_BLOCK_TX_INDEX) << diff_index;
        if (parsed) {
            EXPECT_EQ(parsed->prefilled.at(0).diff_index, diff_index);
        } else {
            EXPECT_TRUE(Contains(parsed.error().message(), "prefilled index"))
                << parsed.error().message();
        }
    }
}

TEST(P2PMessagesTest, EveryPrefixOfAValidPayloadIsRefusedCleanly)
{
    BlockBuilder builder{1200};
    const std::span<const uint8_t> built = builder.Next();
    const std::vector<uint8_t> block{built.begin(), built.end()};
    const std::vector<uint8_t> tx = MakeTransaction(11, true);

    std::vector<uint8_t> cmpct{block.begin(), block.begin() + BLOCK_HEADER_SIZE};
    WriteU64(cmpct, 42);
    WriteCompactSize(cmpct, 1);
    WriteBytes(cmpct, std::vector<uint8_t>(6, 7));
    WriteCompactSize(cmpct, 1);
    WriteCompactSize(cmpct, 0);
    WriteBytes(cmpct, tx);

    std::vector<uint8_t> merkle{block.begin(), block.begin() + BLOCK_HEADER_SIZE};
    WriteU32(merkle, 3);
    WriteCompactSize(merkle, 1);
    WriteBytes(merkle, MakeHash(1));
    WriteVarBytes(merkle, std::vector<uint8_t>{0x1d});

    std::vector<uint8_t> blocktxn;
    WriteBytes(blocktxn, MakeHash(2));
    WriteCompactSize(blocktxn, 1);
    WriteBytes(blocktxn, tx);

    std::vector<uint8_t> filterload;
    WriteVarBytes(filterload, std::vector<uint8_t>(10, 0xaa));
    WriteU32(filterload, 5);
    WriteU32(filterload, 99);
    WriteU8(filterload, 1);

    std::vector<uint8_t> cfheaders;
    WriteU8(cfheaders, 0);
    WriteBytes(cfheaders, MakeHash(3));
    WriteBytes(cfheaders, MakeHash(4));
    WriteCompactSize(cfheaders, 1);
    WriteBytes(cfheaders, MakeHash(5));

    std::vector<uint8_t> reject;
    WriteVarBytes(reject, std::vector<uint8_t>{'t', 'x'});
    WriteU8(reject, 0x10);
    WriteVarBytes(reject, std::vector<uint8_t>{'b', 'a', 'd'});
    WriteBytes(reject, MakeHash(6));

    using Parser = std::function<bool(std::span<const uint8_t>)>;
    const std::vector<std::tuple<const char*, std::vector<uint8_t>, Parser>> cases{
        {"block", block, [](auto p) { return ParseFullBlock(p).ok(); }},
        {"tx", tx, [](auto p) { return ParseTx(p).ok(); }},
        {"cmpctblock", cmpct, [](auto p) { return ParseCmpctBlock(p).ok(); }},
        {"merkleblock", merkle, [](auto p) { return ParseMerkleBlock(p).ok(); }},
        {"blocktxn", blocktxn, [](auto p) { return ParseBlockTxn(p).ok(); }},
        {"filterload", filterload, [](auto p) { return ParseFilterLoad(p).ok(); }},
        {"cfheaders", cfheaders, [](auto p) { return ParseCFHeaders(p).ok(); }},
    };
    for (const auto& [name, payload, parse] : cases) {
        ASSERT_TRUE(parse(payload)) << name << " does not parse whole";
        for (size_t n = 0; n < payload.size(); ++n) {
            ASSERT_FALSE(parse(std::span<const uint8_t>{payload.data(), n}))
                << name << " prefix of " << n << " bytes";
        }
    }
    // A reject names a hash only for a tx or block: without one it is whole too.
    ASSERT_TRUE(ParseReject(reject));
    EXPECT_TRUE(ParseReject(std::span<const uint8_t>{reject.data(), reject.size() - 32}));
    EXPECT_FALSE(ParseReject(std::span<const uint8_t>{reject.data(), reject.size() - 1}));
}

} // namespace
} // namespace tracering::p2p
