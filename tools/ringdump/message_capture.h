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

#include <tracering/result.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "event_format.h"

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

    //! Writes under `dir` (created if needed), appending to existing files as the node does.
    MessageCapture(std::filesystem::path dir, int64_t clock_offset_ns);
    ~MessageCapture();
    MessageCapture(const MessageCapture&) = delete;
    MessageCapture& operator=(const MessageCapture&) = delete;

    //! Appends a message event to its peer's file; other events are ignored. Fails only if
    //! a file cannot be written (SystemError); the file is then cut back to its last whole
    //! record, so a later capture appending to it still parses. Files are created 0600 and
    //! folders 0700, as the node (umask 077) makes them.
    Result<void> Add(const Record& record);
    //! Closes every file, reporting any write error.
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
    struct OpenFile {
        int fd{-1};
        uint64_t size{0}; //!< bytes in the file: every record so far was written whole
    };
    Result<OpenFile*> File(const std::string& peer, bool inbound);

    std::filesystem::path m_dir;
    int64_t m_clock_offset_ns;
    std::map<std::filesystem::path, OpenFile> m_files;
    std::set<std::string> m_peers;
    Counts m_counts;
    std::string m_buffer;
};

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_MESSAGE_CAPTURE_H
