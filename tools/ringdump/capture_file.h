// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RINGDUMP_CAPTURE_FILE_H
#define TRACERING_RINGDUMP_CAPTURE_FILE_H

//! @file
//! ringdump's native capture file: every record as it came out of the rings, with what is
//! needed to read it later without the producer, or with a ringdump of another version.
//!
//! All integers are little-endian; `str` is a u16 byte length then the bytes (no NUL).
//!
//!     file    := preamble header frame* end-frame
//!     preamble:  0  8  magic "TRCRCAP\n"
//!                8  4  format version (CAPTURE_FORMAT_VERSION)
//!               12  4  header size: bytes of the header that follows the preamble
//!               16  4  CRC-32 (IEEE, as zlib's crc32) of those bytes
//!     header  :  u32 producer ABI version
//!                u32 flags, 0
//!                u64 schema hash of the producer
//!                i64 clock offset, ns: record timestamp + offset = UNIX time in ns
//!                u64 producer pid
//!                u64 start of the capture, UNIX ns
//!                str segment name
//!                u16 ring count, then that many: str ring name (records give its index)
//!                u16 event count, then that many: u16 record type, str ring, str event
//!                    name, str table name (the event catalogue)
//!                u32 schema size, then the binary FlatBuffers schema (.bfbs) of the tables
//!     frame   :  0  4  body size
//!                4  4  CRC-32 of the body
//!                8  .. body, whose first byte is its kind:
//!     event   :  u8 kind = 1, u8 ring index, u16 record type, u16 record flags, u16 0,
//!                u64 seq, u64 timestamp_ns, u64 events lost right before this one,
//!                then the payload (the FlatBuffer) up to the end of the body
//!     end     :  u8 kind = 2, 7 bytes 0, u64 end of the capture (UNIX ns),
//!                u16 ring count, then per ring: u64 events delivered, u64 events lost
//!     clock   :  u8 kind = 3, 7 bytes 0, i64 clock offset, ns: replaces the header's for
//!                the events that follow (written when the system time was stepped)
//!
//! A reader checks every length against the file and every checksum; frames of an unknown
//! kind are skipped (the size says how far). A file without its end frame was cut short.

#include <tracering/result.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "event_format.h"
#include "event_schema.h"

