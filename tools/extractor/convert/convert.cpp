// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "extractor/convert/convert.h"

#include <tracering/schemas.h>

#include <algorithm>
#include <span>
#include <string_view>
#include <unordered_map>

#include "p2p/address.h"
#include "p2p/block.h"
#include "p2p/hash.h"
#include "p2p/messages.h"
#include "p2p/protocol.h"
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
namespace pb_validation = ::ebpf_extractor::validation;
namespace primitives = ::bitcoin_primitives;

// ---------------------------------------------------------------------------------------
// Text and bytes. Every protobuf `string` must be UTF-8: peer-observer's tools (prost)
// refuse to decode an event that has a string of other bytes, and its metrics tool exits
// on that.

//! Length of the well-formed UTF-8 sequence at `s[i]`, or the length of its longest
//! well-formed start (its "maximal subpart", at least 1) as a negative number when it is
//! not one. Follows the Unicode Standard's table of well-formed byte sequences (no
//! overlong forms, no surrogates, nothing above U+10FFFF).
int Utf8Sequence(std::string_view s, size_t i)
{
    const auto b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) return 1;
    int length;
    uint8_t low = 0x80; // the range of the second byte; later ones are 0x80-0xbf
    uint8_t high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        length = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        length = 3;
        if (b == 0xe0) low = 0xa0;
        if (b == 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        length = 4;
        if (b == 0xf0) low = 0x90;
        if (b == 0xf4) high = 0x8f;
    } else {
        return -1;
    }
    for (int k = 1; k < length; ++k) {
        if (i + k >= s.size()) return -k;
        const auto c = static_cast<uint8_t>(s[i + k]);
        if (c < (k == 1 ? low : 0x80) || c > (k == 1 ? high : 0xbf)) return -k;
    }
    return length;
}

bool IsUtf8(std::string_view s)
{
    for (size_t i = 0; i < s.size();) {
        const int n = Utf8Sequence(s, i);
        if (n < 0) return false;
        i += static_cast<size_t>(n);
    }
    return true;
}

//! `s` with each ill-formed part replaced by U+FFFD, as peer-observer's ebpf-extractor
//! reads the node's strings (Rust's String::from_utf8_lossy). The node's own strings
//! (addresses, message types, reasons) are ASCII in practice; this only keeps a stray byte
//! from making the whole event unreadable.
std::string Utf8Lossy(std::string_view s)
{
    if (IsUtf8(s)) return std::string{s};
    std::string out;
    out.reserve(s.size() + 8);
    for (size_t i = 0; i < s.size();) {
        const int n = Utf8Sequence(s, i);
        if (n > 0) {
            out.append(s.substr(i, static_cast<size_t>(n)));
            i += static_cast<size_t>(n);
        } else {
            out.append("\xef\xbf\xbd");
            i += static_cast<size_t>(-n);
        }
    }
    return out;
}

std::string Text(const flatbuffers::String* s)
{
    return s ? Utf8Lossy(s->string_view()) : std::string{};
}

