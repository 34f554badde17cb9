// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "capture_file.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <unistd.h>
#include <zlib.h>

#include <sys/stat.h>
#include <sys/uio.h>

namespace tracering::ringdump {
namespace {

constexpr uint32_t PREAMBLE_SIZE = 20;
//! A header is names and a schema of a few KiB; anything near this is a damaged file.
constexpr uint32_t MAX_HEADER_SIZE = 64u << 20;
//! Frames are gathered up to about this many bytes before they are written.
constexpr size_t WRITE_BUFFER = 1 << 20;
//! Payloads from this size up are written from the ring itself rather than copied into the
//! buffer first.
constexpr size_t DIRECT_PAYLOAD = 64 << 10;

//! `bytes` little-endian bytes of `v` at `out`.
void PutLe(uint8_t* out, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; ++i) {
        out[i] = uint8_t(v >> (8 * i));
    }
}


//! Little-endian encoding into a byte string.
class Encoder
{
public:
    void U8(uint8_t v) { m_out.push_back(v); }
    void U16(uint16_t v) { Int(v, 2); }
    void U32(uint32_t v) { Int(v, 4); }
    void U64(uint64_t v) { Int(v, 8); }
    void Bytes(std::span<const uint8_t> b) { m_out.insert(m_out.end(), b.begin(), b.end()); }
    Result<void> Str(std::string_view s)
    {
        if (s.size() > std::numeric_limits<uint16_t>::max()) {
            return Error{ErrorCode::InvalidArgument,
                         "name too long for a capture file: " + std::string{s.substr(0, 64)}};
        }
        U16(uint16_t(s.size()));
        m_out.insert(m_out.end(), s.begin(), s.end());
        return {};
    }
    std::vector<uint8_t>& bytes() { return m_out; }

private:
    void Int(uint64_t v, int n)
    {
        for (int i = 0; i < n; ++i) {
            m_out.push_back(uint8_t(v >> (8 * i)));
        }
    }
    std::vector<uint8_t> m_out;
};

//! Little-endian decoding with bounds checks: a short read leaves ok() false.
class Decoder
{
public:
    explicit Decoder(std::span<const uint8_t> in) : m_in{in} {}
    bool ok() const { return m_ok; }
    size_t left() const { return m_in.size() - m_pos; }
    uint8_t U8() { return uint8_t(Int(1)); }
    uint16_t U16() { return uint16_t(Int(2)); }
    uint32_t U32() { return uint32_t(Int(4)); }
    uint64_t U64() { return Int(8); }
    std::span<const uint8_t> Bytes(size_t n)
    {
        if (!m_ok || n > left()) {
            m_ok = false;
            return {};
        }
        const auto out = m_in.subspan(m_pos, n);
        m_pos += n;
        return out;
    }
    std::string Str()
    {
        const auto b = Bytes(U16());
        return {b.begin(), b.end()};
    }

private:
    uint64_t Int(size_t n)
    {
        const auto b = Bytes(n);
        uint64_t v = 0;
        for (size_t i = 0; i < b.size(); ++i) {
            v |= uint64_t{b[i]} << (8 * i);
        }
        return v;
    }
    std::span<const uint8_t> m_in;
    size_t m_pos{0};
    bool m_ok{true};
};

uint32_t GetLe32(const uint8_t* at)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
        v |= uint32_t{at[i]} << (8 * i);
    }
    return v;
}

Error IoError(const std::string& what, const std::filesystem::path& path, int err)
{
    return Error{ErrorCode::SystemError, what + " " + path.string() + ": " + std::strerror(err)};
}

} // namespace

int Fd::Reset()
{
    if (m_fd < 0) return 0;
    return ::close(std::exchange(m_fd, -1));
}

