// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/messages.h"

#include <algorithm>
#include <string>

#include "p2p/serialize.h"

namespace tracering::p2p {
namespace {

// Smallest encodings of repeated entries, used to bound counts by the bytes left.
constexpr size_t INVENTORY_ENTRY_SIZE = 4 + 32;
constexpr size_t ADDR_ENTRY_SIZE = 4 + 8 + 16 + 2;
constexpr size_t MIN_ADDRV2_ENTRY_SIZE = 4 + 1 + 1 + 1 + 2; // empty address of an unknown id
constexpr size_t MIN_HEADERS_ENTRY_SIZE = BLOCK_HEADER_SIZE + 1;
constexpr size_t SHORT_ID_SIZE = 6;
// Version, two zero counts, locktime: what Bitcoin Core reads as a transaction.
constexpr size_t MIN_TRANSACTION_SIZE = 4 + 1 + 1 + 4;

//! The end of every parser: a payload must be used up, and any error becomes one naming the
//! message.
template <typename T>
Result<T> Finish(Reader& r, T value, const char* message)
{
    if (r.ok() && !r.empty()) {
        r.Fail(std::to_string(r.remaining()) + " bytes after the last field, at byte " +
               std::to_string(r.pos()));
    }
    if (!r.ok()) {
        return Error{ErrorCode::Corrupt, std::string{"malformed "} + message + ": " + r.error()};
    }
    return value;
}

bool ReadHash(Reader& r, Hash256& out, const char* what)
{
    std::span<const uint8_t> bytes;
    if (!r.ReadBytes(out.size(), bytes, what)) return false;
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return true;
}

//! A CompactSize count of entries of at least `min_size` bytes each, refused when they
//! cannot fit in the bytes left, so a caller may reserve room for `count` entries.
bool ReadCount(Reader& r, uint64_t& count, size_t min_size, const char* what)
{
    const size_t at = r.pos();
    if (!r.ReadCompactSize(count, what)) return false;
    if (count > r.remaining() / min_size) {
        return r.Fail(std::string{what} + ": " + std::to_string(count) + " entries of at least " +
                      std::to_string(min_size) + " bytes cannot fit in the " +
                      std::to_string(r.remaining()) + " bytes left, at byte " + std::to_string(at));
    }
    return true;
}

bool ReadHashes(Reader& r, std::vector<Hash256>& out, const char* what)
{
    uint64_t count = 0;
    if (!ReadCount(r, count, 32, what)) return false;
    out.resize(count);
    for (Hash256& hash : out) {
        if (!ReadHash(r, hash, what)) return false;
    }
    return true;
}

bool ReadHeader(Reader& r, BlockHeader& header, Hash256& hash)
{
    std::span<const uint8_t> bytes;
    if (!r.ReadBytes(BLOCK_HEADER_SIZE, bytes, "block header")) return false;
    const std::span<const uint8_t, BLOCK_HEADER_SIZE> fixed{bytes.data(), BLOCK_HEADER_SIZE};
    header = ParseBlockHeader(fixed);
    hash = DoubleSha256Of(fixed);
    return true;
}

bool ReadTx(Reader& r, TxEntry& out)
{
    const size_t start = r.pos();
    TransactionInfo info;
    if (!ReadTransaction(r, info, TxHashes::TxidAndWtxid)) return false;
    out.txid = info.txid;
    out.wtxid = info.wtxid;
    out.raw = r.Since(start);
    return true;
}

//! A count, then that many transactions.
bool ReadTransactions(Reader& r, std::vector<TxEntry>& out)
{
    uint64_t count = 0;
    if (!ReadCount(r, count, MIN_TRANSACTION_SIZE, "transaction count")) return false;
    out.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
        if (!ReadTx(r, out[i])) return r.AddContext("transaction " + std::to_string(i) + ": ");
    }
    return true;
}

//! The part of an `addr` entry after its time; `version` has it without a time.
bool ReadAddressV1(Reader& r, AddressEntry& entry)
{
    std::span<const uint8_t> ip;
    if (!r.ReadU64(entry.services, "address services") || !r.ReadBytes(16, ip, "address") ||
        !r.ReadU16BE(entry.port, "address port")) {
        return false;
    }
    entry.addr = ClassifyV1(std::span<const uint8_t, 16>{ip.data(), 16});
    return true;
}

} // namespace

