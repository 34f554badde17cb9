// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/block.h"

#include <algorithm>
#include <string>

#include "p2p/serialize.h"

namespace tracering::p2p {
namespace {

// Smallest encodings, used to bound counts by the bytes left before looping over them.
constexpr size_t MIN_INPUT_SIZE = 32 + 4 + 1 + 4;
constexpr size_t MIN_OUTPUT_SIZE = 8 + 1;

Error Malformed(const char* what, const std::string& detail)
{
    return Error{ErrorCode::Corrupt, std::string{what} + ": " + detail};
}

} // namespace

bool ReadTransaction(Reader& r, TransactionInfo& info, TxHashes hashes)
{
    const size_t start = r.pos();
    int32_t version;
    uint64_t n_in = 0;
    if (!r.ReadI32(version, "tx version") || !r.ReadCompactSize(n_in, "input count")) return false;
    // BIP144: an empty input list followed by a non-zero flag byte marks witness data. A
    // zero "flag" is the output count of a transaction without inputs and outputs, as in
    // Bitcoin Core's UnserializeTransaction.
    uint8_t flags = 0;
    size_t body = r.pos(); // where the non-witness serialization resumes after the version
    uint64_t n_out = 0;
    if (n_in == 0) {
        if (!r.ReadU8(flags, "segwit flag")) return false;
        if (flags != 0) {
            body = r.pos();
            if (!r.ReadCompactSize(n_in, "input count")) return false;
        }
    }
    if (n_in > r.remaining() / MIN_INPUT_SIZE) {
        return r.Fail(std::to_string(n_in) + " inputs cannot fit in the " +
                      std::to_string(r.remaining()) + " bytes left");
    }
    for (uint64_t i = 0; i < n_in; ++i) {
        std::span<const uint8_t> script;
        if (!r.Skip(36, "input prevout") || !r.ReadVarBytes(script, "input script") ||
            !r.Skip(4, "input sequence")) {
            return false;
        }
    }
    if (n_in != 0 || flags != 0) {
        if (!r.ReadCompactSize(n_out, "output count")) return false;
    }
    if (n_out > r.remaining() / MIN_OUTPUT_SIZE) {
        return r.Fail(std::to_string(n_out) + " outputs cannot fit in the " +
                      std::to_string(r.remaining()) + " bytes left");
    }
    for (uint64_t i = 0; i < n_out; ++i) {
        std::span<const uint8_t> script;
        if (!r.Skip(8, "output value") || !r.ReadVarBytes(script, "output script")) return false;
    }
    const size_t body_end = r.pos();
    if (flags & 1) {
        bool any_witness = false;
        for (uint64_t i = 0; i < n_in; ++i) {
            uint64_t items;
            if (!r.ReadCompactSize(items, "witness item count")) return false;
            if (items > r.remaining()) {
                return r.Fail(std::to_string(items) + " witness items cannot fit in the " +
                              std::to_string(r.remaining()) + " bytes left");
            }
            any_witness |= items != 0;
            for (uint64_t k = 0; k < items; ++k) {
                std::span<const uint8_t> item;
                if (!r.ReadVarBytes(item, "witness item")) return false;
            }
        }
        // Bitcoin Core refuses a witness flag with nothing but empty stacks.
        if (!any_witness) return r.Fail("superfluous witness record");
    }
    if (flags & ~1) {
        return r.Fail("unknown transaction optional data (flag " + std::to_string(flags) + ")");
    }
    const size_t locktime_at = r.pos();
    if (!r.Skip(4, "locktime")) return false;

    info.inputs = n_in;
    info.outputs = n_out;
    info.segwit = flags != 0;
    info.total_size = r.pos() - start;
    info.base_size = info.segwit ? 4 + (body_end - body) + 4 : info.total_size;
    if (hashes != TxHashes::None) {
        thread_local DoubleSha256 hasher;
        const std::span<const uint8_t> all = r.Since(start);
        if (info.segwit) {
            hasher.Write(all.subspan(0, 4));
            hasher.Write(all.subspan(body - start, body_end - body));
            hasher.Write(all.subspan(locktime_at - start, 4));
            info.txid = hasher.Finalize();
            if (hashes == TxHashes::TxidAndWtxid) info.wtxid = hasher.Write(all).Finalize();
        } else {
            // Without witnesses both hash the same bytes.
            info.txid = hasher.Write(all).Finalize();
            if (hashes == TxHashes::TxidAndWtxid) info.wtxid = info.txid;
        }
    }
    return true;
}

BlockHeader ParseBlockHeader(std::span<const uint8_t, BLOCK_HEADER_SIZE> bytes)
{
    BlockHeader h;
    h.version = static_cast<int32_t>(LoadU32(bytes.data()));
    std::copy_n(bytes.begin() + 4, 32, h.prev_block.begin());
    std::copy_n(bytes.begin() + 36, 32, h.merkle_root.begin());
    h.time = LoadU32(bytes.data() + 68);
    h.bits = LoadU32(bytes.data() + 72);
    h.nonce = LoadU32(bytes.data() + 76);
    return h;
}

void SerializeBlockHeader(const BlockHeader& header, std::span<uint8_t, BLOCK_HEADER_SIZE> out)
{
    StoreU32(out.data(), static_cast<uint32_t>(header.version));
    std::copy(header.prev_block.begin(), header.prev_block.end(), out.begin() + 4);
    std::copy(header.merkle_root.begin(), header.merkle_root.end(), out.begin() + 36);
    StoreU32(out.data() + 68, header.time);
    StoreU32(out.data() + 72, header.bits);
    StoreU32(out.data() + 76, header.nonce);
}

Result<TransactionInfo> ParseTransaction(std::span<const uint8_t> payload)
{
    Reader r{payload};
    TransactionInfo info;
    if (ReadTransaction(r, info, TxHashes::TxidAndWtxid) && !r.empty()) {
        r.Fail(std::to_string(r.remaining()) + " bytes after the transaction");
    }
    if (!r.ok()) return Malformed("malformed transaction", r.error());
    return info;
}

Result<BlockInfo> ParseBlock(std::span<const uint8_t> payload, Txids txids)
{
    if (payload.size() < BLOCK_HEADER_SIZE) {
        return Malformed("malformed block", "needs an 80-byte header, got " +
                                                std::to_string(payload.size()) + " bytes");
    }
    BlockInfo block;
    const std::span<const uint8_t, BLOCK_HEADER_SIZE> header{payload.data(), BLOCK_HEADER_SIZE};
    block.header = ParseBlockHeader(header);
    block.hash = DoubleSha256Of(header);
    block.size = payload.size();

    Reader r{payload};
    r.Skip(BLOCK_HEADER_SIZE, "block header");
    uint64_t count = 0;
    if (!r.ReadCompactSize(count, "transaction count")) {
        return Malformed("malformed block", r.error());
    }
    if (count == 0) return Malformed("malformed block", "no transactions (not even a coinbase)");
    // The smallest transaction takes 10 bytes (version, two zero counts, locktime).
    if (count > r.remaining() / 10) {
        return Malformed("malformed block", std::to_string(count) +
                                                " transactions cannot fit in the " +
                                                std::to_string(r.remaining()) + " bytes left");
    }
    const bool hash_txs = txids == Txids::Compute;
    if (hash_txs) block.txids.reserve(count);
    uint64_t base_size = BLOCK_HEADER_SIZE + CompactSizeLength(count);
    for (uint64_t i = 0; i < count; ++i) {
        TransactionInfo tx;
        if (!ReadTransaction(r, tx, hash_txs ? TxHashes::Txid : TxHashes::None)) {
            return Malformed("malformed block",
                             "transaction " + std::to_string(i) + ": " + r.error());
        }
        block.inputs += tx.inputs;
        block.outputs += tx.outputs;
        block.segwit_transactions += tx.segwit ? 1 : 0;
        base_size += tx.base_size;
        if (hash_txs) block.txids.push_back(tx.txid);
    }
    if (!r.empty()) {
        return Malformed("malformed block",
                         std::to_string(r.remaining()) + " bytes after the last transaction");
    }
    block.transactions = count;
    block.weight = base_size * (WITNESS_SCALE_FACTOR - 1) + block.size;
    return block;
}

Hash256 ComputeMerkleRoot(std::vector<Hash256> leaves)
{
    if (leaves.empty()) return Hash256{};
    DoubleSha256 hasher;
    while (leaves.size() > 1) {
        if (leaves.size() % 2) leaves.push_back(leaves.back());
        for (size_t i = 0; i < leaves.size() / 2; ++i) {
            leaves[i] = hasher.Write(leaves[2 * i]).Write(leaves[2 * i + 1]).Finalize();
        }
        leaves.resize(leaves.size() / 2);
    }
    return leaves[0];
}

} // namespace tracering::p2p