Result<Fd> OpenOutputDirectory(const std::filesystem::path& dir, bool create)
{
    if (create) {
        std::filesystem::path at;
        for (const auto& part : dir) {
            at /= part;
            if (::mkdir(at.c_str(), 0700) == 0 || errno == EEXIST) continue;
            return IoError("cannot create", at, errno);
        }
    }
    // O_NOFOLLOW: the directory itself, never where a link planted in its place points.
    Fd fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (fd.get() < 0) {
        const int err = errno;
        struct stat st;
        if (err == ENOENT) {
            return Error{ErrorCode::NotFound, dir.string() + " does not exist"};
        }
        if (::lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
            return Error{ErrorCode::InvalidArgument,
                         dir.string() + " is a symbolic link; give the directory itself"};
        }
        if (err == ENOTDIR) {
            return Error{ErrorCode::InvalidArgument, dir.string() + " is not a directory"};
        }
        return IoError("cannot open", dir, err);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return IoError("cannot open", dir, errno);
    if (st.st_uid != ::geteuid()) {
        return Error{ErrorCode::InvalidArgument,
                     dir.string() + " belongs to uid " + std::to_string(st.st_uid) +
                         ", not to you (uid " + std::to_string(::geteuid()) +
                         "), who could change it under the capture; give a directory of your own"};
    }
    if ((st.st_mode & 022) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof(mode), "%04o", unsigned(st.st_mode & 07777));
        return Error{ErrorCode::InvalidArgument,
                     dir.string() + " can be written by " +
                         ((st.st_mode & 002) ? "every user" : "its group") + " (mode " + mode +
                         "), who could plant files or links in it for the capture to write "
                         "into; give a directory only you can write (chmod go-w, or mode 0700)"};
    }
    return fd;
}

Result<Fd> CreateFileAt(int dir_fd, const std::string& name, const std::filesystem::path& shown)
{
    // O_EXCL|O_NOFOLLOW: a new file, never one already there nor a link's target.
    Fd fd{
        ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (fd.get() < 0) {
        const int err = errno;
        if (err == EEXIST) {
            return Error{ErrorCode::AlreadyExists,
                         shown.string() + " already exists, and ringdump writes only files it "
                                          "creates; choose another --out directory or move the "
                                          "earlier capture away"};
        }
        return IoError("cannot create", shown, err);
    }
    return fd;
}

Result<Fd> CreateDirectoryAt(int dir_fd, const std::string& name,
                             const std::filesystem::path& shown)
{
    if (::mkdirat(dir_fd, name.c_str(), 0700) != 0) {
        const int err = errno;
        if (err == EEXIST) {
            return Error{ErrorCode::AlreadyExists,
                         shown.string() + " already exists, and ringdump writes only into "
                                          "folders it creates; give a new or empty --out "
                                          "directory"};
        }
        return IoError("cannot create", shown, err);
    }
    Fd fd{::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
    if (fd.get() < 0) return IoError("cannot open", shown, errno);
    return fd;
}

namespace {

//! Slicing-by-8 tables of the reflected IEEE polynomial: kCrcTables[0] is the byte-wise
//! table, kCrcTables[k][b] the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeCrcTables()
{
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
        for (size_t k = 1; k < 8; ++k) {
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
        }
    }
    return t;
}
constexpr auto kCrcTables = MakeCrcTables();
//! Below this many bytes Crc32 uses SmallCrc32: zlib's crc32() costs a few hundred ns per
//! call on a frame of a ping (~150 bytes), several times the slicing loop, while on long
//! buffers zlib's own loop is the faster one.
constexpr size_t SMALL_CRC = 4096;

uint32_t SmallCrc32(const uint8_t* p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) {
            v |= uint64_t{p[i]} << (8 * i); // little-endian, whatever the host
        }
        v ^= crc;
        crc = kCrcTables[7][v & 0xff] ^ kCrcTables[6][(v >> 8) & 0xff] ^
              kCrcTables[5][(v >> 16) & 0xff] ^ kCrcTables[4][(v >> 24) & 0xff] ^
              kCrcTables[3][(v >> 32) & 0xff] ^ kCrcTables[2][(v >> 40) & 0xff] ^
              kCrcTables[1][(v >> 48) & 0xff] ^ kCrcTables[0][v >> 56];
    }
    for (; n > 0; ++p, --n) {
        crc = (crc >> 8) ^ kCrcTables[0][(crc ^ *p) & 0xff];
    }
    return ~crc;
}

} // namespace