Result<std::vector<InventoryEntry>> ParseInventory(std::span<const uint8_t> payload)
{
    Reader r{payload};
    std::vector<InventoryEntry> entries;
    uint64_t count = 0;
    if (ReadCount(r, count, INVENTORY_ENTRY_SIZE, "inventory count")) {
        entries.resize(count);
        for (InventoryEntry& entry : entries) {
            r.ReadU32(entry.type, "inventory type");
            if (!ReadHash(r, entry.hash, "inventory hash")) break;
        }
    }
    return Finish(r, std::move(entries), "inventory");
}

Result<std::vector<AddressEntry>> ParseAddr(std::span<const uint8_t> payload)
{
    Reader r{payload};
    std::vector<AddressEntry> entries;
    uint64_t count = 0;
    if (ReadCount(r, count, ADDR_ENTRY_SIZE, "address count")) {
        entries.resize(count);
        for (AddressEntry& entry : entries) {
            r.ReadU32(entry.time, "address time");
            if (!ReadAddressV1(r, entry)) break;
        }
    }
    return Finish(r, std::move(entries), "addr");
}

Result<std::vector<AddressEntry>> ParseAddrV2(std::span<const uint8_t> payload)
{
    Reader r{payload};
    std::vector<AddressEntry> entries;
    uint64_t count = 0;
    if (ReadCount(r, count, MIN_ADDRV2_ENTRY_SIZE, "address count")) {
        entries.resize(count);
        for (AddressEntry& entry : entries) {
            const size_t at = r.pos();
            std::span<const uint8_t> bytes;
            r.ReadU32(entry.time, "address time");
            r.ReadCompactSize(entry.services, "address services", UINT64_MAX);
            r.ReadU8(entry.addr.network, "network id");
            r.ReadVarBytes(bytes, "address", MAX_ADDRV2_SIZE);
            if (!r.ReadU16BE(entry.port, "address port")) break;
            const size_t size = Bip155AddressSize(entry.addr.network);
            if (size != 0 && bytes.size() != size) {
                r.Fail("address of network " + std::to_string(entry.addr.network) + " has " +
                       std::to_string(bytes.size()) + " bytes instead of " + std::to_string(size) +
                       ", in the entry at byte " + std::to_string(at));
                break;
            }
            entry.addr.bytes = bytes;
        }
    }
    return Finish(r, std::move(entries), "addrv2");
}

Result<uint64_t> ParseNonceExact(std::span<const uint8_t> payload)
{
    Reader r{payload};
    uint64_t nonce = 0;
    r.ReadU64(nonce, "nonce");
    return Finish(r, nonce, "ping or pong");
}

Result<int64_t> ParseFeeFilter(std::span<const uint8_t> payload)
{
    Reader r{payload};
    int64_t fee = 0;
    r.ReadI64(fee, "fee rate");
    return Finish(r, fee, "feefilter");
}

Result<BlockLocator> ParseLocator(std::span<const uint8_t> payload)
{
    Reader r{payload};
    BlockLocator locator;
    r.ReadU32(locator.version, "version");
    ReadHashes(r, locator.hashes, "locator hashes");
    ReadHash(r, locator.stop, "stop hash");
    return Finish(r, std::move(locator), "block locator");
}

Result<std::vector<HeaderEntry>> ParseHeaders(std::span<const uint8_t> payload)
{
    Reader r{payload};
    std::vector<HeaderEntry> headers;
    uint64_t count = 0;
    if (ReadCount(r, count, MIN_HEADERS_ENTRY_SIZE, "headers count")) {
        headers.resize(count);
        for (HeaderEntry& entry : headers) {
            uint64_t tx_count;
            ReadHeader(r, entry.header, entry.hash);
            // Range-checked (at most MAX_SIZE) as Bitcoin Core's ReadCompactSize reads it,
            // and as ParseHeadersCount does: a larger count makes the message malformed.
            if (!r.ReadCompactSize(tx_count, "header transaction count")) break;
        }
    }
    return Finish(r, std::move(headers), "headers");
}