std::string Bytes(std::span<const uint8_t> bytes)
{
    return std::string{reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

//! A hash of an event, 32 bytes in the node's internal order as the schema stores them.
//! Absent (the node passed no hash), it is 32 zero bytes: peer-observer's tools print
//! hashes by reading exactly 32 bytes, and stop on any other length.
std::string HashBytes(const tracering::Hash256* hash)
{
    if (!hash) return std::string(32, '\0');
    return Bytes({hash->bytes()->data(), hash->bytes()->size()});
}

//! Seconds or nanoseconds the node passes signed and peer-observer's schema holds unsigned;
//! never negative in practice, and tools subtract them from the present unsigned, so a
//! negative one becomes 0 rather than a huge value.
uint64_t NonNegative(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

//! peer-observer's connection types. Its schema numbers Feeler 4, but its ebpf-extractor
//! maps Bitcoin Core's "feeler" to 2 (OutboundFullRelay), apparently by mistake; this
//! extractor sends the schema's value, so feelers stay apart from full-relay peers. Types
//! the schema has no value for (manual, addr-fetch, private-broadcast, unknown ones) are 0,
//! as peer-observer sends them.
primitives::ConnType ToConnType(net::ConnectionType type)
{
    switch (type) {
    case net::ConnectionType::Inbound:
        return primitives::Inbound;
    case net::ConnectionType::OutboundFullRelay:
        return primitives::OutboundFullRelay;
    case net::ConnectionType::BlockRelayOnly:
        return primitives::BlockRelayOnly;
    case net::ConnectionType::Feeler:
        return primitives::Feeler;
    default:
        return primitives::Unknown;
    }
}

// ---------------------------------------------------------------------------------------
// P2P payloads: each decoder fills the message's variant, or says why the payload is not
// that message (the caller then sends it as Unknown).

void SetHeader(const p2p::BlockHeader& header, const p2p::Hash256& hash,
               primitives::BlockHeader& out)
{
    out.set_version(header.version);
    out.set_prev_blockhash(Bytes(header.prev_block));
    out.set_merkle_root(Bytes(header.merkle_root));
    out.set_time(header.time);
    out.set_bits(header.bits);
    out.set_nonce(header.nonce);
    out.set_hash(Bytes(hash));
}

void SetTransaction(const p2p::TxEntry& tx, primitives::Transaction& out)
{
    out.set_txid(Bytes(tx.txid));
    out.set_wtxid(Bytes(tx.wtxid));
    out.set_raw(Bytes(tx.raw));
}

void SetInventory(const p2p::InventoryEntry& entry, primitives::InventoryItem& out)
{
    switch (entry.type) {
    case 0:
        out.set_error(true);
        return; // the hash of an ERROR entry means nothing
    case p2p::MSG_TX:
        out.set_transaction(Bytes(entry.hash));
        return;
    case p2p::MSG_BLOCK:
        out.set_block(Bytes(entry.hash));
        return;
    case p2p::MSG_WTX:
        out.set_wtx(Bytes(entry.hash));
        return;
    case p2p::MSG_WITNESS_TX:
        out.set_witness_transaction(Bytes(entry.hash));
        return;
    case p2p::MSG_WITNESS_BLOCK:
        out.set_witness_block(Bytes(entry.hash));
        return;
    case p2p::MSG_CMPCT_BLOCK:
        out.set_compact_block(Bytes(entry.hash));
        return;
    }
    primitives::UnknownItem* unknown = out.mutable_unknown();
    unknown->set_inv_type(entry.type);
    unknown->set_hash(Bytes(entry.hash));
}

void SetNetAddr(const p2p::NetAddr& addr, primitives::Address& out)
{
    const std::string text = p2p::AddressText(addr);
    switch (static_cast<p2p::AddrNetwork>(addr.network)) {
    case p2p::AddrNetwork::IPv4:
        out.set_ipv4(text);
        return;
    case p2p::AddrNetwork::IPv6:
        out.set_ipv6(text);
        return;
    case p2p::AddrNetwork::TorV2:
        out.set_torv2(text);
        return;
    case p2p::AddrNetwork::TorV3:
        out.set_torv3(text);
        return;
    case p2p::AddrNetwork::I2P:
        out.set_i2p(text);
        return;
    case p2p::AddrNetwork::CJDNS:
        out.set_cjdns(text);
        return;
    }
    primitives::UnknownAddress* unknown = out.mutable_unknown();
    unknown->set_id(addr.network);
    unknown->set_address(Bytes(addr.bytes));
}

void SetAddress(const p2p::AddressEntry& entry, primitives::Address& out)
{
    out.set_timestamp(entry.time);
    SetNetAddr(entry.addr, out);
    out.set_services(entry.services);
    out.set_port(entry.port);
}

//! An address of `version`, which has no time: peer-observer sends timestamp 0.
void SetVersionAddress(const p2p::NetAddress& addr, primitives::Address& out)
{
    out.set_timestamp(0);
    SetNetAddr(p2p::ClassifyV1(addr.ip), out);
    out.set_services(addr.services);
    out.set_port(addr.port);
}

Error NotUtf8(const char* field)
{
    return Error{ErrorCode::Corrupt, std::string{"the "} + field + " is not UTF-8 text"};
}

using Payload = std::span<const uint8_t>;
using Decoder = Result<void> (*)(Payload, pb_msg::MessageEvent&);

//! Copies the parsed value into the message, or passes the parser's error on.
template <typename T, typename Fill>
Result<void> Decode(Result<T> parsed, Fill fill)
{
    if (!parsed) return parsed.error();
    return fill(parsed.value());
}

Result<void> DecodeVersion(Payload payload, pb_msg::MessageEvent& out)
{
    // Like Bitcoin Core, ParseVersion ignores bytes after `relay`: later protocol versions
    // may add fields there, and peer-observer's schema has no place for them.
    return Decode(p2p::ParseVersion(payload), [&](const p2p::VersionMessage& v) -> Result<void> {
        if (!IsUtf8(v.user_agent)) return NotUtf8("user agent");
        pb_msg::Version* version = out.mutable_version();
        version->set_version(static_cast<uint32_t>(v.version));
        version->set_services(v.services);
        version->set_timestamp(v.timestamp);
        SetVersionAddress(v.addr_recv, *version->mutable_receiver());
        SetVersionAddress(v.addr_from, *version->mutable_sender());
        version->set_nonce(v.nonce);
        version->set_user_agent(v.user_agent);
        version->set_start_height(v.start_height);
        version->set_relay(v.relay);
        return {};
    });
}

Result<void> DecodePing(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseNonceExact(payload), [&](uint64_t nonce) -> Result<void> {
        out.mutable_ping()->set_value(nonce);
        return {};
    });
}

Result<void> DecodePong(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseNonceExact(payload), [&](uint64_t nonce) -> Result<void> {
        out.mutable_pong()->set_value(nonce);
        return {};
    });
}

template <typename Items>
void AddItems(const std::vector<p2p::InventoryEntry>& entries, Items& items)
{
    items.Reserve(static_cast<int>(entries.size()));
    for (const p2p::InventoryEntry& entry : entries)
        SetInventory(entry, *items.Add());
}

Result<void> DecodeInv(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseInventory(payload), [&](const auto& entries) -> Result<void> {
        AddItems(entries, *out.mutable_inv()->mutable_items());
        return {};
    });
}

