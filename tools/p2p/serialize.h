// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_P2P_SERIALIZE_H
#define TRACERING_P2P_SERIALIZE_H

//! @file
//! Bitcoin's wire encoding: little-endian integers and CompactSize lengths. Reading is
//! bounds-checked everywhere, because every byte comes from an untrusted peer.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tracering::p2p {

//! Largest length a CompactSize may announce (Bitcoin Core's MAX_SIZE).
inline constexpr uint64_t MAX_SIZE = 0x02000000;

//! Bytes the CompactSize encoding of `n` takes: 1, 3, 5 or 9.
constexpr size_t CompactSizeLength(uint64_t n)
{
    return n < 253 ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

//! A cursor over untrusted bytes. Every read checks that the bytes are there first; the
//! first failure is kept (with what was being read and where) and later reads fail too, so
//! a parser may check once at the end of a group of reads.
class Reader
{
public:
    explicit Reader(std::span<const uint8_t> data) : m_data{data} {}

    size_t pos() const noexcept { return m_pos; }
    size_t remaining() const noexcept { return m_data.size() - m_pos; }
    bool empty() const noexcept { return m_pos == m_data.size(); }
    bool ok() const noexcept { return m_error.empty(); }
    //! What went wrong first, e.g. "input script: 300 bytes announced, 20 left at byte 1234".
    const std::string& error() const noexcept { return m_error; }
    //! The bytes from `begin` to the current position.
    std::span<const uint8_t> Since(size_t begin) const
    {
        return m_data.subspan(begin, m_pos - begin);
    }

    bool ReadU8(uint8_t& out, const char* what);
    bool ReadU16BE(uint16_t& out, const char* what);
    bool ReadU32(uint32_t& out, const char* what);
    bool ReadI32(int32_t& out, const char* what);
    bool ReadU64(uint64_t& out, const char* what);
    bool ReadI64(int64_t& out, const char* what);
    //! `n` bytes in place (no copy).
    bool ReadBytes(size_t n, std::span<const uint8_t>& out, const char* what);
    bool Skip(size_t n, const char* what);
    //! A CompactSize in canonical (shortest) form and at most `max`, as Bitcoin Core
    //! requires.
    bool ReadCompactSize(uint64_t& out, const char* what, uint64_t max = MAX_SIZE);
    //! A CompactSize length followed by that many bytes, returned in place.
    bool ReadVarBytes(std::span<const uint8_t>& out, const char* what, uint64_t max = MAX_SIZE);
    //! Records a failure found by the caller (a value out of range); returns false.
    bool Fail(const std::string& message);
    //! Puts `context` (e.g. "transaction 12: ") before the failure recorded so far, if any,
    //! to say where in a repeated structure it happened; returns false.
    bool AddContext(const std::string& context);

private:
    bool Need(size_t n, const char* what);

    std::span<const uint8_t> m_data;
    size_t m_pos{0};
    std::string m_error;
};

void WriteU8(std::vector<uint8_t>& out, uint8_t v);
void WriteU16BE(std::vector<uint8_t>& out, uint16_t v);
void WriteU32(std::vector<uint8_t>& out, uint32_t v);
void WriteI32(std::vector<uint8_t>& out, int32_t v);
void WriteU64(std::vector<uint8_t>& out, uint64_t v);
void WriteI64(std::vector<uint8_t>& out, int64_t v);
void WriteBytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes);
void WriteCompactSize(std::vector<uint8_t>& out, uint64_t n);
//! CompactSize length, then the bytes.
void WriteVarBytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes);

//! Little-endian loads and stores on raw memory, for callers that checked the bounds.
inline uint32_t LoadU32(const uint8_t* p)
{
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t LoadU64(const uint8_t* p)
{
    return uint64_t(LoadU32(p)) | uint64_t(LoadU32(p + 4)) << 32;
}
inline void StoreU32(uint8_t* p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void StoreU64(uint8_t* p, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace tracering::p2p

#endif // TRACERING_P2P_SERIALIZE_H