uint32_t Crc32(std::span<const uint8_t> bytes, uint32_t crc)
{
    if (bytes.size() < SMALL_CRC) return SmallCrc32(bytes.data(), bytes.size(), crc);
    // zlib's crc32() takes at most UINT_MAX bytes per call.
    while (!bytes.empty()) {
        const size_t n = std::min<size_t>(bytes.size(), std::numeric_limits<unsigned>::max());
        crc = uint32_t(::crc32(crc, bytes.data(), unsigned(n)));
        bytes = bytes.subspan(n);
    }
    return crc;
}

// --- Writer ---------------------------------------------------------------------------------

Result<std::unique_ptr<CaptureWriter>> CaptureWriter::Create(const std::filesystem::path& path,
                                                             const CaptureHeader& header)
{
    const std::filesystem::path parent = path.has_parent_path() ? path.parent_path() : ".";
    Fd dir{::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir.get() < 0) return IoError("cannot open", parent, errno);
    return Create(dir.get(), path.filename().string(), path, header);
}

Result<std::unique_ptr<CaptureWriter>> CaptureWriter::Create(int dir_fd, const std::string& name,
                                                             const std::filesystem::path& path,
                                                             const CaptureHeader& header)
{
    Encoder h;
    h.U32(header.abi_version);
    h.U32(0);
    h.U64(header.schema_hash);
    h.U64(uint64_t(header.clock_offset_ns));
    h.U64(header.producer_pid);
    h.U64(header.start_unix_ns);
    if (auto ok = h.Str(header.segment_name); !ok) return ok.error();
    if (header.rings.size() > 255) {
        return Error{ErrorCode::InvalidArgument, "a capture holds at most 255 rings"};
    }
    std::unique_ptr<CaptureWriter> writer{new CaptureWriter};
    h.U16(uint16_t(header.rings.size()));
    for (size_t i = 0; i < header.rings.size(); ++i) {
        if (auto ok = h.Str(header.rings[i]); !ok) return ok.error();
        const uint64_t first = i < header.first_seq.size() ? header.first_seq[i] : UNKNOWN_SEQ;
        h.U64(first);
        writer->m_totals.push_back({.next_seq = first});
    }
    h.U16(uint16_t(header.events.size()));
    for (const EventDesc& e : header.events) {
        h.U16(e.type);
        for (const std::string* s : {&e.ring, &e.name, &e.table}) {
            if (auto ok = h.Str(*s); !ok) return ok.error();
        }
    }
    h.U32(uint32_t(header.schema.size()));
    h.Bytes(header.schema);

    writer->m_path = path;
    // Exclusive: never overwrite an earlier capture, never write through a link.
    auto fd = CreateFileAt(dir_fd, name, path);
    if (!fd) return fd.error();
    writer->m_fd = std::move(fd.value());
    Encoder preamble;
    preamble.Bytes({reinterpret_cast<const uint8_t*>(CAPTURE_MAGIC), sizeof(CAPTURE_MAGIC)});
    preamble.U32(CAPTURE_FORMAT_VERSION);
    preamble.U32(uint32_t(h.bytes().size()));
    preamble.U32(Crc32(h.bytes()));
    writer->m_buffer = std::move(preamble.bytes());
    writer->m_buffer.insert(writer->m_buffer.end(), h.bytes().begin(), h.bytes().end());
    // On disk at once: a capture killed before its first event still reads (as cut short).
    if (auto ok = writer->Flush(); !ok) return ok.error();
    writer->m_buffer.reserve(WRITE_BUFFER + DIRECT_PAYLOAD);
    return writer;
}

CaptureWriter::~CaptureWriter() { (void)Close(); }

Result<void> CaptureWriter::Close()
{
    if (m_fd.get() < 0) return m_failed ? Result<void>{*m_failed} : Result<void>{};
    // Whole frames gathered since the last flush (none after Finish()) go to the file first.
    if (!m_failed) (void)Flush();
    if (m_failed) {
        m_fd.Reset();
        return *m_failed;
    }
    if (m_fd.Reset() != 0) return IoError("cannot write", m_path, errno);
    return {};
}

