// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RING_STATS_H
#define TRACERING_RING_STATS_H

//! @file
//! A ring's state, readers and counters as the producer keeps them; both sides report them.

#include <tracering/events.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tracering {

//! What a reader needs from its lease to read one ring: the lease's cursor memory and the
//! reader slot it was given. The control client receives it over the control socket;
//! in-process, Producer::Attach() returns it.
struct ReaderGrant {
    Subsystem ring{Subsystem::Net};
    uint32_t slot{0};       //!< its ReaderControl line in the ring
    uint64_t generation{0}; //!< the line's generation while the reader owns it
    int cursors_fd{-1};     //!< the lease's cursor memory (the grant does not own it)
};

//! One reader of a ring, as the producer sees it.
struct ReaderInfo {
    uint32_t slot{0}; //!< its ReaderControl line
    uint64_t pid{0};  //!< the lease holder (from the control socket's peer credentials)
    uint64_t uid{0};
    bool lossless{false};   //!< it asked for lossless delivery
    bool downgraded{false}; //!< its lease used up its lossless budget: dropping now
    uint64_t event_mask{0};
    uint64_t payload_limit{0};
    uint64_t waited_ns{0}; //!< time the node's writers waited for it (lossless)
    //! Bytes written that this reader has not given back yet (its backlog), from its own
    //! cursor. Informative: a hostile reader can make it anything up to the capacity.
    uint64_t unread_bytes{0};
    //! Time since it last gave space back (or since it attached, if it has not yet). Large
    //! with unread_bytes > 0: it is stopped or wedged. Large with unread_bytes == 0: quiet.
    uint64_t idle_ns{0};
};

struct RingStats {
    std::string name;
    Subsystem subsystem{Subsystem::Net};
    uint64_t capacity{0};
    bool enabled{false};       //!< it has at least one reader
    bool lossless{false};      //!< at least one reader asked for (and keeps) lossless delivery
    uint64_t event_mask{0};    //!< bit i: event type RingFirstType(ring) + i is on, for someone
    uint64_t payload_limit{0}; //!< payloads are cut to this many bytes, 0 = whole
    uint32_t reader_count{0};  //!< readers attached now
    //! The readers (the producer's own view lists them all; a session's stats only its own).
    std::vector<ReaderInfo> readers;
    uint64_t generation{0}; //!< counts readers added and removed
    uint64_t write_pos{0};  //!< bytes reserved by writers (RingControl::write_pos)
    //! Node threads waiting for a lossless reader to make room right now (the producer's
    //! own Stats() only; 0 from a consumer's view).
    uint32_t writers_waiting{0};
    uint64_t seq{0}; //!< events attempted (written or dropped)
    uint64_t dropped_full{0};
    uint64_t dropped_too_big{0};
    uint64_t dropped_reader_reset{0};
    uint64_t dropped_timeout{0};
    uint64_t cursor_violations{0};
    uint64_t truncated{0};           //!< delivered with a cut payload (not lost)
    uint64_t lossless_downgrades{0}; //!< lossless readers that used up their budget
    uint64_t readers_evicted{0};     //!< readers detached for keeping the ring full
    // Summaries of `readers`, for one-line displays:
    uint64_t reader_pid{0};     //!< the first reader's pid, 0 if none
    uint64_t unread_bytes{0};   //!< the largest backlog
    uint64_t reader_idle_ns{0}; //!< the longest idle time

    //! Events lost for any cause.
    uint64_t dropped() const
    {
        return dropped_full + dropped_too_big + dropped_reader_reset + dropped_timeout;
    }
    //! Fills the summaries from `readers`.
    void SummariseReaders()
    {
        reader_pid = readers.empty() ? 0 : readers.front().pid;
        unread_bytes = 0;
        reader_idle_ns = 0;
        for (const ReaderInfo& r : readers) {
            unread_bytes = unread_bytes > r.unread_bytes ? unread_bytes : r.unread_bytes;
            reader_idle_ns = reader_idle_ns > r.idle_ns ? reader_idle_ns : r.idle_ns;
        }
    }
};

} // namespace tracering

#endif // TRACERING_RING_STATS_H
