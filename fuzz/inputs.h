// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_FUZZ_INPUTS_H
#define TRACERING_FUZZ_INPUTS_H

//! @file
//! The input layouts of the fuzz targets whose input is not a file format as it is: decoded
//! by the targets, encoded by seeds.cpp from real data. Integers are little-endian.
//! (capture_file takes a capture file and control_server the bytes a client sends, as they
//! are.)

#include <tracering/abi.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tracering::fuzz {

//! Reads little-endian integers from the front of an input; past its end they read as 0.
class InputReader
{
public:
    explicit InputReader(std::span<const uint8_t> bytes) : m_bytes{bytes} {}
    template <typename T>
    T Le()
    {
        uint64_t v = 0;
        for (size_t i = 0; i < sizeof(T); ++i) {
            if (m_pos < m_bytes.size()) v |= uint64_t{m_bytes[m_pos]} << (8 * i);
            ++m_pos;
        }
        return static_cast<T>(v);
    }
    //! The next `n` bytes, or as many as are left.
    std::span<const uint8_t> Bytes(size_t n)
    {
        const size_t start = m_pos < m_bytes.size() ? m_pos : m_bytes.size();
        const size_t take = n < m_bytes.size() - start ? n : m_bytes.size() - start;
        m_pos = start + take;
        return m_bytes.subspan(start, take);
    }
    std::span<const uint8_t> Rest() { return Bytes(m_bytes.size()); }

private:
    std::span<const uint8_t> m_bytes;
    size_t m_pos{0};
};

template <typename T>
void PutLe(std::vector<uint8_t>& out, T value)
{
    for (size_t i = 0; i < sizeof(T); ++i)
        out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i)));
}

// --- ring_reader ----------------------------------------------------------------------------
//
// A reader granted one ring of a segment whose control lines, reader line, cursor and data
// the input sets (the rest is a real producer's segment):
//
//      0  u8   ring read (modulo the number of rings)
//      1  u8   flags (RING_READER_*)
//      2  u8   patches that follow the fixed part (at most RING_READER_MAX_PATCHES)
//      3  5    0
//      8  u64  read_pos: the reader's cursor (CursorSlot::read_pos), where it starts
//     16  u64  write_pos: the ring's RingControl::write_pos
//     24  u64  attach_seq: the reader line's ReaderControl::attach_seq
//     32  u64  event_mask: the reader line's ReaderControl::event_mask
//     40  patches, 16 bytes each: u32 offset, u32 0, u64 value, stored at the offset
//         (modulo the bytes before the first data area, rounded down to 8): header, ring
//         table, control and reader lines
//     ..  the ring's data from read_pos on (wrapping at the capacity), at most a capacity

//! Ring capacity of the segment the ring_reader target builds (and its seeds assume).
inline constexpr uint64_t RING_READER_CAPACITY = 4096;
//! The producer has exited (SegmentHeader::producer_state is Exited).
inline constexpr uint8_t RING_READER_EXITED = 1;
//! The reader resumes a cursor moved since it was added (its line's attach_pos differs from
//! read_pos), so it learns the next seq from the first record.
inline constexpr uint8_t RING_READER_RESUMED = 2;
inline constexpr uint32_t RING_READER_MAX_PATCHES = 16;
inline constexpr size_t RING_READER_FIXED_SIZE = 40;

struct RingReaderPatch {
    uint32_t offset{0};
    uint64_t value{0};
};

struct RingReaderInput {
    uint8_t ring{0};
    uint8_t flags{0};
    uint64_t read_pos{0};
    uint64_t write_pos{0};
    uint64_t attach_seq{0};
    uint64_t event_mask{~uint64_t{0}};
    std::vector<RingReaderPatch> patches;
    std::span<const uint8_t> data;

    static RingReaderInput Decode(std::span<const uint8_t> bytes)
    {
        InputReader in{bytes};
        RingReaderInput r;
        r.ring = in.Le<uint8_t>();
        r.flags = in.Le<uint8_t>();
        const uint8_t patches = in.Le<uint8_t>();
        in.Bytes(5);
        r.read_pos = in.Le<uint64_t>();
        r.write_pos = in.Le<uint64_t>();
        r.attach_seq = in.Le<uint64_t>();
        r.event_mask = in.Le<uint64_t>();
        for (uint32_t i = 0; i < patches && i < RING_READER_MAX_PATCHES; ++i) {
            RingReaderPatch p;
            p.offset = in.Le<uint32_t>();
            in.Le<uint32_t>();
            p.value = in.Le<uint64_t>();
            r.patches.push_back(p);
        }
        r.data = in.Rest();
        return r;
    }

