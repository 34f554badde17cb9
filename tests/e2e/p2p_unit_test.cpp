// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Unit tests of tools/p2p: framing, payloads, block and transaction parsing, the builder.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "p2p/block.h"
#include "p2p/builder.h"
#include "p2p/endpoint.h"
#include "p2p/hash.h"
#include "p2p/protocol.h"
#include "p2p/serialize.h"
#include "paths.h"
#include "test_util.h"

namespace tracering::p2p {
namespace {

std::vector<uint8_t> FromHex(std::string_view hex)
{
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoi(std::string{hex.substr(i, 2)}, nullptr, 16)));
    }
    return out;
}

std::vector<uint8_t> ReadBlock413567()
{
    std::ifstream in{test::paths::BLOCK413567, std::ios::binary};
    return {std::istreambuf_iterator<char>{in}, {}};
}

using test::Contains;

std::vector<uint8_t> Message(const Magic& magic, std::string_view command,
                             std::span<const uint8_t> payload)
{
    std::vector<uint8_t> out;
    AppendMessage(out, magic, command, payload);
    return out;
}

TEST(P2PFramingTest, PingPongAndVerackMatchTheDocumentedWireBytes)
{
    const std::array<uint8_t, 8> nonce = SerializeNonce(0x0123456789abcdef);
    EXPECT_EQ(Hex(Message(REGTEST_MAGIC, "ping", nonce)), "fabfb5da70696e67000000000000000008000000"
                                                          "33bc15e5efcdab8967452301");
    EXPECT_EQ(Hex(Message(REGTEST_MAGIC, "pong", nonce)), "fabfb5da706f6e67000000000000000008000000"
                                                          "33bc15e5efcdab8967452301");
    EXPECT_EQ(Hex(Message(REGTEST_MAGIC, "verack", {})),
              "fabfb5da76657261636b000000000000000000005df6e0e2");
}

TEST(P2PFramingTest, HeaderParsingChecksMagicTypeAndLength)
{
    const std::vector<uint8_t> ping = Message(REGTEST_MAGIC, "ping", SerializeNonce(7));
    Result<MessageHeader> ok = ParseHeader(ping, REGTEST_MAGIC);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_STREQ(ok.value().Command(), "ping");
    EXPECT_EQ(ok.value().length, 8u);
    EXPECT_EQ(ok.value().checksum, ComputeChecksum(SerializeNonce(7)));

    const Magic mainnet{0xf9, 0xbe, 0xb4, 0xd9};
    Result<MessageHeader> wrong = ParseHeader(ping, mainnet);
    ASSERT_FALSE(wrong);
    EXPECT_TRUE(Contains(wrong.error().message(), "wrong magic fabfb5da, expected f9beb4d9"))
        << wrong.error().message();

    auto with_length = [&](uint32_t length) {
        std::vector<uint8_t> h = ping;
        StoreU32(h.data() + 16, length);
        return ParseHeader(h, REGTEST_MAGIC);
    };
    EXPECT_TRUE(with_length(MAX_PROTOCOL_MESSAGE_LENGTH));
    Result<MessageHeader> big = with_length(MAX_PROTOCOL_MESSAGE_LENGTH + 1);
    ASSERT_FALSE(big);
    EXPECT_TRUE(Contains(big.error().message(), "announces 4000001 bytes"))
        << big.error().message();
    EXPECT_FALSE(with_length(0xffffffff));

    auto with_command = [&](std::string_view raw) {
        std::vector<uint8_t> h = ping;
        std::fill_n(h.begin() + 4, COMMAND_SIZE, uint8_t{0});
        std::copy(raw.begin(), raw.end(), h.begin() + 4);
        return ParseHeader(h, REGTEST_MAGIC);
    };
    EXPECT_TRUE(with_command("getcfcheckpt")); // 12 characters, no NUL at all
    EXPECT_FALSE(with_command(std::string_view{"pi\x01g", 4}));
    EXPECT_FALSE(with_command(std::string_view{"ping\0x", 6})); // junk after the NUL
    EXPECT_FALSE(with_command(""));
    EXPECT_FALSE(ParseHeader(std::span<const uint8_t>{ping.data(), 23}, REGTEST_MAGIC));
}

