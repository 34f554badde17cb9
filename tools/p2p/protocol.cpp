// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/protocol.h"

#include <algorithm>
#include <cstring>

#include "p2p/serialize.h"

namespace tracering::p2p {
namespace {

Error Malformed(const std::string& what) { return Error{ErrorCode::Corrupt, what}; }

std::string ByteHex(uint8_t b) { return Hex(std::span<const uint8_t>{&b, 1}); }

bool ReadAddress(Reader& r, NetAddress& out, const char* what)
{
    std::span<const uint8_t> ip;
    if (!r.ReadU64(out.services, what) || !r.ReadBytes(out.ip.size(), ip, what) ||
        !r.ReadU16BE(out.port, what)) {
        return false;
    }
    std::copy(ip.begin(), ip.end(), out.ip.begin());
    return true;
}

void WriteAddress(std::vector<uint8_t>& out, const NetAddress& addr)
{
    WriteU64(out, addr.services);
    WriteBytes(out, addr.ip);
    WriteU16BE(out, addr.port);
}

} // namespace

Result<MessageHeader> ParseHeader(std::span<const uint8_t> bytes, const Magic& magic)
{
    if (bytes.size() < HEADER_SIZE) {
        return Malformed("message header needs 24 bytes, got " + std::to_string(bytes.size()));
    }
    MessageHeader header;
    std::copy_n(bytes.begin(), 4, header.magic.begin());
    if (header.magic != magic) {
        return Malformed("wrong magic " + Hex(header.magic) + ", expected " + Hex(magic));
    }
    const uint8_t* command = bytes.data() + 4;
    size_t length = 0;
    while (length < COMMAND_SIZE && command[length] != 0) {
        const uint8_t c = command[length];
        if (c < 0x20 || c > 0x7e) {
            return Malformed("message type has the non-printable byte 0x" + ByteHex(c) +
                             " at position " + std::to_string(length));
        }
        ++length;
    }
    if (length == 0) return Malformed("empty message type");
    for (size_t i = length; i < COMMAND_SIZE; ++i) {
        if (command[i] != 0) {
            return Malformed("message type '" +
                             std::string{reinterpret_cast<const char*>(command), length} +
                             "' has non-NUL padding 0x" + ByteHex(command[i]));
        }
    }
    std::memcpy(header.command.data(), command, length);
    header.length = LoadU32(bytes.data() + 16);
    if (header.length > MAX_PROTOCOL_MESSAGE_LENGTH) {
        return Malformed("message '" + std::string{header.Command()} + "' announces " +
                         std::to_string(header.length) + " bytes, more than the " +
                         std::to_string(MAX_PROTOCOL_MESSAGE_LENGTH) + " allowed");
    }
    std::copy_n(bytes.begin() + 20, 4, header.checksum.begin());
    return header;
}

Checksum ComputeChecksum(std::span<const uint8_t> payload)
{
    const Hash256 hash = DoubleSha256Of(payload);
    Checksum checksum;
    std::copy_n(hash.begin(), checksum.size(), checksum.begin());
    return checksum;
}

void WriteHeader(std::span<uint8_t, HEADER_SIZE> out, const Magic& magic, std::string_view command,
                 uint32_t length, const Checksum& checksum)
{
    std::copy(magic.begin(), magic.end(), out.begin());
    std::fill_n(out.begin() + 4, COMMAND_SIZE, uint8_t{0});
    std::copy_n(command.begin(), std::min(command.size(), COMMAND_SIZE), out.begin() + 4);
    StoreU32(out.data() + 16, length);
    std::copy(checksum.begin(), checksum.end(), out.begin() + 20);
}

void AppendMessage(std::vector<uint8_t>& out, const Magic& magic, std::string_view command,
                   std::span<const uint8_t> payload)
{
    AppendMessage(out, magic, command, payload, ComputeChecksum(payload));
}

void AppendMessage(std::vector<uint8_t>& out, const Magic& magic, std::string_view command,
                   std::span<const uint8_t> payload, const Checksum& checksum)
{
    const size_t at = out.size();
    out.resize(at + HEADER_SIZE);
    WriteHeader(std::span<uint8_t, HEADER_SIZE>{out.data() + at, HEADER_SIZE}, magic, command,
                static_cast<uint32_t>(payload.size()), checksum);
    out.insert(out.end(), payload.begin(), payload.end());
}

NetAddress NetAddress::FromIPv4(std::array<uint8_t, 4> ipv4, uint16_t port, uint64_t services)
{
    NetAddress addr;
    addr.services = services;
    addr.ip[10] = 0xff;
    addr.ip[11] = 0xff;
    std::copy(ipv4.begin(), ipv4.end(), addr.ip.begin() + 12);
    addr.port = port;
    return addr;
}

std::vector<uint8_t> SerializeVersion(const VersionMessage& version)
{
    std::vector<uint8_t> out;
    out.reserve(86 + version.user_agent.size() + 2);
    WriteI32(out, version.version);
    WriteU64(out, version.services);
    WriteI64(out, version.timestamp);
    WriteAddress(out, version.addr_recv);
    WriteAddress(out, version.addr_from);
    WriteU64(out, version.nonce);
    WriteVarBytes(out, {reinterpret_cast<const uint8_t*>(version.user_agent.data()),
                        version.user_agent.size()});
    WriteI32(out, version.start_height);
    WriteU8(out, version.relay ? 1 : 0);
    return out;
}

Result<VersionMessage> ParseVersion(std::span<const uint8_t> payload)
{
    VersionMessage v;
    Reader r{payload};
    if (r.ReadI32(v.version, "version") && r.ReadU64(v.services, "services") &&
        r.ReadI64(v.timestamp, "timestamp") && ReadAddress(r, v.addr_recv, "addr_recv")) {
        // Each optional field is read only if bytes remain, and then must be whole.
        if (!r.empty()) ReadAddress(r, v.addr_from, "addr_from");
        if (r.ok() && !r.empty()) r.ReadU64(v.nonce, "nonce");
        std::span<const uint8_t> agent;
        if (r.ok() && !r.empty() && r.ReadVarBytes(agent, "user agent", MAX_SUBVERSION_LENGTH)) {
            v.user_agent.assign(agent.begin(), agent.end());
        }
        if (r.ok() && !r.empty()) r.ReadI32(v.start_height, "start height");
        uint8_t relay = 1;
        if (r.ok() && !r.empty() && r.ReadU8(relay, "relay")) v.relay = relay != 0;
    }
    if (!r.ok()) return Malformed("malformed version message: " + r.error());
    return v;
}

std::array<uint8_t, 8> SerializeNonce(uint64_t nonce)
{
    std::array<uint8_t, 8> out;
    StoreU64(out.data(), nonce);
    return out;
}

Result<uint64_t> ParseNonce(std::span<const uint8_t> payload)
{
    if (payload.size() < 8) {
        return Malformed("nonce needs 8 bytes, the payload has " + std::to_string(payload.size()));
    }
    return LoadU64(payload.data());
}

Result<uint64_t> ParseHeadersCount(std::span<const uint8_t> payload)
{
    Reader r{payload};
    uint64_t count = 0;
    if (r.ReadCompactSize(count, "headers count")) {
        // Walk the entries only when the count is acceptable: a huge count is judged by the
        // caller, and reading it would only find the message too short.
        for (uint64_t i = 0; i < count && count <= MAX_HEADERS_RESULTS; ++i) {
            uint64_t tx_count;
            if (!r.Skip(80, "block header") || !r.ReadCompactSize(tx_count, "header tx count")) {
                break;
            }
        }
    }
    if (r.ok() && count <= MAX_HEADERS_RESULTS && !r.empty()) {
        r.Fail(std::to_string(r.remaining()) + " bytes after the last header");
    }
    if (!r.ok()) return Malformed("malformed headers message: " + r.error());
    return count;
}

Result<uint64_t> ParseInventoryCount(std::span<const uint8_t> payload)
{
    Reader r{payload};
    uint64_t count = 0;
    if (r.ReadCompactSize(count, "inventory count") && count <= MAX_INV_SZ) {
        r.Skip(static_cast<size_t>(count) * 36, "inventory entries");
        if (r.ok() && !r.empty()) {
            r.Fail(std::to_string(r.remaining()) + " bytes after the last entry");
        }
    }
    if (!r.ok()) return Malformed("malformed inventory: " + r.error());
    return count;
}

} // namespace tracering::p2p