Result<SendCmpct> ParseSendCmpct(std::span<const uint8_t> payload)
{
    Reader r{payload};
    SendCmpct message;
    uint8_t announce = 0;
    r.ReadU8(announce, "announce");
    r.ReadU64(message.version, "version");
    message.high_bandwidth = announce != 0;
    return Finish(r, message, "sendcmpct");
}

Result<TxEntry> ParseTx(std::span<const uint8_t> payload)
{
    Reader r{payload};
    TxEntry tx;
    ReadTx(r, tx);
    return Finish(r, tx, "tx");
}

Result<FullBlock> ParseFullBlock(std::span<const uint8_t> payload)
{
    Reader r{payload};
    FullBlock block;
    ReadHeader(r, block.header, block.hash);
    ReadTransactions(r, block.transactions);
    return Finish(r, std::move(block), "block");
}

Result<CompactBlock> ParseCmpctBlock(std::span<const uint8_t> payload)
{
    Reader r{payload};
    CompactBlock block;
    ReadHeader(r, block.header, block.hash);
    r.ReadU64(block.nonce, "nonce");
    uint64_t ids = 0;
    if (ReadCount(r, ids, SHORT_ID_SIZE, "short id count")) {
        block.short_ids.resize(ids);
        for (auto& id : block.short_ids) {
            std::span<const uint8_t> bytes;
            if (!r.ReadBytes(SHORT_ID_SIZE, bytes, "short id")) break;
            std::copy(bytes.begin(), bytes.end(), id.begin());
        }
    }
    uint64_t prefilled = 0;
    if (ReadCount(r, prefilled, 1 + MIN_TRANSACTION_SIZE, "prefilled count")) {
        block.prefilled.resize(prefilled);
        for (uint64_t i = 0; i < prefilled; ++i) {
            PrefilledTx& entry = block.prefilled[i];
            r.ReadCompactSize(entry.diff_index, "prefilled index", MAX_BLOCK_TX_INDEX);
            if (!ReadTx(r, entry.tx)) {
                r.AddContext("prefilled transaction " + std::to_string(i) + ": ");
                break;
            }
        }
    }
    return Finish(r, std::move(block), "cmpctblock");
}

Result<BlockTxnRequest> ParseGetBlockTxn(std::span<const uint8_t> payload)
{
    Reader r{payload};
    BlockTxnRequest request;
    ReadHash(r, request.block_hash, "block hash");
    uint64_t count = 0;
    if (ReadCount(r, count, 1, "index count")) {
        request.indexes.resize(count);
        uint64_t next = 0; // the smallest the next index can be
        for (uint64_t i = 0; i < count; ++i) {
            uint64_t diff;
            if (!r.ReadCompactSize(diff, "index")) break;
            // next <= MAX_BLOCK_TX_INDEX + 1 and diff <= MAX_SIZE: the sum cannot overflow.
            if (next + diff > MAX_BLOCK_TX_INDEX) {
                r.Fail("index " + std::to_string(i) + " is " + std::to_string(next + diff) +
                       ", over " + std::to_string(MAX_BLOCK_TX_INDEX) +
                       " (Bitcoin Core reads these indexes into 16 bits)");
                break;
            }
            request.indexes[i] = next + diff;
            next = request.indexes[i] + 1;
        }
    }
    return Finish(r, std::move(request), "getblocktxn");
}

Result<BlockTxn> ParseBlockTxn(std::span<const uint8_t> payload)
{
    Reader r{payload};
    BlockTxn message;
    ReadHash(r, message.block_hash, "block hash");
    ReadTransactions(r, message.transactions);
    return Finish(r, std::move(message), "blocktxn");
}

Result<MerkleBlock> ParseMerkleBlock(std::span<const uint8_t> payload)
{
    Reader r{payload};
    MerkleBlock block;
    ReadHeader(r, block.header, block.hash);
    r.ReadU32(block.total_transactions, "transaction count");
    ReadHashes(r, block.hashes, "hashes");
    r.ReadVarBytes(block.flags, "flags");
    return Finish(r, std::move(block), "merkleblock");
}

