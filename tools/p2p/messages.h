// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_MESSAGES_H
#define TRACERING_P2P_MESSAGES_H

//! @file
//! Payloads of the P2P messages a node exchanges, decoded into their fields: what an observer
//! of the node's traffic (tracering-extractor) publishes. protocol.h has the messages of the
//! handshake (version, ping/pong nonces); these are the rest.
//!
//! Every byte is untrusted. Each parser checks a count against the bytes left before it
//! allocates for it (nothing is reserved for entries the payload cannot hold), refuses
//! bytes after the last field (the whole payload is accounted for, or the message does not
//! decode), and returns an ErrorCode::Corrupt error naming the message, the field and the
//! byte where it went wrong. They check structure only: no consensus rules, no protocol
//! limits that Bitcoin Core enforces by punishing the peer (MAX_INV_SZ, MAX_ADDR_TO_SEND,
//! MAX_LOCATOR_SZ, bloom filter sizes): an observer wants to see those messages too.
//!
//! Results hold views (std::span) into the payload: they are valid as long as it is.

#include <tracering/result.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "p2p/address.h"
#include "p2p/block.h"
#include "p2p/hash.h"

namespace tracering::p2p {

//! Inventory types (Bitcoin Core's GetDataMsg).
inline constexpr uint32_t MSG_TX = 1;
inline constexpr uint32_t MSG_BLOCK = 2;
inline constexpr uint32_t MSG_FILTERED_BLOCK = 3;
inline constexpr uint32_t MSG_CMPCT_BLOCK = 4;
inline constexpr uint32_t MSG_WTX = 5;
inline constexpr uint32_t MSG_WITNESS_FLAG = 1u << 30;
inline constexpr uint32_t MSG_WITNESS_TX = MSG_TX | MSG_WITNESS_FLAG;
inline constexpr uint32_t MSG_WITNESS_BLOCK = MSG_BLOCK | MSG_WITNESS_FLAG;

//! One entry of `inv`, `getdata` or `notfound`.
struct InventoryEntry {
    uint32_t type{0};
    Hash256 hash{};
};

//! `inv`, `getdata`, `notfound`: a count, then 36-byte entries (type u32, 32-byte hash).
Result<std::vector<InventoryEntry>> ParseInventory(std::span<const uint8_t> payload);

//! One address of `addr` or `addrv2`.
struct AddressEntry {
    uint32_t time{0};     //!< when it was last seen, UNIX seconds
    uint64_t services{0}; //!< service flags
    NetAddr addr;
    uint16_t port{0};
};

//! `addr`: a count, then 30-byte entries: time u32, services u64, a 16-byte address (named
//! by ClassifyV1) and the port (u16, big-endian).
Result<std::vector<AddressEntry>> ParseAddr(std::span<const uint8_t> payload);

//! `addrv2` (BIP155): a count, then entries: time u32, services (CompactSize), network id
//! u8, the address (CompactSize length, at most MAX_ADDRV2_SIZE, and exactly
//! Bip155AddressSize() for a network that fixes one, as Bitcoin Core requires) and the port
//! (u16, big-endian). Addresses of networks BIP155 does not define are kept as they are.
Result<std::vector<AddressEntry>> ParseAddrV2(std::span<const uint8_t> payload);

//! `ping` and `pong` since BIP31: exactly 8 bytes, the nonce. (ParseNonce, for the harness,
//! ignores bytes after them as Bitcoin Core does.)
Result<uint64_t> ParseNonceExact(std::span<const uint8_t> payload);

//! `feefilter` (BIP133): exactly 8 bytes, a minimum fee rate (i64, satoshis per 1000 vbytes).
Result<int64_t> ParseFeeFilter(std::span<const uint8_t> payload);

//! What `getheaders` and `getblocks` carry.
struct BlockLocator {
    uint32_t version{0};
    std::vector<Hash256> hashes; //!< newest first
    Hash256 stop{};              //!< zero: as many as allowed
};

//! `getheaders`, `getblocks`: version u32, a count of hashes, the hashes, the stop hash.
Result<BlockLocator> ParseLocator(std::span<const uint8_t> payload);

//! A block header and its hash.
struct HeaderEntry {
    BlockHeader header;
    Hash256 hash{}; //!< double SHA-256 of the 80 bytes, internal order
};

//! `headers`: a count, then per entry an 80-byte header and a transaction count
//! (CompactSize, at most MAX_SIZE; read and ignored, as Bitcoin Core does).
Result<std::vector<HeaderEntry>> ParseHeaders(std::span<const uint8_t> payload);

//! What `sendcmpct` (BIP152) carries.
struct SendCmpct {
    bool high_bandwidth{false}; //!< announce new blocks with `cmpctblock` right away
    uint64_t version{0};
};

//! `sendcmpct`: a bool byte (any non-zero value is true, as Bitcoin Core reads it) and a u64.
Result<SendCmpct> ParseSendCmpct(std::span<const uint8_t> payload);

//! One transaction: its hashes and its serialization (a view into the payload).
struct TxEntry {
    Hash256 txid{};
    Hash256 wtxid{};
    std::span<const uint8_t> raw;
};

//! `tx`: exactly one transaction (ReadTransaction's checks), nothing after it.
Result<TxEntry> ParseTx(std::span<const uint8_t> payload);

//! A block with every transaction.
struct FullBlock {
    BlockHeader header;
    Hash256 hash{};
    std::vector<TxEntry> transactions;
};

//! `block`: the header, a transaction count and the transactions, each with its txid, wtxid
//! and bytes. A count of 0 is decoded (ParseBlock refuses it: no valid block has it).
Result<FullBlock> ParseFullBlock(std::span<const uint8_t> payload);

//! The largest transaction index BIP152 messages carry: Bitcoin Core reads prefilled
//! indexes and `getblocktxn` indexes into 16 bits and refuses a message with a larger one.
constexpr uint64_t MAX_BLOCK_TX_INDEX = 0xffff;

//! A transaction sent in full in a `cmpctblock`.
struct PrefilledTx {
    uint64_t diff_index{0}; //!< as sent: the index minus the previous one's, minus 1
    TxEntry tx;
};

//! What `cmpctblock` (BIP152) carries.
struct CompactBlock {
    BlockHeader header;
    Hash256 hash{};
    uint64_t nonce{0};
    std::vector<std::array<uint8_t, 6>> short_ids;
    std::vector<PrefilledTx> prefilled;
};

//! `cmpctblock`: the header, a nonce u64, a count of 6-byte short ids, the short ids, a
//! count of prefilled transactions, and each as its differential index (CompactSize, at most
//! MAX_BLOCK_TX_INDEX) and the transaction.
Result<CompactBlock> ParseCmpctBlock(std::span<const uint8_t> payload);

//! What `getblocktxn` (BIP152) carries.
struct BlockTxnRequest {
    Hash256 block_hash{};
    std::vector<uint64_t> indexes; //!< absolute, ascending
};

//! `getblocktxn`: the block hash, a count, then the indexes differentially encoded (each
//! CompactSize is the index minus the previous index minus 1); an index past
//! MAX_BLOCK_TX_INDEX is an error.
Result<BlockTxnRequest> ParseGetBlockTxn(std::span<const uint8_t> payload);

//! What `blocktxn` (BIP152) carries.
struct BlockTxn {
    Hash256 block_hash{};
    std::vector<TxEntry> transactions;
};

//! `blocktxn`: the block hash, a count, then the transactions.
Result<BlockTxn> ParseBlockTxn(std::span<const uint8_t> payload);

//! What `merkleblock` (BIP37) carries.
struct MerkleBlock {
    BlockHeader header;
    Hash256 hash{};
    uint32_t total_transactions{0};
    std::vector<Hash256> hashes;
    std::span<const uint8_t> flags; //!< the flag bits, 8 per byte, least significant first
};

//! `merkleblock`: the header, the block's transaction count u32, a count of hashes, the
//! hashes, then the flag bytes (CompactSize length).
Result<MerkleBlock> ParseMerkleBlock(std::span<const uint8_t> payload);

//! What `filterload` (BIP37) carries.
struct FilterLoad {
    std::span<const uint8_t> filter;
    uint32_t hash_funcs{0};
    uint32_t tweak{0};
    uint8_t flags{0}; //!< BLOOM_UPDATE_NONE (0), _ALL (1) or _P2PUBKEY_ONLY (2)
};

//! `filterload`: the filter (CompactSize length), hash_funcs u32, tweak u32, flags u8.
Result<FilterLoad> ParseFilterLoad(std::span<const uint8_t> payload);

//! `filteradd` (BIP37): one element (CompactSize length).
Result<std::span<const uint8_t>> ParseFilterAdd(std::span<const uint8_t> payload);

//! What `reject` (BIP61) carries.
struct Reject {
    std::string message; //!< the rejected message's type
    uint8_t code{0};     //!< REJECT_MALFORMED (0x01), _INVALID (0x10), ...
    std::string reason;
    std::optional<Hash256> hash; //!< the rejected tx or block, when it names one
};

//! `reject`: the message type and the reason as CompactSize-length strings around the
//! code byte, then a 32-byte hash or nothing.
Result<Reject> ParseReject(std::span<const uint8_t> payload);

//! `alert` (retired in 2016): the alert and its signature, each with a CompactSize length.
//! Returns the alert.
Result<std::span<const uint8_t>> ParseAlert(std::span<const uint8_t> payload);

//! What `getcfilters` and `getcfheaders` (BIP157) carry.
struct CFilterRequest {
    uint8_t filter_type{0};
    uint32_t start_height{0};
    Hash256 stop_hash{};
};

//! `getcfilters`, `getcfheaders`: filter type u8, start height u32, stop hash.
Result<CFilterRequest> ParseCFilterRequest(std::span<const uint8_t> payload);

//! What `cfilter` (BIP157) carries.
struct CFilter {
    uint8_t filter_type{0};
    Hash256 block_hash{};
    std::span<const uint8_t> filter;
};

//! `cfilter`: filter type u8, block hash, the filter (CompactSize length).
Result<CFilter> ParseCFilter(std::span<const uint8_t> payload);

//! What `cfheaders` (BIP157) carries.
struct CFHeaders {
    uint8_t filter_type{0};
    Hash256 stop_hash{};
    Hash256 previous_header{};
    std::vector<Hash256> hashes;
};

//! `cfheaders`: filter type u8, stop hash, previous filter header, a count, filter hashes.
Result<CFHeaders> ParseCFHeaders(std::span<const uint8_t> payload);

//! What `getcfcheckpt` and `cfcheckpt` (BIP157) carry; `getcfcheckpt` has no headers.
struct CFCheckpt {
    uint8_t filter_type{0};
    Hash256 stop_hash{};
    std::vector<Hash256> headers;
};

//! `getcfcheckpt`: filter type u8, stop hash.
Result<CFCheckpt> ParseGetCFCheckpt(std::span<const uint8_t> payload);
//! `cfcheckpt`: filter type u8, stop hash, a count, filter headers.
Result<CFCheckpt> ParseCFCheckpt(std::span<const uint8_t> payload);

//! A message that has no payload (verack, sendheaders, getaddr, mempool, wtxidrelay,
//! sendaddrv2, filterclear): an error unless `payload` is empty.
Result<void> ParseEmpty(std::span<const uint8_t> payload);

} // namespace tracering::p2p

#endif // TRACERING_P2P_MESSAGES_H
