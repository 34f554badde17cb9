// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "event_samples.h"

#include <tracering/tracepoint.h>

#include <array>
#include <cstring>
#include <sstream>

namespace tracering::test {
namespace {

using Hash = std::array<uint8_t, 32>;

Hash MakeHash(uint8_t seed)
{
    Hash h;
    for (size_t i = 0; i < h.size(); ++i)
        h[i] = uint8_t(seed + i * 7);
    return h;
}

const Hash BLOCK_HASH = MakeHash(1);
const Hash TXID_A = MakeHash(2);
const Hash TXID_B = MakeHash(3);
const Hash TXID_C = MakeHash(4);
const std::array<uint8_t, 8> PING_NONCE{1, 2, 3, 4, 5, 6, 7, 8};
const std::string ONION = std::string(56, 'q') + ".onion:8333";

std::vector<uint8_t> BigPayload()
{
    std::vector<uint8_t> p(1000);
    for (size_t i = 0; i < p.size(); ++i)
        p[i] = uint8_t(i * 31 + 5);
    return p;
}

class Checker
{
public:
    template <typename A, typename B>
    void Eq(const char* field, const A& actual, const B& expected)
    {
        if (!(actual == expected)) {
            m_out << field << ": got " << +actual << ", want " << +expected << "; ";
        }
    }
    void Str(const char* field, const flatbuffers::String* actual, const std::string& expected)
    {
        if (!actual) {
            m_out << field << ": missing; ";
        } else if (actual->str() != expected) {
            m_out << field << ": got '" << actual->str() << "', want '" << expected << "'; ";
        }
    }
    void Bytes(const char* field, const flatbuffers::Vector<uint8_t>* actual, const uint8_t* data,
               size_t size)
    {
        if (!actual) {
            m_out << field << ": missing; ";
        } else if (actual->size() != size || std::memcmp(actual->data(), data, size) != 0) {
            m_out << field << ": " << actual->size() << " bytes differ from the " << size
                  << " sent; ";
        }
    }
    void Hash32(const char* field, const tracering::Hash256* actual, const Hash& expected)
    {
        if (!actual) {
            m_out << field << ": missing; ";
        } else if (std::memcmp(actual->bytes()->data(), expected.data(), 32) != 0) {
            m_out << field << ": hash differs; ";
        }
    }
    void Absent(const char* field, const void* actual)
    {
        if (actual) m_out << field << ": present but should be absent; ";
    }
    void Fail(const std::string& what) { m_out << what << "; "; }
    std::string str() const { return m_out.str(); }

private:
    std::ostringstream m_out;
};

template <typename T>
const T* Table(const EventView& view, Checker& c)
{
    const T* t = view.as<T>();
    if (!t) c.Fail("not a valid table of its type (verifier refused it)");
    return t;
}

} // namespace

std::vector<EventType> SampleOrder()
{
    std::vector<EventType> order;
    for (const EventInfo& e : EVENTS)
        order.push_back(e.type);
    return order;
}

void EmitAllSamples()
{
    const auto big = BigPayload();
    TRACERING_TRACEPOINT(net, inbound_message, 7, "127.0.0.1:18444", "inbound", "ping",
                         PING_NONCE.size(), PING_NONCE.data());
    TRACERING_TRACEPOINT(net, outbound_message, 9, "[2001:db8::1]:8333", "outbound-full-relay",
                         "block", big.size(), big.data());
    TRACERING_TRACEPOINT(net, inbound_connection, 11, "10.0.0.2:50000", "inbound", 1, 3);
    TRACERING_TRACEPOINT(net, outbound_connection, 12, ONION.c_str(), "block-relay-only", 3, 8);
    TRACERING_TRACEPOINT(net, evicted_inbound_connection, 13, "1.2.3.4:5", "inbound", 2,
                         int64_t{1700000000});
    TRACERING_TRACEPOINT(net, misbehaving_connection, 14, "headers message size = 2001");
    TRACERING_TRACEPOINT(net, closed_connection, 15, "127.0.0.1:1234", "feeler", 0,
                         int64_t{1464307123});
    TRACERING_TRACEPOINT(validation, block_connected, BLOCK_HASH.data(), 413567, 1557, 4887,
                         int64_t{12345678901}, int64_t{987654321});
    TRACERING_TRACEPOINT(utxocache, flush, -7, 4, 123456789012ULL, 9876543210ULL, true);
    TRACERING_TRACEPOINT(utxocache, add, TXID_A.data(), 4294967295U, 800000, 2100000000000000LL,
                         true);
    TRACERING_TRACEPOINT(utxocache, spent, TXID_B.data(), 0, 1, -1, false);
    TRACERING_TRACEPOINT(utxocache, uncache, TXID_C.data(), 5, 2, 50, true);
    TRACERING_TRACEPOINT(coin_selection, selected_coins, "", "bnb", 100000, -250, 100500);
    TRACERING_TRACEPOINT(coin_selection, normal_create_tx_internal, "w1", true, 1410, -1);
    TRACERING_TRACEPOINT(coin_selection, attempting_aps_create_tx, "w1");
    TRACERING_TRACEPOINT(coin_selection, aps_create_tx_internal, "w1", false, true, 1500, 1);
    TRACERING_TRACEPOINT(mempool, added, TXID_A.data(), 141, 1410);
    TRACERING_TRACEPOINT(mempool, removed, TXID_A.data(), "block", 141, 1410, 1700000000ULL);
    TRACERING_TRACEPOINT(mempool, replaced, TXID_B.data(), 200, 2000, 1700000001ULL, TXID_C.data(),
                         300, -4000, false);
    TRACERING_TRACEPOINT(mempool, rejected, TXID_C.data(), "min relay fee not met");
}

std::string CheckSample(const EventView& view)
{
    Checker c;
    switch (view.type()) {
    case EventType::NetInboundMessage:
        if (auto* t = Table<net::InboundMessage>(view, c)) {
            c.Eq("peer_id", t->peer_id(), 7);
            c.Str("addr", t->addr(), "127.0.0.1:18444");
            c.Eq("conn_type", int(t->conn_type()), int(net::ConnectionType::Inbound));
            c.Str("msg_type", t->msg_type(), "ping");
            c.Eq("size", t->size(), 8u);
            c.Bytes("payload", t->payload(), PING_NONCE.data(), PING_NONCE.size());
            c.Absent("conn_type_name", t->conn_type_name());
        }
        break;
    case EventType::NetOutboundMessage:
        if (auto* t = Table<net::OutboundMessage>(view, c)) {
            const auto big = BigPayload();
            c.Eq("peer_id", t->peer_id(), 9);
            c.Str("addr", t->addr(), "[2001:db8::1]:8333");
            c.Eq("conn_type", int(t->conn_type()), int(net::ConnectionType::OutboundFullRelay));
            c.Str("msg_type", t->msg_type(), "block");
            c.Eq("size", t->size(), big.size());
            c.Bytes("payload", t->payload(), big.data(), big.size());
        }
        break;
    case EventType::NetInboundConnection:
        if (auto* t = Table<net::InboundConnection>(view, c)) {
            c.Eq("peer_id", t->peer_id(), 11);
            c.Str("addr", t->addr(), "10.0.0.2:50000");
            c.Eq("conn_type", int(t->conn_type()), int(net::ConnectionType::Inbound));
            c.Eq("network", int(t->network()), int(net::Network::IPv4));
            c.Eq("existing_connections", t->existing_connections(), 3u);
        }
        break;
    case EventType::NetOutboundConnection:
        if (auto* t = Table<net::OutboundConnection>(view, c)) {
            c.Eq("peer_id", t->peer_id(), 12);
            c.Str("addr", t->addr(), ONION);
            c.Eq("conn_type", int(t->conn_type()), int(net::ConnectionType::BlockRelayOnly));
            c.Eq("network", int(t->network()), int(net::Network::Onion));
            c.Eq("existing_connections", t->existing_connections(), 8u);
        }
        break;
    case EventType::NetEvictedInboundConnection:
        if (auto* t = Table<net::EvictedInboundConnection>(view, c)) {
            c.Eq("peer_id", t->peer_id(), 13);
            c.Str("addr", t->addr(), "1.2.3.4:5");
            c.Eq("conn_type", int(t->conn_type()), int(net::ConnectionType::Inbound));
            c.Eq("network", int(t->network()), int(net::Network::IPv6));
            c.Eq("time_established", t->time_established(), 1700000000);
        }
        break;
    case EventType::NetMisbehavingConnection:
        if (auto* t = Table<net::MisbehavingConnection>(view, c)) {
            c.Eq("peer_id", t->peer_id(), 14);
            c.Str("message", t->message(), "headers message size = 2001");
        }
        break;
    case EventType::NetClosedConnection:
        if (auto* t = Table<net::ClosedConnection>(view, c)) {
            c.Eq("peer_id", t->peer_id(), 15);
            c.Str("addr", t->addr(), "127.0.0.1:1234");
            c.Eq("conn_type", int(t->conn_type()), int(net::ConnectionType::Feeler));
            c.Eq("network", int(t->network()), int(net::Network::Unroutable));
            c.Eq("time_established", t->time_established(), 1464307123);
        }
        break;
    case EventType::ValidationBlockConnected:
        if (auto* t = Table<validation::BlockConnected>(view, c)) {
            c.Hash32("block_hash", t->block_hash(), BLOCK_HASH);
            c.Eq("height", t->height(), 413567);
            c.Eq("transactions", t->transactions(), 1557u);
            c.Eq("inputs", t->inputs(), 4887);
            c.Eq("sigops", t->sigops(), 12345678901LL);
            c.Eq("duration_ns", t->duration_ns(), 987654321);
        }
        break;
    case EventType::UtxocacheFlush:
        if (auto* t = Table<utxocache::Flush>(view, c)) {
            c.Eq("duration_us", t->duration_us(), -7);
            c.Eq("mode", int(t->mode()), int(utxocache::FlushMode::ForceSync));
            c.Eq("coins_count", t->coins_count(), 123456789012ULL);
            c.Eq("coins_mem_usage", t->coins_mem_usage(), 9876543210ULL);
            c.Eq("for_prune", t->for_prune(), true);
        }
        break;
    case EventType::UtxocacheAdd:
        if (auto* t = Table<utxocache::Add>(view, c)) {
            c.Hash32("txid", t->txid(), TXID_A);
            c.Eq("index", t->index(), 4294967295U);
            c.Eq("height", t->height(), 800000u);
            c.Eq("value", t->value(), 2100000000000000LL);
            c.Eq("is_coinbase", t->is_coinbase(), true);
        }
        break;
    case EventType::UtxocacheSpent:
        if (auto* t = Table<utxocache::Spent>(view, c)) {
            c.Hash32("txid", t->txid(), TXID_B);
            c.Eq("index", t->index(), 0u);
            c.Eq("height", t->height(), 1u);
            c.Eq("value", t->value(), -1);
            c.Eq("is_coinbase", t->is_coinbase(), false);
        }
        break;
    case EventType::UtxocacheUncache:
        if (auto* t = Table<utxocache::Uncache>(view, c)) {
            c.Hash32("txid", t->txid(), TXID_C);
            c.Eq("index", t->index(), 5u);
            c.Eq("height", t->height(), 2u);
            c.Eq("value", t->value(), 50);
            c.Eq("is_coinbase", t->is_coinbase(), true);
        }
        break;
    case EventType::CoinSelectionSelectedCoins:
        if (auto* t = Table<coin_selection::SelectedCoins>(view, c)) {
            c.Str("wallet_name", t->wallet_name(), "");
            c.Str("algo", t->algo(), "bnb");
            c.Eq("target", t->target(), 100000);
            c.Eq("waste", t->waste(), -250);
            c.Eq("selected_value", t->selected_value(), 100500);
        }
        break;
    case EventType::CoinSelectionNormalCreateTxInternal:
        if (auto* t = Table<coin_selection::NormalCreateTxInternal>(view, c)) {
            c.Str("wallet_name", t->wallet_name(), "w1");
            c.Eq("success", t->success(), true);
            c.Eq("fee", t->fee(), 1410);
            c.Eq("change_pos", t->change_pos(), -1);
        }
        break;
    case EventType::CoinSelectionAttemptingApsCreateTx:
        if (auto* t = Table<coin_selection::AttemptingApsCreateTx>(view, c)) {
            c.Str("wallet_name", t->wallet_name(), "w1");
        }
        break;
    case EventType::CoinSelectionApsCreateTxInternal:
        if (auto* t = Table<coin_selection::ApsCreateTxInternal>(view, c)) {
            c.Str("wallet_name", t->wallet_name(), "w1");
            c.Eq("use_aps", t->use_aps(), false);
            c.Eq("success", t->success(), true);
            c.Eq("fee", t->fee(), 1500);
            c.Eq("change_pos", t->change_pos(), 1);
        }
        break;
    case EventType::MempoolAdded:
        if (auto* t = Table<mempool::Added>(view, c)) {
            c.Hash32("txid", t->txid(), TXID_A);
            c.Eq("vsize", t->vsize(), 141);
            c.Eq("fee", t->fee(), 1410);
        }
        break;
    case EventType::MempoolRemoved:
        if (auto* t = Table<mempool::Removed>(view, c)) {
            c.Hash32("txid", t->txid(), TXID_A);
            c.Eq("reason", int(t->reason()), int(mempool::RemovalReason::Block));
            c.Eq("vsize", t->vsize(), 141);
            c.Eq("fee", t->fee(), 1410);
            c.Eq("entry_time", t->entry_time(), 1700000000ULL);
            c.Absent("reason_name", t->reason_name());
        }
        break;
    case EventType::MempoolReplaced:
        if (auto* t = Table<mempool::Replaced>(view, c)) {
            c.Hash32("replaced_txid", t->replaced_txid(), TXID_B);
            c.Eq("replaced_vsize", t->replaced_vsize(), 200);
            c.Eq("replaced_fee", t->replaced_fee(), 2000);
            c.Eq("replaced_entry_time", t->replaced_entry_time(), 1700000001ULL);
            c.Hash32("replacement_txid", t->replacement_txid(), TXID_C);
            c.Eq("replacement_vsize", t->replacement_vsize(), 300);
            c.Eq("replacement_fee", t->replacement_fee(), -4000);
            c.Eq("replaced_by_transaction", t->replaced_by_transaction(), false);
        }
        break;
    case EventType::MempoolRejected:
        if (auto* t = Table<mempool::Rejected>(view, c)) {
            c.Hash32("txid", t->txid(), TXID_C);
            c.Str("reason", t->reason(), "min relay fee not met");
        }
        break;
    default:
        c.Fail("unexpected event type " + std::to_string(view.raw_type()));
    }
    return c.str();
}

} // namespace tracering::test