Result<void> DecodeGetData(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseInventory(payload), [&](const auto& entries) -> Result<void> {
        AddItems(entries, *out.mutable_getdata()->mutable_items());
        return {};
    });
}

Result<void> DecodeNotFound(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseInventory(payload), [&](const auto& entries) -> Result<void> {
        AddItems(entries, *out.mutable_notfound()->mutable_items());
        return {};
    });
}

template <typename Addresses>
void AddAddresses(const std::vector<p2p::AddressEntry>& entries, Addresses& addresses)
{
    addresses.Reserve(static_cast<int>(entries.size()));
    for (const p2p::AddressEntry& entry : entries)
        SetAddress(entry, *addresses.Add());
}

Result<void> DecodeAddr(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseAddr(payload), [&](const auto& entries) -> Result<void> {
        AddAddresses(entries, *out.mutable_addr()->mutable_addresses());
        return {};
    });
}

Result<void> DecodeAddrV2(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseAddrV2(payload), [&](const auto& entries) -> Result<void> {
        AddAddresses(entries, *out.mutable_addrv2()->mutable_addresses());
        return {};
    });
}

Result<void> DecodeFeeFilter(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseFeeFilter(payload), [&](int64_t fee) -> Result<void> {
        out.mutable_feefilter()->set_fee(fee);
        return {};
    });
}

template <typename Locator>
void SetLocator(const p2p::BlockLocator& locator, Locator& out)
{
    out.set_version(locator.version);
    for (const p2p::Hash256& hash : locator.hashes)
        out.add_locator_hashes(Bytes(hash));
    out.set_stop_hash(Bytes(locator.stop));
}

Result<void> DecodeGetHeaders(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseLocator(payload), [&](const p2p::BlockLocator& l) -> Result<void> {
        SetLocator(l, *out.mutable_getheaders());
        return {};
    });
}

Result<void> DecodeGetBlocks(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseLocator(payload), [&](const p2p::BlockLocator& l) -> Result<void> {
        SetLocator(l, *out.mutable_getblocks());
        return {};
    });
}

Result<void> DecodeHeaders(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseHeaders(payload), [&](const auto& entries) -> Result<void> {
        auto* headers = out.mutable_headers()->mutable_headers();
        headers->Reserve(static_cast<int>(entries.size()));
        for (const p2p::HeaderEntry& entry : entries)
            SetHeader(entry.header, entry.hash, *headers->Add());
        return {};
    });
}

Result<void> DecodeSendCmpct(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseSendCmpct(payload), [&](const p2p::SendCmpct& s) -> Result<void> {
        pb_msg::SendCompact* send = out.mutable_sendcompact();
        send->set_send_compact(s.high_bandwidth);
        send->set_version(s.version);
        return {};
    });
}

