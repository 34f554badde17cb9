// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/hash.h"

#include <cstdio>
#include <cstdlib>

#include <openssl/evp.h>

namespace tracering::p2p {
namespace {

//! Failures here mean libcrypto could not allocate or is broken: nothing sensible is left
//! to do, and returning a wrong hash would be worse than stopping.
[[noreturn]] void Fatal(const char* what)
{
    std::fprintf(stderr, "tracering-p2p: libcrypto failed in %s\n", what);
    std::abort();
}

//! SHA-256 fetched once: EVP_sha256() would be looked up again on every initialisation,
//! which costs more than hashing a small message.
const EVP_MD* Sha256()
{
    static const EVP_MD* const md = [] {
        EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        if (!fetched) Fatal("EVP_MD_fetch(SHA256)");
        return fetched;
    }();
    return md;
}

} // namespace

DoubleSha256::DoubleSha256() : m_ctx{EVP_MD_CTX_new()}
{
    if (!m_ctx) Fatal("EVP_MD_CTX_new");
    Begin();
}

DoubleSha256::~DoubleSha256() { EVP_MD_CTX_free(m_ctx); }

void DoubleSha256::Begin()
{
    if (EVP_DigestInit_ex2(m_ctx, Sha256(), nullptr) != 1) Fatal("EVP_DigestInit_ex2");
}

DoubleSha256& DoubleSha256::Write(std::span<const uint8_t> data)
{
    if (!data.empty() && EVP_DigestUpdate(m_ctx, data.data(), data.size()) != 1) {
        Fatal("EVP_DigestUpdate");
    }
    return *this;
}

Hash256 DoubleSha256::Finalize()
{
    Hash256 first;
    Hash256 second;
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(m_ctx, first.data(), &length) != 1) Fatal("EVP_DigestFinal_ex");
    Begin();
    Write(first);
    if (EVP_DigestFinal_ex(m_ctx, second.data(), &length) != 1) Fatal("EVP_DigestFinal_ex");
    Begin();
    return second;
}

Hash256 DoubleSha256Of(std::span<const uint8_t> data)
{
    thread_local DoubleSha256 hasher;
    return hasher.Write(data).Finalize();
}

std::array<uint8_t, 32> Sha3_256(std::span<const uint8_t> data)
{
    std::array<uint8_t, 32> out;
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha3_256(), nullptr) != 1 ||
        length != out.size()) {
        Fatal("EVP_Digest(SHA3-256)");
    }
    return out;
}

std::string Hex(std::span<const uint8_t> bytes)
{
    static constexpr char DIGITS[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out.push_back(DIGITS[b >> 4]);
        out.push_back(DIGITS[b & 15]);
    }
    return out;
}

std::string DisplayHex(const Hash256& hash)
{
    Hash256 reversed;
    for (size_t i = 0; i < hash.size(); ++i)
        reversed[i] = hash[hash.size() - 1 - i];
    return Hex(reversed);
}

std::optional<Hash256> HashFromDisplayHex(std::string_view hex)
{
    if (hex.size() != 64) return std::nullopt;
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    Hash256 hash;
    for (size_t i = 0; i < 32; ++i) {
        const int hi = digit(hex[2 * i]);
        const int lo = digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        hash[31 - i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return hash;
}

} // namespace tracering::p2p
