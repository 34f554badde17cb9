// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_HASH_H
#define TRACERING_P2P_HASH_H

//! @file
//! Bitcoin's double SHA-256 ("Hash" in Bitcoin Core), and the SHA3-256 of Tor v3 onion
//! address checksums, on OpenSSL's libcrypto.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

// OpenSSL's context type, declared here so users of this header need no OpenSSL headers.
struct evp_md_ctx_st;

namespace tracering::p2p {

//! A 32-byte hash in internal byte order: the digest bytes as computed. Block explorers and
//! RPCs show them reversed ("display order").
using Hash256 = std::array<uint8_t, 32>;

//! SHA256(SHA256(data)), fed in pieces: the txid of a segwit transaction hashes its
//! serialization with the witness parts left out, without copying it.
//!
//! Reusable: Finalize() resets the state. Not thread-safe; one per thread.
class DoubleSha256
{
public:
    DoubleSha256();
    ~DoubleSha256();
    DoubleSha256(const DoubleSha256&) = delete;
    DoubleSha256& operator=(const DoubleSha256&) = delete;

    DoubleSha256& Write(std::span<const uint8_t> data);
    //! The hash of everything written since construction or the last Finalize().
    Hash256 Finalize();

private:
    void Begin();
    evp_md_ctx_st* m_ctx;
};

//! SHA256(SHA256(data)), with a context kept per thread (creating one costs more than
//! hashing a ping).
Hash256 DoubleSha256Of(std::span<const uint8_t> data);

//! SHA3-256(data), once: Tor v3 onion addresses carry two bytes of it as their checksum.
std::array<uint8_t, 32> Sha3_256(std::span<const uint8_t> data);

//! Lowercase hex of `bytes` in the order given.
std::string Hex(std::span<const uint8_t> bytes);
//! Display-order hex of a hash: its bytes reversed, as Bitcoin Core prints block hashes.
std::string DisplayHex(const Hash256& hash);
//! The hash whose display-order hex is `hex` (64 hex digits), or nothing.
std::optional<Hash256> HashFromDisplayHex(std::string_view hex);

} // namespace tracering::p2p

#endif // TRACERING_P2P_HASH_H