    std::vector<uint8_t> Encode() const
    {
        std::vector<uint8_t> out;
        PutLe(out, ring);
        PutLe(out, flags);
        PutLe(out, static_cast<uint8_t>(patches.size()));
        out.insert(out.end(), 5, 0);
        PutLe(out, read_pos);
        PutLe(out, write_pos);
        PutLe(out, attach_seq);
        PutLe(out, event_mask);
        for (const RingReaderPatch& p : patches) {
            PutLe(out, p.offset);
            PutLe(out, uint32_t{0});
            PutLe(out, p.value);
        }
        out.insert(out.end(), data.begin(), data.end());
        return out;
    }
};

// --- event_view -----------------------------------------------------------------------------
//
// One record written to a real ring and read back as an EventView:
//
//      0  u16  record type (EventType)
//      2  ..   payload

//! Ring capacity of the event_view target's producer: records up to capacity/8 bytes.
inline constexpr uint64_t EVENT_VIEW_CAPACITY = 64 * 1024;

// --- event_schema ---------------------------------------------------------------------------
//
// A binary schema loaded with EventSchema::Load_untrusted and one event formatted with it:
//
//      0  u32  schema size n
//      4  n    the schema (.bfbs)
//    4+n  u16  record type
//    6+n  u16  record flags
//    8+n  ..   payload

struct EventSchemaInput {
    std::span<const uint8_t> schema;
    uint16_t type{0};
    uint16_t flags{0};
    std::span<const uint8_t> payload;

    static EventSchemaInput Decode(std::span<const uint8_t> bytes)
    {
        InputReader in{bytes};
        EventSchemaInput e;
        e.schema = in.Bytes(in.Le<uint32_t>());
        e.type = in.Le<uint16_t>();
        e.flags = in.Le<uint16_t>();
        e.payload = in.Rest();
        return e;
    }

    std::vector<uint8_t> Encode() const
    {
        std::vector<uint8_t> out;
        PutLe(out, static_cast<uint32_t>(schema.size()));
        out.insert(out.end(), schema.begin(), schema.end());
        PutLe(out, type);
        PutLe(out, flags);
        out.insert(out.end(), payload.begin(), payload.end());
        return out;
    }
};

// --- p2p_messages ---------------------------------------------------------------------------
//
// A P2P message as the node's net:inbound_message tracepoint passes it: its type (command)
// and its payload.
//
//      0  u8   the command: P2P_COMMANDS[byte] when below P2P_COMMANDS.size(); otherwise
//              the bytes that follow up to the first NUL (or the end) are the command
//     ..  the payload (after the NUL, for a command spelled out)

//! The commands a p2p_messages input names by their index: every message type
//! tracering-extractor decodes (convert.cpp's Decoders()), then `sendtxrcncl`, which it
//! sends as Unknown. Append only: the corpus names commands by these indexes.
inline constexpr std::array<std::string_view, 37> P2P_COMMANDS{
    "version",      "verack",     "addr",         "addrv2",      "sendaddrv2",  "inv",
    "getdata",      "notfound",   "getblocks",    "getheaders",  "mempool",     "tx",
    "block",        "headers",    "sendheaders",  "getaddr",     "ping",        "pong",
    "merkleblock",  "filterload", "filteradd",    "filterclear", "getcfilters", "cfilter",
    "getcfheaders", "cfheaders",  "getcfcheckpt", "cfcheckpt",   "sendcmpct",   "cmpctblock",
    "getblocktxn",  "blocktxn",   "alert",        "reject",      "feefilter",   "wtxidrelay",
    "sendtxrcncl"};

//! Payloads larger than this are not fuzzed (the net ring of the target holds eight).
inline constexpr size_t P2P_MAX_PAYLOAD = 512 * 1024;

struct P2pMessageInput {
    std::string command;
    std::span<const uint8_t> payload;

    static P2pMessageInput Decode(std::span<const uint8_t> bytes)
    {
        P2pMessageInput in;
        if (bytes.empty()) return in;
        const uint8_t selector = bytes[0];
        std::span<const uint8_t> rest = bytes.subspan(1);
        if (selector < P2P_COMMANDS.size()) {
            in.command = P2P_COMMANDS[selector];
            in.payload = rest;
            return in;
        }
        size_t nul = 0;
        while (nul < rest.size() && rest[nul] != 0)
            ++nul;
        in.command.assign(reinterpret_cast<const char*>(rest.data()), nul);
        in.payload = rest.subspan(nul < rest.size() ? nul + 1 : nul);
        return in;
    }

    //! By index when the command is one of P2P_COMMANDS, spelled out otherwise.
    std::vector<uint8_t> Encode() const
    {
        std::vector<uint8_t> out;
        size_t index = 0;
        while (index < P2P_COMMANDS.size() && P2P_COMMANDS[index] != command)
            ++index;
        if (index < P2P_COMMANDS.size()) {
            out.push_back(static_cast<uint8_t>(index));
        } else {
            out.push_back(0xff);
            out.insert(out.end(), command.begin(), command.end());
            out.push_back(0);
        }
        out.insert(out.end(), payload.begin(), payload.end());
        return out;
    }
};

} // namespace tracering::fuzz

#endif // TRACERING_FUZZ_INPUTS_H
