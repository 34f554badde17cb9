// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTNODE_BUFFER_H
#define TRACERING_TESTNODE_BUFFER_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace tracering::testnode {

//! A byte queue for one socket direction: bytes are appended at the end (by read() or by
//! message framing) and consumed from the front. Unlike std::vector it does not zero the
//! space it grows into, and consuming everything resets it without moving a byte.
class ByteBuffer
{
public:
    uint8_t* data() noexcept { return m_mem.get() + m_begin; }
    const uint8_t* data() const noexcept { return m_mem.get() + m_begin; }
    size_t size() const noexcept { return m_end - m_begin; }
    bool empty() const noexcept { return m_begin == m_end; }
    size_t capacity() const noexcept { return m_capacity; }

    //! Free space for at least `n` more bytes at the end (it may be larger); Commit() what
    //! was written there.
    std::span<uint8_t> Prepare(size_t n)
    {
        if (m_capacity - m_end < n) {
            if (size() + n <= m_capacity) {
                // Enough room once the unread bytes move to the front.
                std::memmove(m_mem.get(), data(), size());
            } else {
                const size_t capacity = std::max(m_capacity * 2, size() + n);
                std::unique_ptr<uint8_t[]> mem{new uint8_t[capacity]};
                if (size() != 0) std::memcpy(mem.get(), data(), size());
                m_mem = std::move(mem);
                m_capacity = capacity;
            }
            m_end = size();
            m_begin = 0;
        }
        return {m_mem.get() + m_end, m_capacity - m_end};
    }
    void Commit(size_t n) noexcept { m_end += n; }

    void Append(std::span<const uint8_t> bytes)
    {
        std::span<uint8_t> room = Prepare(bytes.size());
        std::memcpy(room.data(), bytes.data(), bytes.size());
        Commit(bytes.size());
    }

    void Consume(size_t n) noexcept
    {
        m_begin += n;
        if (m_begin == m_end) m_begin = m_end = 0;
    }

    //! Gives memory back after a burst (a 4 MB block) once everything was consumed, so idle
    //! peers do not each keep the largest buffer they ever needed.
    void ShrinkIfEmpty(size_t keep)
    {
        if (empty() && m_capacity > keep) {
            m_mem.reset(new uint8_t[keep]);
            m_capacity = keep;
        }
    }

private:
    std::unique_ptr<uint8_t[]> m_mem;
    size_t m_capacity{0};
    size_t m_begin{0};
    size_t m_end{0};
};

} // namespace tracering::testnode

#endif // TRACERING_TESTNODE_BUFFER_H
