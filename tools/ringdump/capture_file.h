// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RINGDUMP_CAPTURE_FILE_H
#define TRACERING_RINGDUMP_CAPTURE_FILE_H

//! @file
//! ringdump's native capture file: every record as it came out of the rings, with what is
//! needed to read it later without the producer, or with a ringdump of another version, and
//! to prove that no frame was cut out, added or replayed.
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
//!                u16 ring count, then that many: str ring name (records give its index),
//!                    u64 first seq: the seq its reader started at (UNKNOWN_SEQ: not known,
//!                    the ring's first frame sets it)
//!                u16 event count, then that many: u16 record type, str ring, str event
//!                    name, str table name (the event catalogue)
//!                u32 schema size, then the binary FlatBuffers schema (.bfbs) of the tables
//!     frame   :  0  4  body size
//!                4  4  CRC-32 of the body
//!                8  .. body, whose first byte is its kind:
//!     event   :  u8 kind = 1, u8 ring index, u16 record type, u16 record flags, u16 0,
//!                u64 seq, u64 timestamp_ns, u64 events lost right before this one,
//!                u64 events skipped right before this one (other readers' events of the
//!                ring), then the payload (the FlatBuffer) up to the end of the body
//!     end     :  u8 kind = 2, 7 bytes 0, u64 end of the capture (UNIX ns), u64 frames
//!                before this one, u16 ring count, then per ring: u64 events delivered,
//!                u64 events lost, u64 next seq (one past the last event it accounts for)
//!     clock   :  u8 kind = 3, 7 bytes 0, i64 clock offset, ns: replaces the header's for
//!                the events that follow (written when the system time was stepped)
//!     gap     :  u8 kind = 4, u8 ring index, 6 bytes 0, u64 events lost, u64 events
//!                skipped, u64 next seq: the ring's events after its last event frame that
//!                are not in the file (the events lost after the last one read)
//!
//! Completeness: per ring, the first frame's seq is the header's first seq plus the events
//! it records as lost and skipped before it, and each later frame's seq is one past the
//! previous event's (a gap frame's next seq: its own) plus those; the end frame's totals
//! match the frames. A frame cut out, added, duplicated or replayed breaks one of these.
//! The writer writes whole frames only, so a capture cut short (ringdump killed, a full
//! disk) ends at a frame boundary without its end frame.
//!
//! A reader checks every length against the file and every checksum; frames of an unknown
//! kind are skipped (the size says how far).

#include <tracering/result.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "decode/event_format.h"
#include "decode/event_schema.h"

namespace tracering::ringdump {

inline constexpr char CAPTURE_MAGIC[8] = {'T', 'R', 'C', 'R', 'C', 'A', 'P', '\n'};
//! 2: first seq per ring, skipped counts, gap frames and the end frame's frame count and
//! next seqs, so a reader can prove the capture complete. Version 1 files are refused.
inline constexpr uint32_t CAPTURE_FORMAT_VERSION = 2;
//! The native capture's name inside `capture --out DIR`.
inline constexpr const char* CAPTURE_FILE_NAME = "capture.trcap";

inline constexpr uint8_t FRAME_EVENT = 1;
inline constexpr uint8_t FRAME_END = 2;
inline constexpr uint8_t FRAME_CLOCK = 3;
inline constexpr uint8_t FRAME_GAP = 4;
inline constexpr uint32_t FRAME_HEADER_SIZE = 8;
inline constexpr uint32_t EVENT_FRAME_FIXED_SIZE = 40;
//! Largest frame body accepted: a record of the largest ring (capacity/8 of 4 GiB) and more.
inline constexpr uint64_t MAX_FRAME_SIZE = uint64_t{1} << 30;
//! A seq that is not known (a ring's first seq when its reader did not know where it began).
inline constexpr uint64_t UNKNOWN_SEQ = ~uint64_t{0};

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

//! Writes `head` then `tail` to `fd` whole: one writev where the kernel takes it all, retried
//! from where it stopped (and after EINTR). Returns 0, or the errno that stopped it (ENOSPC
//! when the kernel took nothing); what was written before stays, for the caller to cut back.
int WriteWhole(int fd, std::span<const uint8_t> head, std::span<const uint8_t> tail);

//! CRC-32 (IEEE 802.3, reflected), zlib's crc32() (which it calls for long buffers);
//! chain calls through `crc`.
uint32_t Crc32(std::span<const uint8_t> bytes, uint32_t crc = 0);

struct CaptureHeader {
    uint32_t abi_version{0};
    uint64_t schema_hash{0};
    int64_t clock_offset_ns{0};
    uint64_t producer_pid{0};
    uint64_t start_unix_ns{0};
    std::string segment_name;
    std::vector<std::string> rings;
    //! Per ring: the seq its reader started at, or UNKNOWN_SEQ (also for rings past the end
    //! of this vector).
    std::vector<uint64_t> first_seq;
    std::vector<EventDesc> events;
    std::vector<uint8_t> schema; //!< .bfbs
};

struct CaptureTotals {
    uint64_t delivered{0};
    uint64_t lost{0};
    uint64_t next_seq{UNKNOWN_SEQ}; //!< one past the last event accounted for
};

struct CaptureEnd {
    uint64_t end_unix_ns{0};
    uint64_t frames{0};               //!< frames before the end frame
    std::vector<CaptureTotals> rings; //!< one per header ring
};

//! Writes a capture file. Not thread-safe.
//!
//! Frames are gathered in memory and written whole, in pieces of about a MiB and whenever
//! Flush() is called (a large payload is written from where it is, right after the frames
//! before it), so the file always ends at a frame boundary: killed, it reads as cut
//! short, not as damaged. A write that fails (a full disk) is cut back to the last whole
//! frame, and nothing is written after it.
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
    //! Writes the frames gathered so far and closes the file; without Finish() it has no end
    //! frame and reads as cut short.
    ~CaptureWriter();
    CaptureWriter(const CaptureWriter&) = delete;
    CaptureWriter& operator=(const CaptureWriter&) = delete;

