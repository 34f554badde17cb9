// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RING_STATS_H
#define TRACERING_RING_STATS_H

//! @file
//! A ring's state and counters as the producer keeps them; both sides report them.

#include <tracering/events.h>

#include <cstdint>
#include <string>

namespace tracering {

struct RingStats {
    std::string name;
    Subsystem subsystem{Subsystem::Net};
    uint64_t capacity{0};
    bool enabled{false};
    bool lossless{false};
    uint64_t event_mask{0}; //!< bit i: event type RingFirstType(ring) + i is on
    uint64_t payload_limit{0};
    uint64_t reader_pid{0}; //!< the lease holder, 0 if none
    uint64_t generation{0};
    uint64_t write_pos{0};
    uint64_t seq{0}; //!< events attempted (written or dropped)
    uint64_t dropped_full{0};
    uint64_t dropped_too_big{0};
    uint64_t dropped_reader_reset{0};
    uint64_t dropped_timeout{0};
    uint64_t cursor_violations{0};
    uint64_t truncated{0}; //!< delivered with a cut payload (not lost)
    //! Bytes written that the reader has not given back yet (its backlog), from the reader's
    //! own cursor; 0 without a reader. Informative: a hostile reader can make it anything up
    //! to the capacity.
    uint64_t unread_bytes{0};
    //! Time since the reader last gave space back (or since it attached, if it has not yet);
    //! 0 without a reader. Large with unread_bytes > 0: the reader is stopped or wedged. Large
    //! with unread_bytes == 0: the ring is quiet.
    uint64_t reader_idle_ns{0};

    //! Events lost for any cause.
    uint64_t dropped() const
    {
        return dropped_full + dropped_too_big + dropped_reader_reset + dropped_timeout;
    }
};

} // namespace tracering

#endif // TRACERING_RING_STATS_H