Result<void> DecodeCmpctBlock(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseCmpctBlock(payload), [&](const p2p::CompactBlock& b) -> Result<void> {
        pb_msg::CompactBlock* block = out.mutable_compactblock();
        SetHeader(b.header, b.hash, *block->mutable_header());
        block->set_nonce(b.nonce);
        block->mutable_short_ids()->Reserve(static_cast<int>(b.short_ids.size()));
        for (const auto& id : b.short_ids)
            block->add_short_ids(Bytes(id));
        for (const p2p::PrefilledTx& prefilled : b.prefilled) {
            // At most p2p::MAX_BLOCK_TX_INDEX (ParseCmpctBlock): fits the schema's 32 bits.
            primitives::PrefilledTransaction* tx = block->add_transactions();
            tx->set_diff_index(static_cast<uint32_t>(prefilled.diff_index));
            SetTransaction(prefilled.tx, *tx->mutable_tx());
        }
        return {};
    });
}

Result<void> DecodeTx(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseTx(payload), [&](const p2p::TxEntry& tx) -> Result<void> {
        SetTransaction(tx, *out.mutable_tx()->mutable_tx());
        return {};
    });
}

Result<void> DecodeBlock(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseFullBlock(payload), [&](const p2p::FullBlock& b) -> Result<void> {
        pb_msg::Block* block = out.mutable_block();
        SetHeader(b.header, b.hash, *block->mutable_header());
        block->mutable_transactions()->Reserve(static_cast<int>(b.transactions.size()));
        for (const p2p::TxEntry& tx : b.transactions)
            SetTransaction(tx, *block->add_transactions());
        return {};
    });
}

Result<void> DecodeGetBlockTxn(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(
        p2p::ParseGetBlockTxn(payload), [&](const p2p::BlockTxnRequest& request) -> Result<void> {
            pb_msg::GetBlockTxn* get = out.mutable_getblocktxn();
            get->set_block_hash(Bytes(request.block_hash));
            get->mutable_tx_indexes()->Add(request.indexes.begin(), request.indexes.end());
            return {};
        });
}

Result<void> DecodeBlockTxn(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseBlockTxn(payload), [&](const p2p::BlockTxn& b) -> Result<void> {
        pb_msg::BlockTxn* txn = out.mutable_blocktxn();
        txn->set_block_hash(Bytes(b.block_hash));
        txn->mutable_transactions()->Reserve(static_cast<int>(b.transactions.size()));
        for (const p2p::TxEntry& tx : b.transactions)
            SetTransaction(tx, *txn->add_transactions());
        return {};
    });
}

Result<void> DecodeMerkleBlock(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseMerkleBlock(payload), [&](const p2p::MerkleBlock& b) -> Result<void> {
        pb_msg::MerkleBlock* block = out.mutable_merkleblock();
        SetHeader(b.header, b.hash, *block->mutable_header());
        block->set_num_transactions(b.total_transactions);
        // Every bit of the flag bytes, as peer-observer's decoder lists them.
        block->mutable_bits()->Reserve(static_cast<int>(b.flags.size() * 8));
        for (uint8_t byte : b.flags) {
            for (int bit = 0; bit < 8; ++bit)
                block->add_bits((byte >> bit) & 1);
        }
        for (const p2p::Hash256& hash : b.hashes)
            block->add_hashes(Bytes(hash));
        return {};
    });
}

Result<void> DecodeFilterLoad(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseFilterLoad(payload), [&](const p2p::FilterLoad& f) -> Result<void> {
        if (!pb_msg::FilterLoad::BloomFlags_IsValid(f.flags)) {
            return Error{ErrorCode::Corrupt, "malformed filterload: flags " +
                                                 std::to_string(f.flags) +
                                                 " are none of BIP37's 0, 1 and 2"};
        }
        pb_msg::FilterLoad* load = out.mutable_filterload();
        load->set_filter(Bytes(f.filter));
        load->set_hash_funcs(f.hash_funcs);
        load->set_tweak(f.tweak);
        load->set_flags(static_cast<pb_msg::FilterLoad::BloomFlags>(f.flags));
        return {};
    });
}

Result<void> DecodeFilterAdd(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseFilterAdd(payload), [&](Payload element) -> Result<void> {
        out.mutable_filteradd()->set_filter(Bytes(element));
        return {};
    });
}

