// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/address.h"

#include <algorithm>
#include <string_view>

#include "p2p/hash.h"

namespace tracering::p2p {
namespace {

//! The /48 prefix under which `addr` carries Tor v2 addresses ("OnionCat").
constexpr std::array<uint8_t, 6> TORV2_IN_IPV6{0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43};
constexpr uint8_t TORV3_VERSION = 3;

} // namespace

size_t Bip155AddressSize(uint8_t id)
{
    switch (static_cast<AddrNetwork>(id)) {
    case AddrNetwork::IPv4:
        return 4;
    case AddrNetwork::IPv6:
        return 16;
    case AddrNetwork::TorV2:
        return 10;
    case AddrNetwork::TorV3:
        return 32;
    case AddrNetwork::I2P:
        return 32;
    case AddrNetwork::CJDNS:
        return 16;
    }
    return 0;
}

NetAddr ClassifyV1(std::span<const uint8_t, 16> ip)
{
    if (std::equal(TORV2_IN_IPV6.begin(), TORV2_IN_IPV6.end(), ip.begin())) {
        return {static_cast<uint8_t>(AddrNetwork::TorV2), ip.subspan(6)};
    }
    const bool first_ten_zero =
        std::all_of(ip.begin(), ip.begin() + 10, [](uint8_t b) { return b == 0; });
    const bool mapped_or_compatible =
        (ip[10] == 0xff && ip[11] == 0xff) || (ip[10] == 0 && ip[11] == 0);
    if (first_ten_zero && mapped_or_compatible) {
        return {static_cast<uint8_t>(AddrNetwork::IPv4), ip.subspan(12)};
    }
    return {static_cast<uint8_t>(AddrNetwork::IPv6), ip};
}

std::string FormatIPv4(std::span<const uint8_t, 4> ip)
{
    return std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
           std::to_string(ip[3]);
}

std::string FormatIPv6(std::span<const uint8_t, 16> ip)
{
    const bool mapped =
        std::all_of(ip.begin(), ip.begin() + 10, [](uint8_t b) { return b == 0; }) &&
        ip[10] == 0xff && ip[11] == 0xff;
    if (mapped) return "::ffff:" + FormatIPv4(ip.subspan<12, 4>());

    std::array<uint16_t, 8> groups;
    for (size_t i = 0; i < groups.size(); ++i)
        groups[i] = static_cast<uint16_t>(ip[2 * i] << 8 | ip[2 * i + 1]);
    // The first longest run of zero groups; a single zero group is written out (RFC 5952 4.2.2).
    size_t best_start = 0;
    size_t best_length = 0;
    for (size_t i = 0; i < groups.size();) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        size_t end = i;
        while (end < groups.size() && groups[end] == 0)
            ++end;
        if (end - i > best_length) {
            best_start = i;
            best_length = end - i;
        }
        i = end;
    }
    if (best_length < 2) best_length = 0;

    static constexpr char DIGITS[] = "0123456789abcdef";
    auto append_group = [](std::string& out, uint16_t group) {
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const int digit = (group >> shift) & 15;
            if (digit != 0 || started || shift == 0) {
                out.push_back(DIGITS[digit]);
                started = true;
            }
        }
    };
    std::string out;
    for (size_t i = 0; i < groups.size(); ++i) {
        if (best_length != 0 && i == best_start) {
            out += "::";
            i += best_length - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out.push_back(':');
        append_group(out, groups[i]);
    }
    return out;
}

std::string Base32(std::span<const uint8_t> bytes)
{
    static constexpr char ALPHABET[] = "abcdefghijklmnopqrstuvwxyz234567";
    std::string out;
    out.reserve((bytes.size() * 8 + 4) / 5);
    uint32_t buffer = 0;
    int bits = 0;
    for (uint8_t b : bytes) {
        buffer = (buffer << 8) | b;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out.push_back(ALPHABET[(buffer >> bits) & 31]);
        }
    }
    if (bits > 0) out.push_back(ALPHABET[(buffer << (5 - bits)) & 31]);
    return out;
}

std::string OnionV3Address(std::span<const uint8_t, 32> pubkey)
{
    static constexpr std::string_view CHECKSUM_PREFIX = ".onion checksum";
    std::array<uint8_t, CHECKSUM_PREFIX.size() + 32 + 1> checked;
    std::copy(CHECKSUM_PREFIX.begin(), CHECKSUM_PREFIX.end(), checked.begin());
    std::copy(pubkey.begin(), pubkey.end(), checked.begin() + CHECKSUM_PREFIX.size());
    checked.back() = TORV3_VERSION;
    const std::array<uint8_t, 32> checksum = Sha3_256(checked);

    std::array<uint8_t, 35> address;
    std::copy(pubkey.begin(), pubkey.end(), address.begin());
    address[32] = checksum[0];
    address[33] = checksum[1];
    address[34] = TORV3_VERSION;
    return Base32(address) + ".onion";
}

std::string AddressText(const NetAddr& addr)
{
    const size_t size = Bip155AddressSize(addr.network);
    if (size == 0 || addr.bytes.size() != size) return {};
    switch (static_cast<AddrNetwork>(addr.network)) {
    case AddrNetwork::IPv4:
        return FormatIPv4(addr.bytes.first<4>());
    case AddrNetwork::IPv6:
    case AddrNetwork::CJDNS:
        return FormatIPv6(addr.bytes.first<16>());
    case AddrNetwork::TorV2:
        return Base32(addr.bytes) + ".onion";
    case AddrNetwork::TorV3:
        return OnionV3Address(addr.bytes.first<32>());
    case AddrNetwork::I2P:
        return Base32(addr.bytes) + ".b32.i2p";
    }
    return {};
}

} // namespace tracering::p2p
