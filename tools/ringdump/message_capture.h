// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RINGDUMP_MESSAGE_CAPTURE_H
#define TRACERING_RINGDUMP_MESSAGE_CAPTURE_H

//! @file
//! Bitcoin Core's `-capturemessages` files, written from net:inbound_message and
//! net:outbound_message events, so contrib/message-capture/message-capture-parser.py reads
//! them as it reads the node's own:
//!
//!     DIR/<peer addr, every ':' replaced by '_'>/msgs_recv.dat    inbound messages
//!     DIR/<peer addr, every ':' replaced by '_'>/msgs_sent.dat    outbound messages
//!
//! each a series of records appended in event order, with no file header:
//!
//!     [u64 LE time, microseconds since the UNIX epoch][12-byte message type, NUL-padded]
//!     [u32 LE payload length][payload]
//!
//! The time is the event's monotonic timestamp moved to UNIX time with the segment's clock
//! offset. The folder is named from the event's `addr` (the node's m_addr_name, which for
//! inbound and IP peers is the same "host:port" as the CNode::addr the node uses).
//!
//! Unlike the node, it writes only into folders and files it created itself (new, mode 0700
//! and 0600, never through a symbolic link), under a directory opened once: a folder or file
//! already at a peer's path, an earlier capture's or one planted there, is refused and never
//! opened, so a capture cannot be made to append to a file of someone else's choosing.

#include <tracering/result.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "decode/event_format.h"
#include <sys/types.h>

namespace tracering::ringdump {

class MessageCapture
{
public:
    struct Counts {
        uint64_t received{0}; //!< records appended to msgs_recv.dat files
        uint64_t sent{0};     //!< records appended to msgs_sent.dat files
        //! Messages not written because the record holds only part of the payload.
        uint64_t truncated{0};
        //! Messages not written because the format cannot hold them (a type longer than
        //! 12 bytes, a payload of 4 GiB or more) or their table did not verify.
        uint64_t unwritable{0};
    };

    //! Writes under the directory `dir_fd` (from OpenOutputDirectory; it must stay open while
    //! this capture writes), which messages call `dir`.
    MessageCapture(int dir_fd, std::filesystem::path dir, int64_t clock_offset_ns);
    ~MessageCapture();
    MessageCapture(const MessageCapture&) = delete;
    MessageCapture& operator=(const MessageCapture&) = delete;

    //! Appends a message event to its peer's file; other events are ignored. Fails if a
    //! file cannot be written (SystemError; the file is then cut back to its last whole
    //! record, so it still parses), or if the peer's folder or file was not created by this
    //! capture (AlreadyExists: something was there first; SystemError: it was replaced since).
    //! Files are created 0600 and folders 0700, as the node (umask 077) makes them.
    Result<void> Add(const Record& record);
    //! Writes the records gathered so far to their files. Add() gathers a file's records
    //! and writes them whole, in pieces of up to FILE_BUFFER bytes (a payload of at least
    //! that much is written from where it is, right after the records before it), so a
    //! file always ends at a record boundary.
    Result<void> Flush();
    //! Flushes and closes every file, reporting any write error. Add() may open them again.
    Result<void> Close();
    //! Messages added from now on get UNIX time with this offset (see ClockTracker).
    void SetClockOffset(int64_t clock_offset_ns) { m_clock_offset_ns = clock_offset_ns; }
    const Counts& counts() const { return m_counts; }
    size_t peers() const { return m_peers.size(); }

    //! The folder name of a peer: `addr` with every ':' replaced by '_' as the node does;
    //! '/', '\\' and NUL also become '_', and "", "." and ".." get a leading '_', so a
    //! name can never leave `dir`.
    static std::string PeerDirectory(std::string_view addr);

private:
    //! Which file or folder this capture created: it is reopened only if it is still that.
    struct Identity {
        dev_t dev{0};
        ino_t ino{0};
        bool operator==(const Identity&) const = default;
    };
    struct OpenFile {
        int fd{-1};       //!< -1 while closed (too many open; Add() reopens it)
        uint64_t size{0}; //!< bytes in the file: every record so far was written whole
        Identity id;
        std::vector<uint8_t> pending; //!< whole records not written yet
    };
    //! A peer's files, by the event's `addr` as it came (a map lookup per event rather than
    //! a folder name and paths built per event).
    struct Peer {
        std::string folder;      //!< PeerDirectory(addr)
        OpenFile* recv{nullptr}; //!< in m_files, once opened
        OpenFile* sent{nullptr};
    };
    struct AddrHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    Result<OpenFile*> File(const std::string& peer, bool inbound);
    //! Writes `f.pending`, then `payload`, to the file; on failure cuts it back to f.size.
    Result<void> WriteOut(OpenFile& f, std::span<const uint8_t> payload);

    int m_dir_fd;
    std::filesystem::path m_dir;
    int64_t m_clock_offset_ns;
    std::map<std::filesystem::path, OpenFile> m_files; //!< every file this capture created
    size_t m_open{0};                                  //!< of m_files, those open now
    std::map<std::string, Identity> m_peers;           //!< the folders this capture created
    std::unordered_map<std::string, Peer, AddrHash, std::equal_to<>> m_by_addr;
    Counts m_counts;
};

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_MESSAGE_CAPTURE_H
