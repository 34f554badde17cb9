// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/serialize.h"

namespace tracering::p2p {

bool Reader::Fail(const std::string& message)
{
    if (m_error.empty()) m_error = message;
    return false;
}

bool Reader::AddContext(const std::string& context)
{
    if (!m_error.empty()) m_error.insert(0, context);
    return false;
}

bool Reader::Need(size_t n, const char* what)
{
    if (!m_error.empty()) return false;
    if (n <= remaining()) return true;
    return Fail(std::string{what} + ": needs " + std::to_string(n) + " bytes, " +
                std::to_string(remaining()) + " left at byte " + std::to_string(m_pos));
}

bool Reader::ReadU8(uint8_t& out, const char* what)
{
    if (!Need(1, what)) return false;
    out = m_data[m_pos++];
    return true;
}

bool Reader::ReadU16BE(uint16_t& out, const char* what)
{
    if (!Need(2, what)) return false;
    out = static_cast<uint16_t>(m_data[m_pos] << 8 | m_data[m_pos + 1]);
    m_pos += 2;
    return true;
}

bool Reader::ReadU32(uint32_t& out, const char* what)
{
    if (!Need(4, what)) return false;
    out = LoadU32(m_data.data() + m_pos);
    m_pos += 4;
    return true;
}

bool Reader::ReadI32(int32_t& out, const char* what)
{
    uint32_t v;
    if (!ReadU32(v, what)) return false;
    out = static_cast<int32_t>(v);
    return true;
}

bool Reader::ReadU64(uint64_t& out, const char* what)
{
    if (!Need(8, what)) return false;
    out = LoadU64(m_data.data() + m_pos);
    m_pos += 8;
    return true;
}

bool Reader::ReadI64(int64_t& out, const char* what)
{
    uint64_t v;
    if (!ReadU64(v, what)) return false;
    out = static_cast<int64_t>(v);
    return true;
}

bool Reader::ReadBytes(size_t n, std::span<const uint8_t>& out, const char* what)
{
    if (!Need(n, what)) return false;
    out = m_data.subspan(m_pos, n);
    m_pos += n;
    return true;
}

bool Reader::Skip(size_t n, const char* what)
{
    if (!Need(n, what)) return false;
    m_pos += n;
    return true;
}

bool Reader::ReadCompactSize(uint64_t& out, const char* what, uint64_t max)
{
    const size_t at = m_pos;
    uint8_t first;
    if (!ReadU8(first, what)) return false;
    uint64_t n = first;
    uint64_t smallest = 0;
    if (first == 253) {
        uint8_t b[2];
        if (!ReadU8(b[0], what) || !ReadU8(b[1], what)) return false;
        n = uint64_t(b[0]) | uint64_t(b[1]) << 8;
        smallest = 253;
    } else if (first == 254) {
        uint32_t v;
        if (!ReadU32(v, what)) return false;
        n = v;
        smallest = 0x10000;
    } else if (first == 255) {
        if (!ReadU64(n, what)) return false;
        smallest = 0x100000000;
    }
    if (n < smallest) {
        return Fail(std::string{what} + ": non-canonical CompactSize " + std::to_string(n) +
                    " at byte " + std::to_string(at));
    }
    if (n > max) {
        return Fail(std::string{what} + ": " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(max) + " at byte " + std::to_string(at));
    }
    out = n;
    return true;
}

bool Reader::ReadVarBytes(std::span<const uint8_t>& out, const char* what, uint64_t max)
{
    uint64_t n;
    if (!ReadCompactSize(n, what, max)) return false;
    return ReadBytes(static_cast<size_t>(n), out, what);
}

void WriteU8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }

void WriteU16BE(std::vector<uint8_t>& out, uint16_t v)
{
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

void WriteU32(std::vector<uint8_t>& out, uint32_t v)
{
    uint8_t b[4];
    StoreU32(b, v);
    out.insert(out.end(), b, b + 4);
}

void WriteI32(std::vector<uint8_t>& out, int32_t v) { WriteU32(out, static_cast<uint32_t>(v)); }

void WriteU64(std::vector<uint8_t>& out, uint64_t v)
{
    uint8_t b[8];
    StoreU64(b, v);
    out.insert(out.end(), b, b + 8);
}

void WriteI64(std::vector<uint8_t>& out, int64_t v) { WriteU64(out, static_cast<uint64_t>(v)); }

void WriteBytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes)
{
    out.insert(out.end(), bytes.begin(), bytes.end());
}

void WriteCompactSize(std::vector<uint8_t>& out, uint64_t n)
{
    if (n < 253) {
        out.push_back(static_cast<uint8_t>(n));
    } else if (n <= 0xffff) {
        out.push_back(253);
        out.push_back(static_cast<uint8_t>(n));
        out.push_back(static_cast<uint8_t>(n >> 8));
    } else if (n <= 0xffffffff) {
        out.push_back(254);
        WriteU32(out, static_cast<uint32_t>(n));
    } else {
        out.push_back(255);
        WriteU64(out, n);
    }
}

void WriteVarBytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes)
{
    WriteCompactSize(out, bytes.size());
    WriteBytes(out, bytes);
}

} // namespace tracering::p2p
