// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/builder.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "p2p/block.h"
#include "p2p/serialize.h"

namespace tracering::p2p {
namespace {

constexpr uint32_t FILLER_INPUTS = 2;
constexpr uint32_t FILLER_OUTPUTS = 8;
constexpr size_t SCRIPT_SIG_SIZE = 107;   // a DER signature and a compressed key, pushed
constexpr size_t OUTPUT_SCRIPT_SIZE = 22; // P2WPKH: OP_0, push 20
constexpr size_t COINBASE_SCRIPT_SIZE = 14;
// version, count, input (prevout, script length and script, sequence), count, output,
// locktime
constexpr size_t COINBASE_SIZE = 4 + 1 + (36 + 1 + COINBASE_SCRIPT_SIZE + 4) + 1 + (8 + 1 + 25) + 4;
// A transaction of one input and one output with empty scripts: the smallest padding.
constexpr size_t PADDING_TX_MIN = 4 + 1 + (36 + 1 + 4) + 1 + (8 + 1) + 4;

//! SplitMix64: a cheap, well-mixed stream of pattern bytes from a seed.
uint64_t Mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
    return x ^ (x >> 31);
}

void WritePattern(std::vector<uint8_t>& out, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i += 8) {
        const uint64_t word = Mix(seed + i);
        for (size_t k = 0; k < 8 && i + k < n; ++k)
            out.push_back(static_cast<uint8_t>(word >> (8 * k)));
    }
}

void WriteOutpoint(std::vector<uint8_t>& out, uint64_t seed, uint32_t index)
{
    WritePattern(out, 32, Mix(seed) ^ index);
    WriteU32(out, index);
}

//! The last transaction of a block, exactly `size` bytes (size >= PADDING_TX_MIN): one
//! input and one output whose script lengths make up the size. CompactSize lengths jump
//! from 1 to 3 bytes at 253, so some sums need the input script to take a byte or two.
std::vector<uint8_t> MakePaddingTransaction(uint64_t seed, size_t size)
{
    // Bytes of both scripts with their length prefixes.
    const size_t scripts = size - PADDING_TX_MIN + 2;
    size_t input_script = 0;
    size_t output_script = 0;
    bool found = false;
    for (size_t a = 0; a < 4 && !found; ++a) {
        const size_t v = scripts - (CompactSizeLength(a) + a); // output script with its prefix
        if (v >= 1 && v <= 253) {
            output_script = v - 1;
            found = true;
        } else if (v >= 256 && v - 3 <= 0xffff) {
            output_script = v - 3;
            found = true;
        }
        input_script = a;
    }
    if (!found) std::abort(); // unreachable for the sizes BlockBuilder asks for
    std::vector<uint8_t> tx;
    tx.reserve(size);
    WriteI32(tx, 2);
    WriteCompactSize(tx, 1);
    WriteOutpoint(tx, seed, 0);
    WriteCompactSize(tx, input_script);
    WritePattern(tx, input_script, seed + 1);
    WriteU32(tx, 0xffffffff);
    WriteCompactSize(tx, 1);
    WriteI64(tx, 0);
    WriteCompactSize(tx, output_script);
    if (output_script > 0) {
        tx.push_back(0x6a); // OP_RETURN, then pattern bytes
        WritePattern(tx, output_script - 1, seed + 2);
    }
    WriteU32(tx, 0);
    return tx;
}

} // namespace

std::vector<uint8_t> MakeTransaction(uint64_t seed, bool segwit)
{
    std::vector<uint8_t> tx;
    tx.reserve(560);
    WriteI32(tx, 2);
    if (segwit) {
        tx.push_back(0x00); // marker
        tx.push_back(0x01); // flag
    }
    WriteCompactSize(tx, FILLER_INPUTS);
    for (uint32_t i = 0; i < FILLER_INPUTS; ++i) {
        WriteOutpoint(tx, seed, i);
        const size_t script = segwit ? 0 : SCRIPT_SIG_SIZE;
        WriteCompactSize(tx, script);
        WritePattern(tx, script, seed * 31 + i);
        WriteU32(tx, 0xfffffffd);
    }
    WriteCompactSize(tx, FILLER_OUTPUTS);
    for (uint32_t i = 0; i < FILLER_OUTPUTS; ++i) {
        WriteI64(tx, int64_t{1000} + int64_t(i));
        WriteCompactSize(tx, OUTPUT_SCRIPT_SIZE);
        tx.push_back(0x00);
        tx.push_back(0x14);
        WritePattern(tx, OUTPUT_SCRIPT_SIZE - 2, seed * 131 + i);
    }
    if (segwit) {
        for (uint32_t i = 0; i < FILLER_INPUTS; ++i) {
            WriteCompactSize(tx, 2);
            WriteCompactSize(tx, 72);
            WritePattern(tx, 72, seed * 7 + i);
            WriteCompactSize(tx, 33);
            WritePattern(tx, 33, seed * 11 + i);
        }
    }
    WriteU32(tx, 0);
    return tx;
}

