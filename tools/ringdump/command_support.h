// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RINGDUMP_COMMAND_SUPPORT_H
#define TRACERING_RINGDUMP_COMMAND_SUPPORT_H

//! @file
//! What more than one of ringdump's commands (list.cpp, watch.cpp, stats.cpp, capture.cpp,
//! read.cpp) needs: errors and output, connecting and attaching, the read loop that accounts
//! for every event (Pump), and the text of sizes, durations and the producer's clock.

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/ring_stats.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture_file.h"
#include "commands.h"
#include "decode/event_format.h"
#include "decode/event_schema.h"

namespace tracering::ringdump {

using Clock = std::chrono::steady_clock;

//! Output is gathered and written in pieces of about this size: one write per event would
//! cost more than reading the event.
inline constexpr size_t OUTPUT_CHUNK = 64 << 10;
//! capture: records written between two looks at the clock (ClockTracker::Update), besides
//! one whenever the rings are empty. At a million events a second, a millisecond apart.
inline constexpr size_t CLOCK_CHECK_EVERY = 1024;
//! Records taken from one ring before the next ring gets its turn.
inline constexpr size_t POLL_BATCH = 1024;
//! Records read before their space is handed back to the producer within a batch.
inline constexpr size_t RELEASE_EVERY = 64;

//! Writes "ringdump: <message>" to io.err and returns `code`.
int Fail(const Io& io, int code, const std::string& message);
//! Whether io.stop asks the command to end.
bool Stopped(const Io& io);
//! Nanoseconds since the Unix epoch (CLOCK_REALTIME).
uint64_t UnixNowNs();
std::string Join(const std::vector<std::string>& items, const char* separator = ", ");
//! Every ring's name, in SUBSYSTEM_NAMES order.
std::vector<std::string> AllRings();
//! Writes what `out` holds; false if the output is gone (a closed pipe, a full disk).
bool WriteOut(const Io& io, std::string& out, bool flush);
//! The producer's counters of a ring as JSON members (",\"seq\":...").
void AppendCounters(std::string& out, const RingStats& r);

//! Connects to the control socket `control` into `client`; on failure says why and returns
//! the exit code (EXIT_OK on success).
int ConnectTo(const std::string& control, const Io& io, std::unique_ptr<ControlClient>& client);
//! Attaches `requests` into `session`; on failure says why and returns the exit code.
int AttachTo(ControlClient& client, const std::vector<RingRequest>& requests, const Io& io,
             std::unique_ptr<Session>& session);
//! ConnectTo, AttachTo, then the producer's schema from the session's segment (to decode
//! every field it writes, even one newer than this ringdump): how watch and capture start.
//! On failure says why and returns the exit code.
int AttachWithSchema(const std::string& control, const std::vector<RingRequest>& requests,
                     const Io& io, std::unique_ptr<ControlClient>& client,
                     std::unique_ptr<Session>& session, std::optional<EventSchema>& schema);

//! What a Pump handler did with a record.
enum class Take {
    Counted, //!< taken, and counts towards --count
    Skipped, //!< filtered out
    Abort,   //!< the handler failed and reported it
};

//! The events of a ring after the last one its reader delivered that are in no output yet.
struct RingTail {
    uint64_t lost{0};               //!< dropped by the producer, or never read (a detached reader)
    uint64_t skipped{0};            //!< other readers' events it passed over
    uint64_t next_seq{UNKNOWN_SEQ}; //!< the account ends before this seq
};

//! Whether the producer detached `reader` (a slow reader, a bad cursor, its lease ended),
//! rather than exiting after the reader read everything: on a clean exit the producer seals
//! its rings and leaves each reader's line as it was, while a detach marks the line Detached,
//! which RingReader::Info() leaves out of its readers.
bool DetachedByProducer(const RingReader& reader);

//! Where a reader began, and its skipped count at the last event it delivered: what the
//! account of its ring at the end (TailOf) starts from.
struct Span {
    std::optional<uint64_t> first_seq; //!< the seq it started at, once known
    uint64_t skipped{0};
};
Span SpanOf(const RingReader& reader);

//! The tail of `reader`'s ring up to `end_seq` (or as far as it read, if further): losses it
//! has not reported, which are the drops it passed while skipping other readers' events, and
//! every event the ring attempted that it did not read (dropped after its last read, or
//! still in the ring when it was detached).
RingTail TailOf(const RingReader& reader, const Span& span, uint64_t end_seq);

//! How Pump ended.
struct PumpEnd {
    int code{EXIT_OK};
    bool aborted{false};
    std::string note;            //!< why reading ended early, for stderr
    std::vector<RingTail> tails; //!< one per reader of the session

    //! Adds `what` to the note, once.
    void Note(const std::string& what)
    {
        if (note.find(what) != std::string::npos) return;
        note += (note.empty() ? "" : "; ") + what;
    }
};

//! Reads the session's rings round robin and hands each record to `take`, until `count`
//! records were counted (0: no limit), `deadline` passed, io.stop was set, the producer went
//! away or detached a reader, or `take` aborted. Calls `idle` whenever the rings are empty;
//! `idle` returning false aborts as well.
//!
//! Stopped (io.stop, the deadline, or a reader detached by the producer), it first reads
//! the events each ring attempted before the stop. At the end, PumpEnd::tails accounts for
//! every event of each ring up to where its reading ended (the producer's final seq when it
//! exited or died, its seq at the stop or the detach; with `count` reached, what was read)
//! that was not delivered: the caller reports those as lost.
PumpEnd Pump(Session& session, const Io& io, uint64_t count,
             std::optional<Clock::time_point> deadline,
             const std::function<Take(size_t, const Record&)>& take,
             const std::function<bool()>& idle);

//! "net 7/0, mempool 4/1": delivered/lost per ring, from the readers' own counters and the
//! tails of their rings; adds them to `delivered` and `lost`.
std::string Totals(Session& session, const std::vector<RingTail>& tails, uint64_t& delivered,
                   uint64_t& lost);

//! "4 MiB", "1536 B": an exact size in the largest unit that divides it.
std::string HumanBytes(uint64_t bytes);
//! "0 B", "900 B", "12.5 KiB", "3.0 MiB": a size that is rarely a round number.
std::string ApproxBytes(uint64_t bytes);
//! Seconds: "0.2s", "75s".
std::string Seconds(uint64_t ns);

//! The producer's clock as its segment says, read through a read-only mapping of it (the
//! control socket's info() does not carry it).
Result<ClockStatus> ReadClock(const std::string& segment_name);
//! One line: which clock stamps the events of every ring, its TSC frequency, the error bound
//! and the largest error seen, and a fallback with its reason.
std::string ClockLine(const Result<ClockStatus>& status);
//! The clock as a JSON member (",\"clock\":{...}").
void AppendClockJson(std::string& out, const Result<ClockStatus>& status);

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_COMMAND_SUPPORT_H