//! BIP61's reject codes, by their position in peer-observer's RejectReason enum.
constexpr std::array<uint8_t, 8> REJECT_CODES{0x01, 0x10, 0x11, 0x12, 0x40, 0x41, 0x42, 0x43};

Result<void> DecodeReject(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseReject(payload), [&](const p2p::Reject& r) -> Result<void> {
        const auto code = std::find(REJECT_CODES.begin(), REJECT_CODES.end(), r.code);
        if (code == REJECT_CODES.end()) {
            return Error{ErrorCode::Corrupt,
                         "malformed reject: code " + std::to_string(r.code) + " is not BIP61's"};
        }
        if (!IsUtf8(r.message)) return NotUtf8("rejected message type");
        if (!IsUtf8(r.reason)) return NotUtf8("reject reason");
        pb_msg::Reject* reject = out.mutable_reject();
        reject->set_rejected_command(r.message);
        reject->set_reason(static_cast<pb_msg::Reject::RejectReason>(code - REJECT_CODES.begin()));
        reject->set_reason_details(r.reason);
        // A reject of something other than a tx or block names no hash; the field is
        // required and tools print it as a 32-byte hash, so it is zero.
        reject->set_hash(r.hash ? Bytes(*r.hash) : std::string(32, '\0'));
        return {};
    });
}

Result<void> DecodeAlert(Payload payload, pb_msg::MessageEvent& out)
{
    // The signature after the alert has no field in the schema.
    return Decode(p2p::ParseAlert(payload), [&](Payload alert) -> Result<void> {
        out.mutable_alert()->set_alert(Bytes(alert));
        return {};
    });
}

Result<void> DecodeGetCFilters(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseCFilterRequest(payload),
                  [&](const p2p::CFilterRequest& r) -> Result<void> {
                      pb_msg::GetCFilter* get = out.mutable_getcfilter();
                      get->set_filter_type(r.filter_type);
                      get->set_start_height(r.start_height);
                      get->set_stop_hash(Bytes(r.stop_hash));
                      return {};
                  });
}

Result<void> DecodeGetCFHeaders(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseCFilterRequest(payload),
                  [&](const p2p::CFilterRequest& r) -> Result<void> {
                      pb_msg::GetCFHeaders* get = out.mutable_getcfheaders();
                      get->set_filter_type(r.filter_type);
                      get->set_start_height(r.start_height);
                      get->set_stop_hash(Bytes(r.stop_hash));
                      return {};
                  });
}

Result<void> DecodeCFilter(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseCFilter(payload), [&](const p2p::CFilter& f) -> Result<void> {
        pb_msg::CFilter* filter = out.mutable_cfilter();
        filter->set_filter_type(f.filter_type);
        filter->set_block_hash(Bytes(f.block_hash));
        filter->set_filter(Bytes(f.filter));
        return {};
    });
}

Result<void> DecodeCFHeaders(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseCFHeaders(payload), [&](const p2p::CFHeaders& h) -> Result<void> {
        pb_msg::CFHeaders* headers = out.mutable_cfheaders();
        headers->set_filter_type(h.filter_type);
        headers->set_stop_hash(Bytes(h.stop_hash));
        headers->set_previous_filter_header(Bytes(h.previous_header));
        for (const p2p::Hash256& hash : h.hashes)
            headers->add_filter_hashes(Bytes(hash));
        return {};
    });
}

Result<void> DecodeGetCFCheckpt(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseGetCFCheckpt(payload), [&](const p2p::CFCheckpt& c) -> Result<void> {
        pb_msg::GetCFCheckpt* get = out.mutable_getcfcheckpt();
        get->set_filter_type(c.filter_type);
        get->set_stop_hash(Bytes(c.stop_hash));
        return {};
    });
}

Result<void> DecodeCFCheckpt(Payload payload, pb_msg::MessageEvent& out)
{
    return Decode(p2p::ParseCFCheckpt(payload), [&](const p2p::CFCheckpt& c) -> Result<void> {
        pb_msg::CFCheckpt* checkpoint = out.mutable_cfcheckpt();
        checkpoint->set_filter_type(c.filter_type);
        checkpoint->set_stop_hash(Bytes(c.stop_hash));
        for (const p2p::Hash256& hash : c.headers)
            checkpoint->add_filter_headers(Bytes(hash));
        return {};
    });
}

