// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/bitcoin/net.h>
#include <tracering/schemas/net_generated.h>

#include <cstring>

#include "producer/emit.h"

namespace tracering::bitcoin::net {
namespace {

using detail::FieldOf;
using detail::TableLayout;
using detail::fb::F;
using tracering::net::ConnectionType;

//! ConnectionTypeAsString() values to the schema's enum, given the string's length. The first
//! letters differ, so this is one switch and one comparison of a known size.
[[gnu::always_inline]] inline ConnectionType ParseConnType(const char* s, uint32_t len) noexcept
{
    if (!s) return ConnectionType::Unknown;
    auto is = [s, len]<size_t N>(const char(&name)[N], ConnectionType t) {
        return len == N - 1 && std::memcmp(s, name, N - 1) == 0 ? t : ConnectionType::Unknown;
    };
    switch (s[0]) {
    case 'i':
        return is("inbound", ConnectionType::Inbound);
    case 'm':
        return is("manual", ConnectionType::Manual);
    case 'f':
        return is("feeler", ConnectionType::Feeler);
    case 'o':
        return is("outbound-full-relay", ConnectionType::OutboundFullRelay);
    case 'b':
        return is("block-relay-only", ConnectionType::BlockRelayOnly);
    case 'a':
        return is("addr-fetch", ConnectionType::AddrFetch);
    case 'p':
        return is("private-broadcast", ConnectionType::PrivateBroadcast);
    default:
        return ConnectionType::Unknown;
    }
}

//! The layout of InboundMessage and OutboundMessage, which share one emitter.
template <typename T>
constexpr auto MessageLayout()
{
    return TableLayout(FieldOf(T::VT_PEER_ID, &T::peer_id), FieldOf(T::VT_ADDR, &T::addr),
                       FieldOf(T::VT_CONN_TYPE, &T::conn_type),
                       FieldOf(T::VT_MSG_TYPE, &T::msg_type), FieldOf(T::VT_SIZE, &T::size),
                       FieldOf(T::VT_PAYLOAD, &T::payload),
                       FieldOf(T::VT_CONN_TYPE_NAME, &T::conn_type_name));
}
constexpr auto MESSAGE = MessageLayout<tracering::net::InboundMessage>();
static_assert(MESSAGE == MessageLayout<tracering::net::OutboundMessage>());

void Message(EventType type, int64_t peer_id, const char* addr, const char* conn_type,
             const char* msg_type, uint64_t size, const void* payload) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(type);
    if (!writer) return;
    const uint32_t addr_len = detail::fb::StrLen(addr);
    const uint32_t type_len = detail::fb::StrLen(msg_type);
    const uint32_t ct_len = detail::fb::StrLen(conn_type);
    const ConnectionType ct = ParseConnType(conn_type, ct_len);
    uint64_t kept = payload ? size : 0;
    uint16_t flags = 0;
    const uint64_t limit = writer->payload_limit();
    if (limit != 0 && kept > limit) {
        kept = limit;
        flags |= RECORD_FLAG_TRUNCATED;
    }
    uint64_t end = MESSAGE.fixed_size;
    end = detail::fb::StringEnd(end, addr_len);
    end = detail::fb::StringEnd(end, type_len);
    end = detail::fb::BytesEnd(end, kept);
    if (ct == ConnectionType::Unknown) end = detail::fb::StringEnd(end, ct_len);
    detail::EmitTable<MESSAGE>(writer, type, end, flags, [=](auto& t) {
        t.Scalar(F<0>, peer_id);
        t.String(F<1>, addr, addr_len);
        t.Scalar(F<2>, static_cast<uint8_t>(ct));
        t.String(F<3>, msg_type, type_len);
        t.Scalar(F<4>, size);
        t.Bytes(F<5>, payload, static_cast<uint32_t>(kept));
        if (ct == ConnectionType::Unknown) {
            t.String(F<6>, conn_type, ct_len);
        } else {
            t.Absent(F<6>);
        }
    });
}

//! The layout of the four connection events, which share one emitter: id, addr, type,
//! network, and a 64-bit value (`value`: existing_connections or time_established).
template <typename T, typename V>
constexpr auto ConnectionLayout(uint16_t value_vt, V value)
{
    return TableLayout(FieldOf(T::VT_PEER_ID, &T::peer_id), FieldOf(T::VT_ADDR, &T::addr),
                       FieldOf(T::VT_CONN_TYPE, &T::conn_type), FieldOf(T::VT_NETWORK, &T::network),
                       FieldOf(value_vt, value), FieldOf(T::VT_CONN_TYPE_NAME, &T::conn_type_name));
}
using tracering::net::ClosedConnection;
using tracering::net::EvictedInboundConnection;
using tracering::net::InboundConnection;
using tracering::net::OutboundConnection;
constexpr auto CONNECTION = ConnectionLayout<InboundConnection>(
    InboundConnection::VT_EXISTING_CONNECTIONS, &InboundConnection::existing_connections);
static_assert(
    (CONNECTION ==
     ConnectionLayout<OutboundConnection>(OutboundConnection::VT_EXISTING_CONNECTIONS,
                                          &OutboundConnection::existing_connections)) &&
    (CONNECTION ==
     ConnectionLayout<EvictedInboundConnection>(EvictedInboundConnection::VT_TIME_ESTABLISHED,
                                                &EvictedInboundConnection::time_established)) &&
    (CONNECTION == ConnectionLayout<ClosedConnection>(ClosedConnection::VT_TIME_ESTABLISHED,
                                                      &ClosedConnection::time_established)));

template <typename V>
void Connection(EventType type, int64_t peer_id, const char* addr, const char* conn_type,
                uint32_t network, V value) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(type);
    if (!writer) return;
    const uint32_t addr_len = detail::fb::StrLen(addr);
    const uint32_t ct_len = detail::fb::StrLen(conn_type);
    const ConnectionType ct = ParseConnType(conn_type, ct_len);
    uint64_t end = detail::fb::StringEnd(CONNECTION.fixed_size, addr_len);
    if (ct == ConnectionType::Unknown) end = detail::fb::StringEnd(end, ct_len);
    detail::EmitTable<CONNECTION>(writer, type, end, 0, [=](auto& t) {
        t.Scalar(F<0>, peer_id);
        t.String(F<1>, addr, addr_len);
        t.Scalar(F<2>, static_cast<uint8_t>(ct));
        t.Scalar(F<3>, network);
        t.Scalar(F<4>, value);
        if (ct == ConnectionType::Unknown) {
            t.String(F<5>, conn_type, ct_len);
        } else {
            t.Absent(F<5>);
        }
    });
}