TEST(P2PSerializeTest, CompactSizeRoundTripsAndRefusesNonCanonicalOrHugeValues)
{
    for (uint64_t n : {0ull, 1ull, 252ull, 253ull, 0xffffull, 0x10000ull, 0x2000000ull}) {
        std::vector<uint8_t> bytes;
        WriteCompactSize(bytes, n);
        EXPECT_EQ(bytes.size(), CompactSizeLength(n)) << n;
        Reader r{bytes};
        uint64_t back = 0;
        ASSERT_TRUE(r.ReadCompactSize(back, "n")) << n << ": " << r.error();
        EXPECT_EQ(back, n);
        EXPECT_TRUE(r.empty());
    }
    auto read = [](std::vector<uint8_t> bytes, std::string* error = nullptr) {
        Reader r{bytes};
        uint64_t n = 0;
        const bool ok = r.ReadCompactSize(n, "count");
        if (error) *error = r.error();
        return ok;
    };
    std::string error;
    EXPECT_FALSE(read({0xfd, 0x10, 0x00}, &error)); // 16 in three bytes
    EXPECT_TRUE(Contains(error, "non-canonical")) << error;
    EXPECT_FALSE(read({0xfe, 0xff, 0xff, 0x00, 0x00}));
    EXPECT_FALSE(read({0xff, 1, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_FALSE(read({0xfe, 0x01, 0x00, 0x00, 0x02}, &error)); // MAX_SIZE + 1
    EXPECT_TRUE(Contains(error, "exceeds the limit")) << error;
    EXPECT_FALSE(read({0xfd, 0x00}, &error));
    EXPECT_TRUE(Contains(error, "left at byte")) << error;
    EXPECT_FALSE(read({}));
}

TEST(P2PVersionTest, RoundTripsAndAcceptsTheMinimal46ByteForm)
{
    VersionMessage v;
    v.version = 70016;
    v.services = NODE_NETWORK | NODE_WITNESS;
    v.timestamp = 1'700'000'000;
    v.addr_recv = NetAddress::FromIPv4({127, 0, 0, 1}, 18444);
    v.nonce = 0x1122334455667788;
    v.user_agent = "/test:1.0/";
    v.start_height = 42;
    v.relay = false;
    const std::vector<uint8_t> bytes = SerializeVersion(v);
    EXPECT_EQ(bytes.size(), 86 + v.user_agent.size());
    Result<VersionMessage> back = ParseVersion(bytes);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back.value().version, 70016);
    EXPECT_EQ(back.value().services, v.services);
    EXPECT_EQ(back.value().timestamp, v.timestamp);
    EXPECT_EQ(back.value().addr_recv.port, 18444);
    EXPECT_EQ(back.value().addr_recv.ip, v.addr_recv.ip);
    EXPECT_EQ(back.value().nonce, v.nonce);
    EXPECT_EQ(back.value().user_agent, "/test:1.0/");
    EXPECT_EQ(back.value().start_height, 42);
    EXPECT_FALSE(back.value().relay);

    // Bitcoin Core needs only version, services, time and addr_recv.
    Result<VersionMessage> minimal = ParseVersion(std::span<const uint8_t>{bytes.data(), 46});
    ASSERT_TRUE(minimal) << minimal.error().message();
    EXPECT_EQ(minimal.value().nonce, 0u);
    EXPECT_TRUE(minimal.value().relay);

    // Ending right after a field is fine; ending inside one is not.
    EXPECT_TRUE(ParseVersion(std::span<const uint8_t>{bytes.data(), 80})); // after the nonce
    for (size_t cut : {0, 10, 45, 50, 79, 81, 85, 90}) {
        Result<VersionMessage> cut_short =
            ParseVersion(std::span<const uint8_t>{bytes.data(), cut});
        EXPECT_FALSE(cut_short) << "cut at " << cut;
        if (!cut_short) {
            EXPECT_TRUE(Contains(cut_short.error().message(), "malformed version message"));
        }
    }
    v.user_agent.assign(MAX_SUBVERSION_LENGTH + 1, 'x');
    Result<VersionMessage> long_agent = ParseVersion(SerializeVersion(v));
    ASSERT_FALSE(long_agent);
    EXPECT_TRUE(Contains(long_agent.error().message(), "user agent"))
        << long_agent.error().message();
}

TEST(P2PPayloadTest, NoncesHeadersAndInventoryAreCheckedAndCounted)
{
    EXPECT_EQ(ParseNonce(SerializeNonce(99)).value(), 99u);
    EXPECT_FALSE(ParseNonce(std::vector<uint8_t>(7, 0)));

    std::vector<uint8_t> headers;
    WriteCompactSize(headers, 2);
    for (int i = 0; i < 2; ++i) {
        headers.insert(headers.end(), 80, uint8_t(i));
        WriteCompactSize(headers, 0);
    }
    EXPECT_EQ(ParseHeadersCount(headers).value(), 2u);
    headers.pop_back();
    EXPECT_FALSE(ParseHeadersCount(headers));
    std::vector<uint8_t> too_many;
    WriteCompactSize(too_many, MAX_HEADERS_RESULTS + 1);
    EXPECT_EQ(ParseHeadersCount(too_many).value(), 2001u); // the caller judges the count

    std::vector<uint8_t> inv;
    WriteCompactSize(inv, 3);
    inv.insert(inv.end(), 3 * 36, 0xab);
    EXPECT_EQ(ParseInventoryCount(inv).value(), 3u);
    inv.push_back(0);
    EXPECT_FALSE(ParseInventoryCount(inv));
}

TEST(P2PBlockTest, MainnetBlock413567HasItsKnownHashAndCounts)
{
    const std::vector<uint8_t> raw = ReadBlock413567();
    ASSERT_EQ(raw.size(), 999'887u) << "test data missing or damaged: " << test::paths::BLOCK413567;
    Result<BlockInfo> block = ParseBlock(raw, Txids::Compute);
    ASSERT_TRUE(block) << block.error().message();
    const BlockInfo& b = block.value();
    EXPECT_EQ(DisplayHex(b.hash),
              "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069");
    EXPECT_EQ(DisplayHex(b.header.prev_block),
              "00000000000000000542b54d29b12b523ff6c6474e0e86085bd3005ec6c5ce11");
    EXPECT_EQ(b.header.time, 1464307123u);
    EXPECT_EQ(b.transactions, 1557u);
    EXPECT_EQ(b.inputs, 4887u);
    EXPECT_EQ(b.outputs, 3581u);
    EXPECT_EQ(b.segwit_transactions, 0u);
    EXPECT_EQ(b.size, 999'887u);
    EXPECT_EQ(b.weight, 4 * b.size); // no witness data
    // Every txid right, or the merkle root would differ.
    ASSERT_EQ(b.txids.size(), 1557u);
    EXPECT_EQ(ComputeMerkleRoot(b.txids), b.header.merkle_root);
    // The internal byte order is the digest itself; display order reverses it.
    EXPECT_EQ(b.hash, DoubleSha256Of(std::span<const uint8_t>{raw.data(), 80}));
    EXPECT_EQ(HashFromDisplayHex(DisplayHex(b.hash)), b.hash);
    EXPECT_EQ(b.hash[31], 0u);
    // Without txids: same counts.
    Result<BlockInfo> fast = ParseBlock(raw);
    ASSERT_TRUE(fast);
    EXPECT_TRUE(fast.value().txids.empty());
    EXPECT_EQ(fast.value().inputs, 4887u);
}

TEST(P2PBlockTest, TruncatedOrExtendedBlocksAreErrorsNotCrashes)
{
    BlockBuilder builder{3000};
    const std::span<const uint8_t> small = builder.Next();
    const std::vector<uint8_t> block{small.begin(), small.end()};
    ASSERT_TRUE(ParseBlock(block));
    for (size_t n = 0; n < block.size(); ++n) {
        ASSERT_FALSE(ParseBlock(std::span<const uint8_t>{block.data(), n})) << "prefix " << n;
    }
    std::vector<uint8_t> longer = block;
    longer.push_back(0);
    Result<BlockInfo> trailing = ParseBlock(longer);
    ASSERT_FALSE(trailing);
    EXPECT_TRUE(Contains(trailing.error().message(), "1 bytes after the last transaction"));

    const std::vector<uint8_t> raw = ReadBlock413567();
    ASSERT_FALSE(raw.empty()) << "test data missing: " << test::paths::BLOCK413567;
    for (size_t n = 0; n < raw.size(); n += 997) {
        ASSERT_FALSE(ParseBlock(std::span<const uint8_t>{raw.data(), n})) << "prefix " << n;
    }
}

TEST(P2PBlockTest, RandomlyCorruptedBlocksParseOrFailCleanly)
{
    BlockBuilder builder{2500};
    const std::span<const uint8_t> built = builder.Next();
    const std::vector<uint8_t> original{built.begin(), built.end()};
    std::mt19937_64 rng{20240527};
    size_t failures = 0;
    for (int round = 0; round < 20000; ++round) {
        std::vector<uint8_t> bytes = original;
        const int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k)
            bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
        Result<BlockInfo> block = ParseBlock(bytes, Txids::Compute);
        if (!block) {
            ++failures;
            EXPECT_FALSE(block.error().message().empty());
        } else {
            EXPECT_EQ(block.value().size, bytes.size());
        }
    }
    // Most flips land in scripts or hashes, which parsing does not judge; some hit lengths.
    EXPECT_GT(failures, 0u);
}

TEST(P2PTransactionTest, SegwitTxidSkipsTheWitnessAndVsizeRoundsUp)
{
    const std::vector<uint8_t> tx = MakeTransaction(7, /*segwit=*/true);
    ASSERT_EQ(tx.size(), 558u);
    constexpr size_t WITNESS_BYTES = 2 * (1 + 1 + 72 + 1 + 33);
    // The same transaction without marker, flag and witnesses, assembled by hand.
    std::vector<uint8_t> stripped{tx.begin(), tx.begin() + 4};
    stripped.insert(stripped.end(), tx.begin() + 6, tx.end() - 4 - WITNESS_BYTES);
    stripped.insert(stripped.end(), tx.end() - 4, tx.end());
    ASSERT_EQ(stripped.size(), 340u);

    Result<TransactionInfo> info = ParseTransaction(tx);
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_TRUE(info.value().segwit);
    EXPECT_EQ(info.value().inputs, 2u);
    EXPECT_EQ(info.value().outputs, 8u);
    EXPECT_EQ(info.value().total_size, 558u);
    EXPECT_EQ(info.value().base_size, 340u);
    EXPECT_EQ(info.value().Weight(), 340u * 3 + 558);
    EXPECT_EQ(info.value().VirtualSize(), 395u); // 1578 / 4 = 394.5, rounded up
    EXPECT_EQ(info.value().txid, DoubleSha256Of(stripped));

    Result<TransactionInfo> legacy_form = ParseTransaction(stripped);
    ASSERT_TRUE(legacy_form) << legacy_form.error().message();
    EXPECT_FALSE(legacy_form.value().segwit);
    EXPECT_EQ(legacy_form.value().txid, info.value().txid);
    EXPECT_EQ(legacy_form.value().VirtualSize(), 340u);

    Result<TransactionInfo> legacy = ParseTransaction(MakeTransaction(7, false));
    ASSERT_TRUE(legacy);
    EXPECT_EQ(legacy.value().total_size, 554u);
    EXPECT_EQ(legacy.value().VirtualSize(), 554u);
    EXPECT_NE(legacy.value().txid, ParseTransaction(MakeTransaction(8, false)).value().txid);
}

TEST(P2PTransactionTest, WitnessFlagsAreCheckedLikeBitcoinCore)
{
    // No inputs and a zero "flag": the zero is the output count of an empty transaction.
    Result<TransactionInfo> empty = ParseTransaction(FromHex("01000000"
                                                             "00"
                                                             "00"
                                                             "00000000"));
    ASSERT_TRUE(empty) << empty.error().message();
    EXPECT_EQ(empty.value().inputs, 0u);
    EXPECT_EQ(empty.value().outputs, 0u);
    EXPECT_FALSE(empty.value().segwit);

    // A witness flag with only empty stacks.
    std::vector<uint8_t> tx = MakeTransaction(1, true);
    const size_t witness_at = tx.size() - 4 - 2 * 108;
    std::vector<uint8_t> superfluous{tx.begin(), tx.begin() + static_cast<ptrdiff_t>(witness_at)};
    superfluous.push_back(0);
    superfluous.push_back(0);
    superfluous.insert(superfluous.end(), tx.end() - 4, tx.end());
    Result<TransactionInfo> refused = ParseTransaction(superfluous);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(Contains(refused.error().message(), "superfluous witness record"));

    std::vector<uint8_t> unknown_flag = tx;
    unknown_flag[5] = 0x03;
    Result<TransactionInfo> flag = ParseTransaction(unknown_flag);
    ASSERT_FALSE(flag);
    EXPECT_TRUE(Contains(flag.error().message(), "unknown transaction optional data"))
        << flag.error().message();

    // Input count claims more than the bytes could hold.
    Result<TransactionInfo> huge = ParseTransaction(FromHex("01000000"
                                                            "fdff00"
                                                            "00"));
    ASSERT_FALSE(huge);
    EXPECT_TRUE(Contains(huge.error().message(), "cannot fit")) << huge.error().message();
}

TEST(P2PBuilderTest, BlocksHaveExactlyTheRequestedSizeAndValidMerkleRoots)
{
    const uint64_t min = BlockBuilder::MinimumSize();
    std::vector<uint64_t> sizes{min, 250, 1000, 100'000, 1'000'000, 3'900'000, 4'000'000};
    // Every size over a range wide enough for the padding transaction's length prefixes to
    // jump, and around the 253-transaction count where the count takes 3 bytes.
    for (uint64_t s = min + 64; s < min + 64 + 1300; ++s)
        sizes.push_back(s);
    for (uint64_t s = min + 139'600; s < min + 139'620; ++s)
        sizes.push_back(s);
    std::set<uint64_t> counts;
    for (uint64_t size : sizes) {
        BlockBuilder builder{size};
        const std::span<const uint8_t> block = builder.Next();
        ASSERT_EQ(block.size(), size) << "target " << size;
        Result<BlockInfo> info = ParseBlock(block, Txids::Compute);
        ASSERT_TRUE(info) << "target " << size << ": " << info.error().message();
        ASSERT_EQ(info.value().transactions, builder.transactions()) << size;
        ASSERT_EQ(info.value().inputs, builder.inputs()) << size;
        ASSERT_EQ(info.value().outputs, builder.outputs()) << size;
        ASSERT_EQ(ComputeMerkleRoot(info.value().txids), info.value().header.merkle_root) << size;
        ASSERT_EQ(info.value().hash, builder.LastHash()) << size;
        counts.insert(builder.transactions());
    }
    EXPECT_TRUE(counts.count(252) && counts.count(253)) << "the sweep missed the 253 boundary";
    // Sizes just above the minimum cannot hold a second transaction.
    EXPECT_EQ(BlockBuilder{min + 10}.Next().size(), min);
}

TEST(P2PBuilderTest, ConsecutiveBlocksChainAndDiffer)
{
    BlockBuilder builder{20'000};
    Hash256 prev{};
    std::set<Hash256> hashes;
    for (uint32_t height = 1; height <= 5; ++height) {
        const std::span<const uint8_t> block = builder.Next();
        Result<BlockInfo> info = ParseBlock(block, Txids::Compute);
        ASSERT_TRUE(info) << info.error().message();
        EXPECT_EQ(info.value().header.prev_block, prev);
        EXPECT_EQ(ComputeMerkleRoot(info.value().txids), info.value().header.merkle_root);
        prev = info.value().hash;
        hashes.insert(prev);
    }
    EXPECT_EQ(hashes.size(), 5u);
    // Deterministic: a second builder makes the same first block.
    BlockBuilder again{20'000};
    again.Next();
    BlockBuilder first{20'000};
    first.Next();
    EXPECT_EQ(again.LastHash(), first.LastHash());
}

TEST(P2PEndpointTest, EndpointsAndNumbersAreParsedStrictly)
{
    Result<Endpoint> ok = ParseEndpoint("127.0.0.1:18444");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok.value().port, 18444);
    EXPECT_EQ(ok.value().ToString(), "127.0.0.1:18444");
    EXPECT_EQ(ParseEndpoint("10.1.2.3:0").value().ToString(), "10.1.2.3:0");
    for (const char* bad : {"localhost:1", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                            "127.0.0.1:-1", "1.2.3:4", ":80", "[::1]:80"}) {
        EXPECT_FALSE(ParseEndpoint(bad)) << bad;
    }
    EXPECT_EQ(ParseUnsigned("4000000").value(), 4'000'000u);
    for (const char* bad : {"", " 1", "1 ", "1x", "-1", "0x10", "99999999999999999999"}) {
        EXPECT_FALSE(ParseUnsigned(bad)) << bad;
    }
    EXPECT_FALSE(ParseUnsigned("11", 10));
}

} // namespace
} // namespace tracering::p2p