//! A decoder for a message without payload that sets the variant `Set` names.
template <void (pb_msg::MessageEvent::*Set)(bool)>
Result<void> DecodeEmpty(Payload payload, pb_msg::MessageEvent& out)
{
    Result<void> empty = p2p::ParseEmpty(payload);
    if (empty) (out.*Set)(true);
    return empty;
}

//! The decoder of each message type that has a variant: the types peer-observer's decoder
//! (rust-bitcoin 0.32's NetworkMessage) knows. Other types, such as `sendtxrcncl`, go out
//! as Unknown, as peer-observer sends them.
const std::unordered_map<std::string_view, Decoder>& Decoders()
{
    static const std::unordered_map<std::string_view, Decoder> decoders{
        {"version", DecodeVersion},
        {"verack", DecodeEmpty<&pb_msg::MessageEvent::set_verack>},
        {"addr", DecodeAddr},
        {"addrv2", DecodeAddrV2},
        {"sendaddrv2", DecodeEmpty<&pb_msg::MessageEvent::set_sendaddrv2>},
        {"inv", DecodeInv},
        {"getdata", DecodeGetData},
        {"notfound", DecodeNotFound},
        {"getblocks", DecodeGetBlocks},
        {"getheaders", DecodeGetHeaders},
        {"mempool", DecodeEmpty<&pb_msg::MessageEvent::set_mempool>},
        {"tx", DecodeTx},
        {"block", DecodeBlock},
        {"headers", DecodeHeaders},
        {"sendheaders", DecodeEmpty<&pb_msg::MessageEvent::set_sendheaders>},
        {"getaddr", DecodeEmpty<&pb_msg::MessageEvent::set_getaddr>},
        {"ping", DecodePing},
        {"pong", DecodePong},
        {"merkleblock", DecodeMerkleBlock},
        {"filterload", DecodeFilterLoad},
        {"filteradd", DecodeFilterAdd},
        {"filterclear", DecodeEmpty<&pb_msg::MessageEvent::set_filterclear>},
        {"getcfilters", DecodeGetCFilters},
        {"cfilter", DecodeCFilter},
        {"getcfheaders", DecodeGetCFHeaders},
        {"cfheaders", DecodeCFHeaders},
        {"getcfcheckpt", DecodeGetCFCheckpt},
        {"cfcheckpt", DecodeCFCheckpt},
        {"sendcmpct", DecodeSendCmpct},
        {"cmpctblock", DecodeCmpctBlock},
        {"getblocktxn", DecodeGetBlockTxn},
        {"blocktxn", DecodeBlockTxn},
        {"alert", DecodeAlert},
        {"reject", DecodeReject},
        {"feefilter", DecodeFeeFilter},
        {"wtxidrelay", DecodeEmpty<&pb_msg::MessageEvent::set_wtxidrelay>},
    };
    return decoders;
}

void SetUnknown(const std::string& command, Payload payload, pb_msg::MessageEvent& out)
{
    pb_msg::Unknown* unknown = out.mutable_unknown();
    unknown->set_command(command);
    unknown->set_payload(Bytes(payload));
}

//! Fills the message variant of `out` from the payload, as Unknown when it does not decode.
void DecodePayload(const std::string& command, Payload payload, bool whole,
                   pb_msg::MessageEvent& out, Converted& converted)
{
    if (!whole) {
        SetUnknown(command, payload, out);
        converted.undecodable = true;
        converted.error = "the payload was cut to " + std::to_string(payload.size()) +
                          " bytes (a reader's payload limit)";
        return;
    }
    // Payloads older peers send, which peer-observer names without decoding them.
    if (payload.empty() && command == "addrv2") {
        out.set_emptyaddrv2(true);
        return;
    }
    if (payload.empty() && command == "ping") {
        out.set_oldping(true);
        return;
    }

    const auto& decoders = Decoders();
    const auto decoder = decoders.find(command);
    if (decoder == decoders.end()) {
        SetUnknown(command, payload, out);
        return;
    }
    Result<void> decoded = decoder->second(payload, out);
    if (decoded) return;
    // A decoder may have set part of its variant; setting another variant clears it.
    SetUnknown(command, payload, out);
    converted.undecodable = true;
    converted.error = decoded.error().message();
}

// ---------------------------------------------------------------------------------------
// One function per ring's events: false when the table does not verify.