Result<FilterLoad> ParseFilterLoad(std::span<const uint8_t> payload)
{
    Reader r{payload};
    FilterLoad filter;
    r.ReadVarBytes(filter.filter, "filter");
    r.ReadU32(filter.hash_funcs, "hash_funcs");
    r.ReadU32(filter.tweak, "tweak");
    r.ReadU8(filter.flags, "flags");
    return Finish(r, filter, "filterload");
}

Result<std::span<const uint8_t>> ParseFilterAdd(std::span<const uint8_t> payload)
{
    Reader r{payload};
    std::span<const uint8_t> element;
    r.ReadVarBytes(element, "element");
    return Finish(r, element, "filteradd");
}

Result<Reject> ParseReject(std::span<const uint8_t> payload)
{
    Reader r{payload};
    Reject reject;
    std::span<const uint8_t> message;
    std::span<const uint8_t> reason;
    r.ReadVarBytes(message, "rejected message type");
    r.ReadU8(reject.code, "code");
    if (r.ReadVarBytes(reason, "reason")) {
        reject.message.assign(message.begin(), message.end());
        reject.reason.assign(reason.begin(), reason.end());
        // BIP61: the hash follows for a rejected tx or block, and only then.
        Hash256 hash;
        if (!r.empty() && ReadHash(r, hash, "hash")) reject.hash = hash;
    }
    return Finish(r, std::move(reject), "reject");
}

Result<std::span<const uint8_t>> ParseAlert(std::span<const uint8_t> payload)
{
    Reader r{payload};
    std::span<const uint8_t> alert;
    std::span<const uint8_t> signature;
    r.ReadVarBytes(alert, "alert");
    r.ReadVarBytes(signature, "signature");
    return Finish(r, alert, "alert");
}

Result<CFilterRequest> ParseCFilterRequest(std::span<const uint8_t> payload)
{
    Reader r{payload};
    CFilterRequest request;
    r.ReadU8(request.filter_type, "filter type");
    r.ReadU32(request.start_height, "start height");
    ReadHash(r, request.stop_hash, "stop hash");
    return Finish(r, request, "filter request");
}

Result<CFilter> ParseCFilter(std::span<const uint8_t> payload)
{
    Reader r{payload};
    CFilter filter;
    r.ReadU8(filter.filter_type, "filter type");
    ReadHash(r, filter.block_hash, "block hash");
    r.ReadVarBytes(filter.filter, "filter");
    return Finish(r, filter, "cfilter");
}

Result<CFHeaders> ParseCFHeaders(std::span<const uint8_t> payload)
{
    Reader r{payload};
    CFHeaders headers;
    r.ReadU8(headers.filter_type, "filter type");
    ReadHash(r, headers.stop_hash, "stop hash");
    ReadHash(r, headers.previous_header, "previous filter header");
    ReadHashes(r, headers.hashes, "filter hashes");
    return Finish(r, std::move(headers), "cfheaders");
}

Result<CFCheckpt> ParseGetCFCheckpt(std::span<const uint8_t> payload)
{
    Reader r{payload};
    CFCheckpt request;
    r.ReadU8(request.filter_type, "filter type");
    ReadHash(r, request.stop_hash, "stop hash");
    return Finish(r, std::move(request), "getcfcheckpt");
}

Result<CFCheckpt> ParseCFCheckpt(std::span<const uint8_t> payload)
{
    Reader r{payload};
    CFCheckpt checkpoint;
    r.ReadU8(checkpoint.filter_type, "filter type");
    ReadHash(r, checkpoint.stop_hash, "stop hash");
    ReadHashes(r, checkpoint.headers, "filter headers");
    return Finish(r, std::move(checkpoint), "cfcheckpt");
}

Result<void> ParseEmpty(std::span<const uint8_t> payload)
{
    if (payload.empty()) return {};
    return Error{ErrorCode::Corrupt, "malformed message without payload: it has " +
                                         std::to_string(payload.size()) + " bytes"};
}

} // namespace tracering::p2p