int WriteWhole(int fd, std::span<const uint8_t> head, std::span<const uint8_t> tail)
{
    const iovec parts[2] = {{const_cast<uint8_t*>(head.data()), head.size()},
                            {const_cast<uint8_t*>(tail.data()), tail.size()}};
    const uint64_t total = uint64_t{head.size()} + tail.size();
    uint64_t done = 0;
    while (done < total) {
        iovec left[2];
        int count = 0;
        uint64_t skip = done;
        for (const iovec& p : parts) {
            if (skip >= p.iov_len) {
                skip -= p.iov_len;
                continue;
            }
            left[count++] = {static_cast<uint8_t*>(p.iov_base) + skip, p.iov_len - skip};
            skip = 0;
        }
        const ssize_t n = ::writev(fd, left, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : ENOSPC;
        done += uint64_t(n);
    }
    return 0;
}

Result<void> CaptureWriter::Flush() { return WriteOut({}); }

Result<void> CaptureWriter::WriteOut(std::span<const uint8_t> payload)
{
    if (m_failed) return *m_failed;
    if (m_fd.get() < 0) return Error{ErrorCode::InvalidArgument, "the capture file is closed"};
    const uint64_t total = uint64_t{m_buffer.size()} + payload.size();
    if (const int err = WriteWhole(m_fd.get(), m_buffer, payload); err != 0) {
        // Out of space, or an I/O error: stop here, and cut the file back to its last
        // whole frame, so it reads as cut short rather than damaged.
        m_failed = IoError("cannot write", m_path, err);
        (void)!::ftruncate(m_fd.get(), off_t(m_bytes));
        m_buffer.clear();
        m_events_buffered = 0;
        return *m_failed;
    }
    m_bytes += total;
    m_buffer.clear();
    m_events += m_events_buffered;
    m_events_buffered = 0;
    return {};
}

Result<void> CaptureWriter::Frame(std::span<const uint8_t> body, std::span<const uint8_t> payload,
                                  bool event)
{
    if (m_failed) return *m_failed;
    const uint64_t size = uint64_t{body.size()} + payload.size();
    if (size > MAX_FRAME_SIZE) {
        return Error{ErrorCode::InvalidArgument, "a record of " + std::to_string(payload.size()) +
                                                     " bytes is over the capture's frame limit"};
    }
    const size_t at = m_buffer.size();
    m_buffer.resize(at + FRAME_HEADER_SIZE);
    PutLe(&m_buffer[at], size, 4);
    m_buffer.insert(m_buffer.end(), body.begin(), body.end());
    ++m_frames;
    if (event) ++m_events_buffered;
    if (payload.size() >= DIRECT_PAYLOAD) {
        // A large payload (a block) goes to the file from where it is, after the frames
        // gathered before it, in one writev: no copy through the buffer.
        PutLe(&m_buffer[at + 4], Crc32(payload, Crc32(body)), 4);
        return WriteOut(payload);
    }
    m_buffer.insert(m_buffer.end(), payload.begin(), payload.end());
    // One checksum over the body as it now lies in the buffer, payload included.
    const size_t body_at = at + FRAME_HEADER_SIZE;
    PutLe(&m_buffer[at + 4], Crc32({m_buffer.data() + body_at, m_buffer.size() - body_at}), 4);
    if (m_buffer.size() >= WRITE_BUFFER) return Flush();
    return {};
}

Result<void> CaptureWriter::Write(uint8_t ring, const Record& record)
{
    if (ring >= m_totals.size()) {
        return Error{ErrorCode::InvalidArgument,
                     "ring index " + std::to_string(ring) + " is not in the capture's header"};
    }
    // The fixed part of the event frame, encoded in place (no allocation per event).
    uint8_t fixed[EVENT_FRAME_FIXED_SIZE];
    fixed[0] = FRAME_EVENT;
    fixed[1] = ring;
    PutLe(fixed + 2, record.type, 2);
    PutLe(fixed + 4, record.flags, 2);
    PutLe(fixed + 6, 0, 2);
    PutLe(fixed + 8, record.seq, 8);
    PutLe(fixed + 16, record.timestamp_ns, 8);
    PutLe(fixed + 24, record.lost_before, 8);
    PutLe(fixed + 32, record.skipped_before, 8);
    if (auto ok = Frame(fixed, record.payload, /*event=*/true); !ok) return ok;
    CaptureTotals& t = m_totals[ring];
    ++t.delivered;
    t.lost += record.lost_before;
    t.next_seq = record.seq + 1;
    return {};
}

Result<void> CaptureWriter::WriteGap(uint8_t ring, uint64_t lost, uint64_t skipped,
                                     uint64_t next_seq)
{
    if (ring >= m_totals.size()) {
        return Error{ErrorCode::InvalidArgument,
                     "ring index " + std::to_string(ring) + " is not in the capture's header"};
    }
    Encoder e;
    e.U8(FRAME_GAP);
    e.U8(ring);
    for (int i = 0; i < 6; ++i) {
        e.U8(0);
    }
    e.U64(lost);
    e.U64(skipped);
    e.U64(next_seq);
    if (auto ok = Frame(e.bytes()); !ok) return ok;
    m_totals[ring].lost += lost;
    m_totals[ring].next_seq = next_seq;
    return {};
}

Result<void> CaptureWriter::WriteClock(int64_t clock_offset_ns)
{
    Encoder e;
    e.U8(FRAME_CLOCK);
    for (int i = 0; i < 7; ++i) {
        e.U8(0);
    }
    e.U64(uint64_t(clock_offset_ns));
    return Frame(e.bytes());
}

Result<void> CaptureWriter::Finish(uint64_t end_unix_ns)
{
    Encoder e;
    e.U8(FRAME_END);
    for (int i = 0; i < 7; ++i) {
        e.U8(0);
    }
    e.U64(end_unix_ns);
    e.U64(m_frames);
    e.U16(uint16_t(m_totals.size()));
    for (const CaptureTotals& t : m_totals) {
        e.U64(t.delivered);
        e.U64(t.lost);
        e.U64(t.next_seq);
    }
    auto ok = Frame(e.bytes());
    if (ok) ok = Flush();
    if (!ok) {
        (void)Close();
        return ok;
    }
    return Close();
}

// --- Reader ---------------------------------------------------------------------------------

Error CaptureReader::Corrupt(const std::string& what) const
{
    return Error{ErrorCode::Corrupt, m_path.string() + ": " + what};
}

Result<std::unique_ptr<CaptureReader>> CaptureReader::Open(const std::filesystem::path& path)
{
    std::unique_ptr<CaptureReader> reader{new CaptureReader};
    reader->m_path = path;
    reader->m_file = std::fopen(path.c_str(), "rb");
    if (!reader->m_file) {
        const int err = errno;
        const ErrorCode code = err == ENOENT   ? ErrorCode::NotFound
                               : err == EACCES ? ErrorCode::PermissionDenied
                                               : ErrorCode::SystemError;
        return Error{code, "cannot open " + path.string() + ": " + std::strerror(err)};
    }
    std::error_code ec;
    reader->m_size = std::filesystem::file_size(path, ec);
    if (ec) {
        return Error{ErrorCode::SystemError, "cannot read " + path.string() + ": " + ec.message()};
    }

    uint8_t preamble[PREAMBLE_SIZE];
    const size_t got = std::fread(preamble, 1, sizeof(preamble), reader->m_file);
    if (got < sizeof(CAPTURE_MAGIC) ||
        std::memcmp(preamble, CAPTURE_MAGIC, sizeof(CAPTURE_MAGIC))) {
        return reader->Corrupt("not a ringdump capture file (it does not start with the "
                               "capture magic); native captures are written by "
                               "'ringdump capture --format native'");
    }
    if (got < sizeof(preamble)) return reader->Corrupt("truncated inside its first 20 bytes");
    const uint32_t version = GetLe32(preamble + 8);
    if (version != CAPTURE_FORMAT_VERSION) {
        // Version 1 files cannot prove themselves complete: no first seqs, skipped counts or
        // frame count. Reading them as if they were would print a check it cannot make.
        return Error{ErrorCode::VersionMismatch,
                     path.string() + ": capture format version " + std::to_string(version) +
                         ", this ringdump reads version " + std::to_string(CAPTURE_FORMAT_VERSION) +
                         "; read it with the ringdump that wrote it"};
    }
    const uint32_t header_size = GetLe32(preamble + 12);
    if (header_size > MAX_HEADER_SIZE || PREAMBLE_SIZE + uint64_t{header_size} > reader->m_size) {
        return reader->Corrupt("truncated: its header claims " + std::to_string(header_size) +
                               " bytes but the file has " +
                               std::to_string(reader->m_size - PREAMBLE_SIZE) +
                               " after the preamble");
    }
    std::vector<uint8_t> bytes(header_size);
    if (std::fread(bytes.data(), 1, bytes.size(), reader->m_file) != bytes.size()) {
        return reader->Corrupt("cannot read its header");
    }
    if (Crc32(bytes) != GetLe32(preamble + 16)) {
        return reader->Corrupt("its header fails its checksum (the file is damaged)");
    }
    reader->m_pos = PREAMBLE_SIZE + uint64_t{header_size};

    CaptureHeader& h = reader->m_header;
    Decoder d{bytes};
    h.abi_version = d.U32();
    d.U32(); // flags
    h.schema_hash = d.U64();
    h.clock_offset_ns = int64_t(d.U64());
    h.producer_pid = d.U64();
    h.start_unix_ns = d.U64();
    h.segment_name = d.Str();
    const uint16_t rings = d.U16();
    for (uint16_t i = 0; i < rings && d.ok(); ++i) {
        h.rings.push_back(d.Str());
        h.first_seq.push_back(d.U64());
    }
    const uint16_t events = d.U16();
    for (uint16_t i = 0; i < events && d.ok(); ++i) {
        EventDesc e;
        e.type = d.U16();
        e.ring = d.Str();
        e.name = d.Str();
        e.table = d.Str();
        h.events.push_back(std::move(e));
    }
    const auto schema = d.Bytes(d.U32());
    h.schema.assign(schema.begin(), schema.end());
    if (!d.ok()) return reader->Corrupt("its header is shorter than its contents claim");
    if (h.rings.size() > 255) return reader->Corrupt("its header lists more than 255 rings");
    reader->m_clock_offset_ns = h.clock_offset_ns;
    for (const uint64_t first : h.first_seq) {
        reader->m_counted.push_back({.next_seq = first});
    }
    reader->m_last_frame.assign(h.rings.size(), 0);
    return reader;
}

CaptureReader::~CaptureReader()
{
    if (m_file) std::fclose(m_file);
}

namespace {

std::string Events(uint64_t n) { return std::to_string(n) + (n == 1 ? " event" : " events"); }

} // namespace

Result<void> CaptureReader::Follow(uint8_t ring, uint64_t seq, uint64_t lost, uint64_t skipped,
                                   uint64_t frame_pos, uint8_t kind)
{
    CaptureTotals& counted = m_counted[ring];
    uint64_t& last_frame = m_last_frame[ring];
    // An event frame has its own seq; a gap frame the one after the events it stands for.
    const bool event = kind == FRAME_EVENT;
    const std::string at = "ring '" + m_header.rings[ring] + "': the " +
                           (event ? "event frame at byte " : "gap frame at byte ") +
                           std::to_string(frame_pos) + (event ? " has seq " : " ends before seq ") +
                           std::to_string(seq);
    if (counted.next_seq != UNKNOWN_SEQ) {
        const uint64_t next = counted.next_seq;
        // Where the ring was: its previous frame, or where its reader started.
        const std::string after = last_frame != 0
                                      ? "seq " + std::to_string(next - 1) +
                                            " in the frame at byte " + std::to_string(last_frame)
                                      : "the ring's start at seq " + std::to_string(next);
        if (seq < next) {
            return Corrupt(at + ", which is not after " + after +
                           ": a frame was replayed, duplicated or moved (the file was altered)");
        }
        uint64_t want = 0;
        const bool overflow = __builtin_add_overflow(next, lost, &want) ||
                              __builtin_add_overflow(want, skipped, &want);
        if (overflow || seq < want) {
            return Corrupt(at + ", but it records " + Events(lost) + " lost and " +
                           std::to_string(skipped) + " skipped since " + after +
                           ": its counts do not add up (the file was altered)");
        }
        if (seq > want) {
            return Corrupt(at + ", but since " + after + " it records " + Events(lost) +
                           " lost and " + std::to_string(skipped) +
                           " skipped: " + Events(seq - want) +
                           " missing from the capture (frames were cut out; the file was "
                           "altered)");
        }
    }
    counted.lost += lost;
    last_frame = frame_pos;
    return {};
}

Result<void> CaptureReader::CheckEnd(uint64_t frame_pos) const
{
    const std::string at = "the end record at byte " + std::to_string(frame_pos);
    for (size_t i = 0; i < m_counted.size(); ++i) {
        const CaptureTotals& said = m_end.rings[i];
        const CaptureTotals& found = m_counted[i];
        const std::string ring = "ring '" + m_header.rings[i] + "': " + at;
        const std::string last = m_last_frame[i] != 0
                                     ? " (its last frame is at byte " +
                                           std::to_string(m_last_frame[i]) + ", before seq " +
                                           std::to_string(found.next_seq) + ")"
                                     : " (no frame of the ring)";
        if (said.delivered != found.delivered) {
            return Corrupt(ring + " counts " + Events(said.delivered) +
                           " delivered, the file holds " + std::to_string(found.delivered) + last +
                           ": frames were cut out or added (the file was altered)");
        }
        if (said.lost != found.lost) {
            return Corrupt(ring + " counts " + Events(said.lost) + " lost, the frames record " +
                           std::to_string(found.lost) + last + " (the file was altered)");
        }
        if (said.next_seq != found.next_seq) {
            return Corrupt(ring + " says the ring's next seq was " + std::to_string(said.next_seq) +
                           ", the frames end before seq " + std::to_string(found.next_seq) + last +
                           ": frames were cut out or added (the file was altered)");
        }
    }
    // Frames that carry no seq (clock frames, kinds of later versions) are counted too.
    if (m_end.frames != m_frames) {
        return Corrupt(at + " counts " + std::to_string(m_end.frames) +
                       " frames before it, the file has " + std::to_string(m_frames) +
                       ": frames were cut out or added (the file was altered)");
    }
    return {};
}

Result<CaptureItem> CaptureReader::Next(uint8_t& ring, Record& record)
{
    for (;;) {
        const uint64_t frame_pos = m_pos;
        uint8_t frame[FRAME_HEADER_SIZE];
        const size_t got = std::fread(frame, 1, sizeof(frame), m_file);
        if (got == 0 && std::feof(m_file)) {
            if (!m_ended && m_cut_short.empty()) {
                // The writer writes whole frames only: the end of a frame and of the file is
                // where a killed ringdump (or a full disk) stopped it.
                m_cut_short = m_path.string() + ": the capture was cut short at byte " +
                              std::to_string(frame_pos) +
                              ": it has no end record (ringdump was killed, or the disk filled "
                              "up), so what came after its " +
                              Events(m_events) + " is missing; those are intact";
            }
            return CaptureItem::End;
        }
        if (m_ended) {
            return Corrupt(std::to_string(m_size - frame_pos) +
                           " unexpected bytes after the end record at byte " +
                           std::to_string(frame_pos));
        }
        if (got < sizeof(frame)) {
            return Corrupt("truncated: " + std::to_string(got) +
                           " bytes of a frame header at byte " + std::to_string(frame_pos) +
                           " (ringdump writes whole frames: the file was cut or damaged)");
        }
        const uint32_t size = GetLe32(frame);
        const uint64_t left =
            m_size > frame_pos + FRAME_HEADER_SIZE ? m_size - frame_pos - FRAME_HEADER_SIZE : 0;
        if (size > left || size > MAX_FRAME_SIZE) {
            return Corrupt("truncated: the frame at byte " + std::to_string(frame_pos) +
                           " claims " + std::to_string(size) + " bytes, " + std::to_string(left) +
                           " are left (ringdump writes whole frames: the file was cut or "
                           "damaged)");
        }
        if (size == 0) return Corrupt("empty frame at byte " + std::to_string(frame_pos));
        m_body.resize(size);
        if (std::fread(m_body.data(), 1, size, m_file) != size) {
            return Corrupt("cannot read the frame at byte " + std::to_string(frame_pos));
        }
        m_pos = frame_pos + FRAME_HEADER_SIZE + size;
        if (Crc32(m_body) != GetLe32(frame + 4)) {
            return Corrupt("the frame at byte " + std::to_string(frame_pos) +
                           " fails its checksum (the file is damaged)");
        }
        Decoder d{m_body};
        const uint8_t kind = d.U8();
        if (kind == FRAME_END) {
            d.Bytes(7);
            m_end.end_unix_ns = d.U64();
            m_end.frames = d.U64();
            const uint16_t rings = d.U16();
            m_end.rings.clear();
            for (uint16_t i = 0; i < rings && d.ok(); ++i) {
                CaptureTotals t;
                t.delivered = d.U64();
                t.lost = d.U64();
                t.next_seq = d.U64();
                m_end.rings.push_back(t);
            }
            if (!d.ok() || rings != m_header.rings.size()) {
                return Corrupt("the end record at byte " + std::to_string(frame_pos) +
                               " is malformed");
            }
            if (auto ok = CheckEnd(frame_pos); !ok) return ok.error();
            m_ended = true;
            continue; // nothing may follow; the next read checks that
        }
        ++m_frames;
        if (kind == FRAME_EVENT) {
            if (size < EVENT_FRAME_FIXED_SIZE) {
                return Corrupt("the event frame at byte " + std::to_string(frame_pos) +
                               " is too short (" + std::to_string(size) + " bytes)");
            }
            ring = d.U8();
            record.type = d.U16();
            record.flags = d.U16();
            d.U16();
            record.seq = d.U64();
            record.timestamp_ns = d.U64();
            record.lost_before = d.U64();
            record.skipped_before = d.U64();
            record.payload = d.Bytes(d.left());
            if (ring >= m_header.rings.size()) {
                return Corrupt("the event frame at byte " + std::to_string(frame_pos) +
                               " names ring " + std::to_string(ring) + " of " +
                               std::to_string(m_header.rings.size()));
            }
            if (auto ok = Follow(ring, record.seq, record.lost_before, record.skipped_before,
                                 frame_pos, FRAME_EVENT);
                !ok) {
                return ok.error();
            }
            ++m_counted[ring].delivered;
            m_counted[ring].next_seq = record.seq + 1;
            ++m_events;
            return CaptureItem::Event;
        }
        if (kind == FRAME_GAP) {
            ring = d.U8();
            d.Bytes(6);
            const uint64_t lost = d.U64();
            const uint64_t skipped = d.U64();
            const uint64_t next_seq = d.U64();
            if (!d.ok() || d.left() != 0 || ring >= m_header.rings.size()) {
                return Corrupt("the gap record at byte " + std::to_string(frame_pos) +
                               " is malformed");
            }
            if (auto ok = Follow(ring, next_seq, lost, skipped, frame_pos, FRAME_GAP); !ok) {
                return ok.error();
            }
            m_counted[ring].next_seq = next_seq;
            record = Record{.seq = next_seq, .lost_before = lost, .skipped_before = skipped};
            return CaptureItem::Gap;
        }
        if (kind == FRAME_CLOCK) {
            d.Bytes(7);
            const int64_t offset = int64_t(d.U64());
            if (!d.ok() || d.left() != 0) {
                return Corrupt("the clock record at byte " + std::to_string(frame_pos) +
                               " is malformed");
            }
            m_clock_offset_ns = offset;
            continue;
        }
        // A kind added by a later writer: its size says how far to skip.
    }
}

} // namespace tracering::ringdump