using tracering::net::MisbehavingConnection;
constexpr auto MISBEHAVING =
    TableLayout(FieldOf(MisbehavingConnection::VT_PEER_ID, &MisbehavingConnection::peer_id),
                FieldOf(MisbehavingConnection::VT_MESSAGE, &MisbehavingConnection::message));

} // namespace

void inbound_message(int64_t peer_id, const char* addr, const char* conn_type, const char* msg_type,
                     uint64_t size, const void* payload) noexcept
{
    Message(EventType::NetInboundMessage, peer_id, addr, conn_type, msg_type, size, payload);
}

void outbound_message(int64_t peer_id, const char* addr, const char* conn_type,
                      const char* msg_type, uint64_t size, const void* payload) noexcept
{
    Message(EventType::NetOutboundMessage, peer_id, addr, conn_type, msg_type, size, payload);
}

void inbound_connection(int64_t peer_id, const char* addr, const char* conn_type, uint32_t network,
                        uint64_t existing_connections) noexcept
{
    Connection(EventType::NetInboundConnection, peer_id, addr, conn_type, network,
               existing_connections);
}

void outbound_connection(int64_t peer_id, const char* addr, const char* conn_type, uint32_t network,
                         uint64_t existing_connections) noexcept
{
    Connection(EventType::NetOutboundConnection, peer_id, addr, conn_type, network,
               existing_connections);
}

void evicted_inbound_connection(int64_t peer_id, const char* addr, const char* conn_type,
                                uint32_t network, int64_t time_established) noexcept
{
    Connection(EventType::NetEvictedInboundConnection, peer_id, addr, conn_type, network,
               time_established);
}

void misbehaving_connection(int64_t peer_id, const char* message) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::NetMisbehavingConnection);
    if (!writer) return;
    const uint32_t len = detail::fb::StrLen(message);
    detail::EmitTable<MISBEHAVING>(writer, EventType::NetMisbehavingConnection,
                                   detail::fb::StringEnd(MISBEHAVING.fixed_size, len), 0,
                                   [=](auto& t) {
                                       t.Scalar(F<0>, peer_id);
                                       t.String(F<1>, message, len);
                                   });
}

void closed_connection(int64_t peer_id, const char* addr, const char* conn_type, uint32_t network,
                       int64_t time_established) noexcept
{
    Connection(EventType::NetClosedConnection, peer_id, addr, conn_type, network, time_established);
}

} // namespace tracering::bitcoin::net