uint64_t BlockBuilder::MinimumSize() { return BLOCK_HEADER_SIZE + 1 + COINBASE_SIZE; }

BlockBuilder::BlockBuilder(uint64_t target_size, const Hash256& prev, uint32_t first_height)
    : m_prev{prev}, m_height{first_height}
{
    const std::vector<uint8_t> sample = MakeTransaction(0, false);
    const size_t filler = sample.size();
    const uint64_t target = std::max(target_size, MinimumSize());
    // Bytes after the header, a one-byte count and the coinbase.
    const uint64_t avail = target - MinimumSize();
    uint64_t fillers = 0;
    bool padding = false;
    if (avail >= 2 * filler) {
        fillers = avail / filler - 1;
        padding = true;
    } else if (avail >= PADDING_TX_MIN + 4) {
        padding = true;
    }
    m_transactions = 1 + fillers + (padding ? 1 : 0);
    // A count of 253 or more takes 2 or 4 more bytes; the padding transaction gives them up
    // (it always has at least filler - 4 bytes to spare).
    const uint64_t padding_size =
        padding ? avail - fillers * filler - (CompactSizeLength(m_transactions) - 1) : 0;

    m_block.reserve(target);
    m_block.resize(BLOCK_HEADER_SIZE);
    WriteCompactSize(m_block, m_transactions);

    m_coinbase_offset = m_block.size();
    WriteI32(m_block, 1);
    WriteCompactSize(m_block, 1);
    WriteBytes(m_block, Hash256{});
    WriteU32(m_block, 0xffffffff);
    WriteCompactSize(m_block, COINBASE_SCRIPT_SIZE);
    m_block.push_back(0x04); // push of the 4-byte height
    m_height_offset = m_block.size();
    WriteU32(m_block, 0);
    m_block.push_back(0x08);
    for (char c : std::string_view{"tracerng"})
        m_block.push_back(static_cast<uint8_t>(c));
    WriteU32(m_block, 0xffffffff);
    WriteCompactSize(m_block, 1);
    WriteI64(m_block, 50 * int64_t{100'000'000});
    WriteCompactSize(m_block, 25);
    m_block.push_back(0x76); // OP_DUP OP_HASH160 push20 <key hash> OP_EQUALVERIFY OP_CHECKSIG
    m_block.push_back(0xa9);
    m_block.push_back(0x14);
    WritePattern(m_block, 20, 0xc01bba5e);
    m_block.push_back(0x88);
    m_block.push_back(0xac);
    WriteU32(m_block, 0);
    m_coinbase_size = m_block.size() - m_coinbase_offset;

    std::vector<Hash256> level{Hash256{}}; // the coinbase's place, filled per block
    m_inputs = 1;
    m_outputs = 1;
    for (uint64_t i = 0; i < fillers; ++i) {
        const std::vector<uint8_t> tx = MakeTransaction(i + 1, false);
        level.push_back(DoubleSha256Of(tx));
        WriteBytes(m_block, tx);
        m_inputs += FILLER_INPUTS;
        m_outputs += FILLER_OUTPUTS;
    }
    if (padding) {
        const std::vector<uint8_t> tx = MakePaddingTransaction(fillers + 1, padding_size);
        level.push_back(DoubleSha256Of(tx));
        WriteBytes(m_block, tx);
        m_inputs += 1;
        m_outputs += 1;
    }
    DoubleSha256 hasher;
    while (level.size() > 1) {
        m_branch.push_back(level[1]);
        if (level.size() % 2) level.push_back(level.back());
        for (size_t i = 0; i < level.size() / 2; ++i) {
            level[i] = hasher.Write(level[2 * i]).Write(level[2 * i + 1]).Finalize();
        }
        level.resize(level.size() / 2);
    }
}

std::span<const uint8_t> BlockBuilder::Next()
{
    StoreU32(m_block.data() + m_height_offset, m_height);
    DoubleSha256 hasher;
    Hash256 root = hasher.Write({m_block.data() + m_coinbase_offset, m_coinbase_size}).Finalize();
    for (const Hash256& sibling : m_branch)
        root = hasher.Write(root).Write(sibling).Finalize();
    BlockHeader header;
    header.version = 0x20000000;
    header.prev_block = m_prev;
    header.merkle_root = root;
    header.time = 1'700'000'000 + m_height * 600;
    header.bits = 0x207fffff; // regtest's proof-of-work limit
    header.nonce = m_height;
    const std::span<uint8_t, BLOCK_HEADER_SIZE> out{m_block.data(), BLOCK_HEADER_SIZE};
    SerializeBlockHeader(header, out);
    m_prev = DoubleSha256Of(out);
    ++m_height;
    return m_block;
}

} // namespace tracering::p2p
