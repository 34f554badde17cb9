// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_BLOCK_H
#define TRACERING_P2P_BLOCK_H

//! @file
//! Structure of blocks and transactions as they travel in `block` and `tx` messages:
//! enough to count what a block holds and to hash it, without any consensus validation
//! (no scripts, no amounts, no merkle or proof-of-work check).
//!
//! Transaction serialization (BIP144 when it has witnesses):
//!
//!     version i32 | [marker 00, flag 01] | n_in, inputs | n_out, outputs |
//!     [one witness stack per input] | locktime u32
//!
//! input = prevout (32-byte txid, u32 index), script (CompactSize + bytes), u32 sequence;
//! output = i64 value, script. The txid hashes the serialization without marker, flag and
//! witnesses, the wtxid (BIP141) all of it; weight = base_size * 3 + total_size.

#include <tracering/result.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "p2p/hash.h"
#include "p2p/serialize.h"

namespace tracering::p2p {

inline constexpr size_t BLOCK_HEADER_SIZE = 80;
inline constexpr uint32_t WITNESS_SCALE_FACTOR = 4;

struct BlockHeader {
    int32_t version{0};
    Hash256 prev_block{};
    Hash256 merkle_root{};
    uint32_t time{0};
    uint32_t bits{0};
    uint32_t nonce{0};
};

//! What one transaction holds.
struct TransactionInfo {
    Hash256 txid{};  //!< left zero when not asked for (ParseBlock without txids)
    Hash256 wtxid{}; //!< hash of the whole serialization; left zero unless asked for
    uint64_t inputs{0};
    uint64_t outputs{0};
    bool segwit{false};
    uint64_t base_size{0};  //!< bytes without marker, flag and witnesses
    uint64_t total_size{0}; //!< bytes as serialized

    uint64_t Weight() const noexcept { return base_size * (WITNESS_SCALE_FACTOR - 1) + total_size; }
    //! ceil(weight / 4). Bitcoin Core's mempool vsize is also at least the sigop cost times
    //! 20 / 4; sigops are not counted here, so this is the size part alone.
    uint64_t VirtualSize() const noexcept
    {
        return (Weight() + WITNESS_SCALE_FACTOR - 1) / WITNESS_SCALE_FACTOR;
    }
};

//! What one block holds.
struct BlockInfo {
    BlockHeader header;
    Hash256 hash{}; //!< SHA256(SHA256(first 80 bytes)), internal byte order
    uint64_t transactions{0};
    uint64_t inputs{0}; //!< over all transactions, the coinbase's included
    uint64_t outputs{0};
    uint64_t segwit_transactions{0};
    uint64_t size{0};
    uint64_t weight{0};
    //! One per transaction, in block order, when ParseBlock was asked for them.
    std::vector<Hash256> txids;
};

//! Which hashes ReadTransaction computes: hashing costs about as much as reading.
enum class TxHashes : uint8_t { None, Txid, TxidAndWtxid };

//! Reads one transaction at `r`'s position into `info`, checking its structure (counts
//! bounded by the bytes left, witness flags as Bitcoin Core checks them); its serialization
//! is then `r.Since(start)` for the `start` position before the call. False (with the error
//! in `r`) for bytes that are not a transaction.
bool ReadTransaction(Reader& r, TransactionInfo& info, TxHashes hashes);

BlockHeader ParseBlockHeader(std::span<const uint8_t, BLOCK_HEADER_SIZE> bytes);
void SerializeBlockHeader(const BlockHeader& header, std::span<uint8_t, BLOCK_HEADER_SIZE> out);

//! Parses a `tx` payload: exactly one transaction, nothing after it. Computes the txid and
//! the wtxid.
Result<TransactionInfo> ParseTransaction(std::span<const uint8_t> payload);

enum class Txids : bool { Skip, Compute };

//! Parses a `block` payload: the header, a CompactSize count (at least 1: a block has a
//! coinbase) and that many transactions, nothing after them. Hashing every transaction
//! costs about as much as reading the block twice, so txids are computed only on request.
Result<BlockInfo> ParseBlock(std::span<const uint8_t> payload, Txids txids = Txids::Skip);

//! Bitcoin's merkle root of `leaves` (an odd level repeats its last hash); zero for none.
Hash256 ComputeMerkleRoot(std::vector<Hash256> leaves);

} // namespace tracering::p2p

#endif // TRACERING_P2P_BLOCK_H