namespace tracering::ringdump {

inline constexpr char CAPTURE_MAGIC[8] = {'T', 'R', 'C', 'R', 'C', 'A', 'P', '\n'};
inline constexpr uint32_t CAPTURE_FORMAT_VERSION = 1;
//! The native capture's name inside `capture --out DIR`.
inline constexpr const char* CAPTURE_FILE_NAME = "capture.trcap";

inline constexpr uint8_t FRAME_EVENT = 1;
inline constexpr uint8_t FRAME_END = 2;
inline constexpr uint8_t FRAME_CLOCK = 3;
inline constexpr uint32_t FRAME_HEADER_SIZE = 8;
inline constexpr uint32_t EVENT_FRAME_FIXED_SIZE = 32;
//! Largest frame body accepted: a record of the largest ring (capacity/8 of 4 GiB) and more.
inline constexpr uint64_t MAX_FRAME_SIZE = uint64_t{1} << 30;

//! An owned file descriptor, closed when it goes.
class Fd
{
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd{fd} {}
    Fd(Fd&& other) noexcept : m_fd{std::exchange(other.m_fd, -1)} {}
    Fd& operator=(Fd&& other) noexcept
    {
        if (this != &other) {
            Reset();
            m_fd = std::exchange(other.m_fd, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { Reset(); }
    int get() const { return m_fd; }
    //! Gives the descriptor up to the caller.
    int Release() { return std::exchange(m_fd, -1); }
    //! Closes it; the result of close(2) (0, or -1 with errno set).
    int Reset();

private:
    int m_fd{-1};
};

//! Opens the output directory `dir` (creating it and any missing parent with mode 0700 when
//! `create`, as a node running with umask 077 does: captures hold every message of every
//! peer) and checks that nobody else can change what is in it: it must be a directory, not
//! a symbolic link, owned by the effective user, and not writable by its group or by others
//! (mode & 022 == 0; a sticky bit does not help, as others could still plant files in it).
//! Files are then made under the returned descriptor (CreateFileAt, CreateDirectoryAt), so
//! a path changed after the check cannot redirect them. InvalidArgument names what is
//! unsafe and what to do; NotFound if `dir` does not exist and `create` is false.
Result<Fd> OpenOutputDirectory(const std::filesystem::path& dir, bool create);
//! Creates the file `name` under the directory `dir_fd`, new (O_CREAT|O_EXCL|O_NOFOLLOW: never
//! an existing file, never through a symbolic link), mode 0600, for writing. AlreadyExists
//! if anything is there. `shown` names it in messages.
Result<Fd> CreateFileAt(int dir_fd, const std::string& name, const std::filesystem::path& shown);
//! Creates the directory `name` under `dir_fd`, new, mode 0700, and opens it (O_NOFOLLOW).
//! AlreadyExists if anything is there.
Result<Fd> CreateDirectoryAt(int dir_fd, const std::string& name,
                             const std::filesystem::path& shown);

//! CRC-32 (IEEE 802.3, reflected, as zlib's crc32()); chain calls through `crc`.
uint32_t Crc32(std::span<const uint8_t> bytes, uint32_t crc = 0);

struct CaptureHeader {
    uint32_t abi_version{0};
    uint64_t schema_hash{0};
    int64_t clock_offset_ns{0};
    uint64_t producer_pid{0};
    uint64_t start_unix_ns{0};
    std::string segment_name;
    std::vector<std::string> rings;
    std::vector<EventDesc> events;
    std::vector<uint8_t> schema; //!< .bfbs
};

struct CaptureTotals {
    uint64_t delivered{0};
    uint64_t lost{0};
};

struct CaptureEnd {
    uint64_t end_unix_ns{0};
    std::vector<CaptureTotals> rings; //!< one per header ring
};

//! Writes a capture file. Not thread-safe.
class CaptureWriter
{
public:
    //! Creates `name` under the directory `dir_fd` (CreateFileAt: it must not exist yet) and
    //! writes the header; `path` names it in messages.
    static Result<std::unique_ptr<CaptureWriter>> Create(int dir_fd, const std::string& name,
                                                         const std::filesystem::path& path,
                                                         const CaptureHeader& header);
    //! The same for `path`, in the directory it names (not checked: see OpenOutputDirectory).
    static Result<std::unique_ptr<CaptureWriter>> Create(const std::filesystem::path& path,
                                                         const CaptureHeader& header);
    //! Closes the file; without Finish() it has no end frame and reads as cut short.
    ~CaptureWriter();
    CaptureWriter(const CaptureWriter&) = delete;
    CaptureWriter& operator=(const CaptureWriter&) = delete;

    Result<void> Write(uint8_t ring, const Record& record);
    //! Records a new clock offset for the events written after it.
    Result<void> WriteClock(int64_t clock_offset_ns);
    //! Writes the end frame and closes the file, reporting any write error. After a failed
    //! write nothing more is written (no end frame): the file reads as cut short.
    Result<void> Finish(const CaptureEnd& end);
    uint64_t bytes_written() const { return m_bytes; }

private:
    CaptureWriter() = default;
    Result<void> Put(const void* data, size_t size);
    //! Closes the file: the first write error if there was one, else fclose's result.
    Result<void> Close();

    std::FILE* m_file{nullptr};
    std::filesystem::path m_path;
    uint64_t m_bytes{0};
    std::optional<Error> m_failed; //!< the first write error; nothing is written after it
};

//! Reads a capture file, checking every length and checksum.
class CaptureReader
{
public:
    //! Opens `path` and reads its header. NotFound or PermissionDenied for the file itself,
    //! Corrupt for a file that is not a valid capture, VersionMismatch for a format version
    //! this reader does not know.
    static Result<std::unique_ptr<CaptureReader>> Open(const std::filesystem::path& path);
    ~CaptureReader();
    CaptureReader(const CaptureReader&) = delete;
    CaptureReader& operator=(const CaptureReader&) = delete;

    const CaptureHeader& header() const { return m_header; }
    //! Fills the next event (true), or returns false once the end frame was read. The
    //! record's payload stays valid until the next call. Corrupt if the file is damaged
    //! or ends early.
    Result<bool> Next(uint8_t& ring, Record& record);
    //! The end frame's totals, once Next() returned false.
    const CaptureEnd& end() const { return m_end; }
    //! The clock offset for the event Next() returned last: the header's, or that of the
    //! last clock frame before it.
    int64_t clock_offset_ns() const { return m_clock_offset_ns; }

private:
    CaptureReader() = default;
    Error Corrupt(const std::string& what) const;

    std::FILE* m_file{nullptr};
    std::filesystem::path m_path;
    uint64_t m_size{0};
    uint64_t m_pos{0};
    CaptureHeader m_header;
    CaptureEnd m_end;
    bool m_ended{false};
    int64_t m_clock_offset_ns{0};
    std::vector<uint8_t> m_body; //!< the current frame; vector storage keeps it aligned
};

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_CAPTURE_FILE_H