    //! An event; its lost_before and skipped_before say what of the ring is missing before it.
    Result<void> Write(uint8_t ring, const Record& record);
    //! Events of `ring` after its last event frame, up to `next_seq`, that are not in the
    //! capture: `lost` of them lost and `skipped` other readers' events.
    Result<void> WriteGap(uint8_t ring, uint64_t lost, uint64_t skipped, uint64_t next_seq);
    //! Records a new clock offset for the events written after it.
    Result<void> WriteClock(int64_t clock_offset_ns);
    //! Writes the frames gathered so far to the file.
    Result<void> Flush();
    //! Writes the end frame, with the totals of the frames written, and closes the file,
    //! reporting any write error. After a failed write nothing more is written (no end
    //! frame): the file reads as cut short.
    Result<void> Finish(uint64_t end_unix_ns);
    //! Bytes in the file (written whole; Finish() writes everything).
    uint64_t bytes_written() const { return m_bytes; }
    //! Event frames in the file: after a write error, fewer than Write() was given (the
    //! frames gathered since the last write that succeeded are not in it).
    uint64_t events_written() const { return m_events; }
    //! Per ring: events and losses written so far, and the next seq they account for.
    const std::vector<CaptureTotals>& totals() const { return m_totals; }

private:
    CaptureWriter() = default;
    //! Adds a frame of `body` (two parts, written one after the other); `event` if it is an
    //! event frame (counted in events_written() once it is in the file).
    Result<void> Frame(std::span<const uint8_t> body, std::span<const uint8_t> payload = {},
                       bool event = false);
    //! Writes the buffer, then `payload`, to the file (whole: a failure cuts the file back to
    //! where the buffer began).
    Result<void> WriteOut(std::span<const uint8_t> payload);
    //! Closes the file: the first write error if there was one, else close(2)'s result.
    Result<void> Close();

    Fd m_fd;
    std::filesystem::path m_path;
    std::vector<uint8_t> m_buffer; //!< whole frames not written yet
    uint64_t m_bytes{0};           //!< bytes in the file, whole frames
    uint64_t m_frames{0};          //!< frames after the header
    uint64_t m_events{0};          //!< event frames in the file
    uint64_t m_events_buffered{0}; //!< event frames in m_buffer (or being written with it)
    std::vector<CaptureTotals> m_totals;
    std::optional<Error> m_failed; //!< the first write error; nothing is written after it
};

//! What CaptureReader::Next() read.
enum class CaptureItem {
    End,   //!< the end of the file (complete(), or cut_short() says why not)
    Event, //!< an event
    Gap,   //!< events of a ring missing after its last event: the record's lost_before and
           //!< skipped_before count them, its seq is the next seq; no type, no payload
};

//! Reads a capture file, checking every length and checksum, and that per ring the seqs,
//! losses and totals account for every event (see the file's description above).
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
    //! Reads the next event or gap, or End at the end of the file. The record's payload
    //! stays valid until the next call. Corrupt if the file is damaged, ends inside a frame,
    //! or was altered: a frame cut out, added, duplicated or replayed (the message names the
    //! ring, the seq and the frame's byte offset).
    Result<CaptureItem> Next(uint8_t& ring, Record& record);
    //! Whether the end frame was read, and its totals matched the frames.
    bool complete() const { return m_ended; }
    //! Once Next() returned End without the end frame: why the file was cut short (a
    //! sentence naming where, and how many events are in it).
    const std::string& cut_short() const { return m_cut_short; }
    //! The end frame's totals, once complete().
    const CaptureEnd& end() const { return m_end; }
    //! The clock offset for the event Next() returned last: the header's, or that of the
    //! last clock frame before it.
    int64_t clock_offset_ns() const { return m_clock_offset_ns; }

private:
    CaptureReader() = default;
    Error Corrupt(const std::string& what) const;
    //! Checks that a frame of `ring` at `frame_pos` (FRAME_EVENT: of seq `seq`; FRAME_GAP:
    //! ending before it) follows the ring's previous one with `lost` and `skipped` events
    //! between them, and counts the losses.
    Result<void> Follow(uint8_t ring, uint64_t seq, uint64_t lost, uint64_t skipped,
                        uint64_t frame_pos, uint8_t kind);
    //! Checks the end frame at `frame_pos` against the frames read.
    Result<void> CheckEnd(uint64_t frame_pos) const;

    std::FILE* m_file{nullptr};
    std::filesystem::path m_path;
    uint64_t m_size{0};
    uint64_t m_pos{0};
    CaptureHeader m_header;
    CaptureEnd m_end;
    bool m_ended{false};
    std::string m_cut_short;
    int64_t m_clock_offset_ns{0};
    uint64_t m_frames{0};                 //!< frames read after the header
    uint64_t m_events{0};                 //!< event frames read
    std::vector<CaptureTotals> m_counted; //!< per ring, from the frames read
    std::vector<uint64_t> m_last_frame;   //!< per ring: byte offset of its last frame, or 0
    std::vector<uint8_t> m_body;          //!< the current frame; vector storage keeps it aligned
};

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_CAPTURE_FILE_H
