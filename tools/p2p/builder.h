// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_BUILDER_H
#define TRACERING_P2P_BUILDER_H

//! @file
//! Deterministic transactions and blocks for load tests: well-formed on the wire, of a
//! chosen size, all different. They are not valid by consensus (the outpoints they spend
//! never existed, scripts are byte patterns, there is no proof of work), which nothing in
//! the harness checks. The same arguments always give the same bytes, so a test can
//! rebuild what a load generator sent and compare.

#include <cstdint>
#include <span>
#include <vector>

#include "p2p/hash.h"

namespace tracering::p2p {

//! A transaction with 2 inputs and 8 outputs spending made-up outpoints derived from `seed`
//! (distinct seeds, distinct txids). Legacy: 107-byte input scripts, 554 bytes.
//! `segwit`: empty input scripts and a two-item witness (72 and 33 bytes) per input instead,
//! 558 bytes, 340 of them without witness (weight 1578, vsize 395).
std::vector<uint8_t> MakeTransaction(uint64_t seed, bool segwit);

//! Blocks of an exact size, chained by their previous-block hash: a coinbase carrying the
//! height (so every block's merkle root and hash differ), legacy transactions as from
//! MakeTransaction, and one last transaction sized to make up the rest.
//!
//!     BlockBuilder builder{4'000'000};
//!     for (int i = 0; i < n; ++i) Send("block", builder.Next());
class BlockBuilder
{
public:
    //! Blocks of exactly `target_size` bytes; a target below MinimumSize() + 64 (too small
    //! for a second transaction) gives blocks of MinimumSize(). The first block has height
    //! `first_height` and builds on `prev`.
    explicit BlockBuilder(uint64_t target_size, const Hash256& prev = {},
                          uint32_t first_height = 1);

    //! Serializes the next block. The bytes stay valid until the next call.
    std::span<const uint8_t> Next();

    //! The hash of the block Next() returned last (internal byte order).
    const Hash256& LastHash() const noexcept { return m_prev; }
    uint64_t size() const noexcept { return m_block.size(); }
    uint64_t transactions() const noexcept { return m_transactions; }
    //! Inputs of all transactions, the coinbase's one included.
    uint64_t inputs() const noexcept { return m_inputs; }
    uint64_t outputs() const noexcept { return m_outputs; }

    //! Header, a one-byte count and the coinbase: 180 bytes.
    static uint64_t MinimumSize();

private:
    std::vector<uint8_t> m_block;
    size_t m_coinbase_offset{0};
    size_t m_coinbase_size{0};
    size_t m_height_offset{0};
    //! Merkle siblings of the coinbase from the leaves up: the root of a new coinbase costs
    //! log2(n) hashes instead of n.
    std::vector<Hash256> m_branch;
    Hash256 m_prev{};
    uint32_t m_height{1};
    uint64_t m_transactions{0};
    uint64_t m_inputs{0};
    uint64_t m_outputs{0};
};

} // namespace tracering::p2p

#endif // TRACERING_P2P_BUILDER_H