template <typename Table>
bool ConvertMessage(const Table* m, const EventView& event, bool inbound, pb_msg::MessageEvent& out,
                    Converted& converted)
{
    if (!m) return false;
    pb_msg::Metadata* meta = out.mutable_meta();
    meta->set_peer_id(static_cast<uint64_t>(m->peer_id()));
    meta->set_addr(Text(m->addr()));
    meta->set_conn_type(ToConnType(m->conn_type()));
    meta->set_command(Text(m->msg_type()));
    meta->set_inbound(inbound);
    meta->set_size(m->size());

    Payload payload;
    if (m->payload()) payload = {m->payload()->data(), m->payload()->size()};
    // The size is the message's; the payload is what the ring kept of it.
    const bool whole = !event.truncated() && payload.size() == m->size();
    DecodePayload(meta->command(), payload, whole, out, converted);
    return true;
}

template <typename Table>
void SetConnection(const Table& m, pb_conn::Connection& out)
{
    out.set_peer_id(static_cast<uint64_t>(m.peer_id()));
    out.set_addr(Text(m.addr()));
    out.set_conn_type(ToConnType(m.conn_type()));
    out.set_network(static_cast<uint32_t>(m.network()));
}

bool ConvertNet(const EventView& event, ::event::Event& envelope, Converted& converted)
{
    ::ebpf_extractor::ebpf* ebpf = envelope.mutable_ebpf_extractor();
    switch (event.type()) {
    case EventType::NetInboundMessage:
        converted.subject = Subject::NetMsg;
        return ConvertMessage(event.as<net::InboundMessage>(), event, /*inbound=*/true,
                              *ebpf->mutable_message(), converted);
    case EventType::NetOutboundMessage:
        converted.subject = Subject::NetMsg;
        return ConvertMessage(event.as<net::OutboundMessage>(), event, /*inbound=*/false,
                              *ebpf->mutable_message(), converted);
    default:
        break;
    }
    converted.subject = Subject::NetConn;
    pb_conn::ConnectionEvent* conn = ebpf->mutable_connection();
    switch (event.type()) {
    case EventType::NetInboundConnection: {
        const auto* m = event.as<net::InboundConnection>();
        if (!m) return false;
        pb_conn::InboundConnection* inbound = conn->mutable_inbound();
        SetConnection(*m, *inbound->mutable_conn());
        inbound->set_existing_connections(m->existing_connections());
        return true;
    }
    case EventType::NetOutboundConnection: {
        const auto* m = event.as<net::OutboundConnection>();
        if (!m) return false;
        pb_conn::OutboundConnection* outbound = conn->mutable_outbound();
        SetConnection(*m, *outbound->mutable_conn());
        outbound->set_existing_connections(m->existing_connections());
        return true;
    }
    case EventType::NetClosedConnection: {
        const auto* m = event.as<net::ClosedConnection>();
        if (!m) return false;
        pb_conn::ClosedConnection* closed = conn->mutable_closed();
        SetConnection(*m, *closed->mutable_conn());
        closed->set_time_established(NonNegative(m->time_established()));
        return true;
    }
    case EventType::NetEvictedInboundConnection: {
        const auto* m = event.as<net::EvictedInboundConnection>();
        if (!m) return false;
        pb_conn::EvictedInboundConnection* evicted = conn->mutable_inbound_evicted();
        SetConnection(*m, *evicted->mutable_conn());
        evicted->set_time_established(NonNegative(m->time_established()));
        return true;
    }
    case EventType::NetMisbehavingConnection: {
        const auto* m = event.as<net::MisbehavingConnection>();
        if (!m) return false;
        pb_conn::MisbehavingConnection* misbehaving = conn->mutable_misbehaving();
        misbehaving->set_id(static_cast<uint64_t>(m->peer_id()));
        misbehaving->set_message(Text(m->message()));
        return true;
    }
    default:
        return false;
    }
}

//! Bitcoin Core's RemovalReasonToString() words; an Unknown reason carries the node's word.
std::string RemovalReasonText(const mempool::Removed& m)
{
    switch (m.reason()) {
    case mempool::RemovalReason::Expiry:
        return "expiry";
    case mempool::RemovalReason::Sizelimit:
        return "sizelimit";
    case mempool::RemovalReason::Reorg:
        return "reorg";
    case mempool::RemovalReason::Block:
        return "block";
    case mempool::RemovalReason::Conflict:
        return "conflict";
    case mempool::RemovalReason::Replaced:
        return "replaced";
    default:
        return Text(m.reason_name());
    }
}

bool ConvertMempool(const EventView& event, ::event::Event& envelope, Converted& converted)
{
    converted.subject = Subject::Mempool;
    pb_mempool::MempoolEvent* pool = envelope.mutable_ebpf_extractor()->mutable_mempool();
    switch (event.type()) {
    case EventType::MempoolAdded: {
        const auto* m = event.as<mempool::Added>();
        if (!m) return false;
        pb_mempool::Added* added = pool->mutable_added();
        added->set_txid(HashBytes(m->txid()));
        added->set_vsize(m->vsize());
        added->set_fee(m->fee());
        return true;
    }
    case EventType::MempoolRemoved: {
        const auto* m = event.as<mempool::Removed>();
        if (!m) return false;
        pb_mempool::Removed* removed = pool->mutable_removed();
        removed->set_txid(HashBytes(m->txid()));
        removed->set_reason(RemovalReasonText(*m));
        removed->set_vsize(m->vsize());
        removed->set_fee(m->fee());
        removed->set_entry_time(m->entry_time());
        return true;
    }
    case EventType::MempoolReplaced: {
        const auto* m = event.as<mempool::Replaced>();
        if (!m) return false;
        pb_mempool::Replaced* replaced = pool->mutable_replaced();
        replaced->set_replaced_txid(HashBytes(m->replaced_txid()));
        replaced->set_replaced_vsize(m->replaced_vsize());
        replaced->set_replaced_fee(m->replaced_fee());
        replaced->set_replaced_entry_time(m->replaced_entry_time());
        replaced->set_replacement_id(HashBytes(m->replacement_txid()));
        replaced->set_replacement_vsize(m->replacement_vsize());
        replaced->set_replacement_fee(m->replacement_fee());
        replaced->set_replaced_by_transaction(m->replaced_by_transaction());
        return true;
    }
    case EventType::MempoolRejected: {
        const auto* m = event.as<mempool::Rejected>();
        if (!m) return false;
        pb_mempool::Rejected* rejected = pool->mutable_rejected();
        rejected->set_txid(HashBytes(m->txid()));
        rejected->set_reason(Text(m->reason()));
        return true;
    }
    default:
        return false;
    }
}

bool ConvertValidation(const EventView& event, ::event::Event& envelope, Converted& converted)
{
    converted.subject = Subject::Validation;
    const auto* m = event.as<validation::BlockConnected>();
    if (!m) return false;
    pb_validation::BlockConnected* block =
        envelope.mutable_ebpf_extractor()->mutable_validation()->mutable_block_connected();
    block->set_hash(HashBytes(m->block_hash()));
    block->set_height(m->height());
    block->set_transactions(static_cast<int64_t>(m->transactions()));
    block->set_inputs(m->inputs());
    block->set_sigops(m->sigops());
    block->set_connection_time(NonNegative(m->duration_ns()));
    return true;
}

} // namespace

const char* SubjectName(Subject subject)
{
    switch (subject) {
    case Subject::NetMsg:
        return "netmsg";
    case Subject::NetConn:
        return "netconn";
    case Subject::Mempool:
        return "mempool";
    case Subject::Validation:
        return "validation";
    }
    return "?";
}

std::optional<Converted> Convert(const EventView& event, uint64_t unix_ms)
{
    Converted converted{.subject = Subject::NetMsg};
    ::event::Event envelope;
    envelope.set_timestamp(unix_ms);
    bool ok = false;
    switch (event.type()) {
    case EventType::NetInboundMessage:
    case EventType::NetOutboundMessage:
    case EventType::NetInboundConnection:
    case EventType::NetOutboundConnection:
    case EventType::NetEvictedInboundConnection:
    case EventType::NetMisbehavingConnection:
    case EventType::NetClosedConnection:
        ok = ConvertNet(event, envelope, converted);
        break;
    case EventType::MempoolAdded:
    case EventType::MempoolRemoved:
    case EventType::MempoolReplaced:
    case EventType::MempoolRejected:
        ok = ConvertMempool(event, envelope, converted);
        break;
    case EventType::ValidationBlockConnected:
        ok = ConvertValidation(event, envelope, converted);
        break;
    default:
        return std::nullopt;
    }
    if (!ok) return std::nullopt;
    envelope.SerializeToString(&converted.bytes);
    return converted;
}

} // namespace tracering::extractor
