// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "commands.h"

#include <tracering/consumer.h>
#include <tracering/events.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <dirent.h>
#include <fcntl.h>
#include <functional>
#include <optional>
#include <thread>
#include <unistd.h>

#include "capture_file.h"
#include "clock_tracker.h"
#include "decode/event_format.h"
#include "decode/event_schema.h"
#include "message_capture.h"
#include <sys/stat.h>

namespace tracering::ringdump {
namespace {

//! The producer's counters of a ring as JSON members (",\"seq\":...").
void AppendCounters(std::string& out, const RingStats& r)
{
    out += ",\"seq\":" + std::to_string(r.seq);
    out += ",\"dropped_full\":" + std::to_string(r.dropped_full);
    out += ",\"dropped_too_big\":" + std::to_string(r.dropped_too_big);
    out += ",\"dropped_reader_reset\":" + std::to_string(r.dropped_reader_reset);
    out += ",\"dropped_timeout\":" + std::to_string(r.dropped_timeout);
    out += ",\"cursor_violations\":" + std::to_string(r.cursor_violations);
    out += ",\"truncated\":" + std::to_string(r.truncated);
    out += ",\"unread_bytes\":" + std::to_string(r.unread_bytes);
    out += ",\"reader_idle_ns\":" + std::to_string(r.reader_idle_ns);
}

using Clock = std::chrono::steady_clock;

//! Output is gathered and written in pieces of about this size: one write per event would
//! cost more than reading the event.
constexpr size_t OUTPUT_CHUNK = 64 << 10;
//! capture: records written between two looks at the clock (ClockTracker::Update), besides
//! one whenever the rings are empty. At a million events a second, a millisecond apart.
constexpr size_t CLOCK_CHECK_EVERY = 1024;
//! Records taken from one ring before the next ring gets its turn.
constexpr size_t POLL_BATCH = 1024;
//! Records read before their space is handed back to the producer within a batch.
constexpr size_t RELEASE_EVERY = 64;

int Fail(const Io& io, int code, const std::string& message)
{
    std::fprintf(io.err, "ringdump: %s\n", message.c_str());
    return code;
}

bool Stopped(const Io& io) { return io.stop && io.stop->load(std::memory_order_relaxed); }

uint64_t UnixNowNs()
{
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

std::string Join(const std::vector<std::string>& items, const char* separator = ", ")
{
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += separator;
        out += items[i];
    }
    return out;
}

std::vector<std::string> AllRings() { return {SUBSYSTEM_NAMES.begin(), SUBSYSTEM_NAMES.end()}; }


//! Writes what `out` holds; false if the output is gone (a closed pipe, a full disk).
bool WriteOut(const Io& io, std::string& out, bool flush)
{
    const bool ok = std::fwrite(out.data(), 1, out.size(), io.out) == out.size() &&
                    (!flush || std::fflush(io.out) == 0);
    out.clear();
    return ok;
}

int ConnectTo(const std::string& control, const Io& io, std::unique_ptr<ControlClient>& client)
{
    if (control.empty()) {
        return Fail(io, EXIT_USAGE, "--control PATH is required: the producer's control socket");
    }
    auto connected = ControlClient::Connect(control);
    if (!connected) {
        const Error& e = connected.error();
        return Fail(io, e.code() == ErrorCode::VersionMismatch ? EXIT_MISMATCH : EXIT_UNAVAILABLE,
                    e.message());
    }
    client = std::move(connected.value());
    return EXIT_OK;
}

int AttachTo(ControlClient& client, const std::vector<RingRequest>& requests, const Io& io,
             std::unique_ptr<Session>& session)
{
    auto attached = client.Attach(requests);
    if (!attached) {
        const Error& e = attached.error();
        const int code = e.code() == ErrorCode::VersionMismatch   ? EXIT_MISMATCH
                         : e.code() == ErrorCode::InvalidArgument ? EXIT_USAGE
                         : e.code() == ErrorCode::Corrupt         ? EXIT_CORRUPT
                                                                  : EXIT_UNAVAILABLE;
        return Fail(io, code, e.message());
    }
    session = std::move(attached.value());
    return EXIT_OK;
}

//! The producer's schema from the session's segment; nullopt once `code` says why not.
std::optional<EventSchema> ProducerSchema(Session& session, const Io& io, int& code)
{
    const std::span<const uint8_t> bytes = session.consumer().schema();
    auto schema = EventSchema::FromProducer_untrusted({bytes.begin(), bytes.end()});
    if (!schema) {
        code = Fail(io, EXIT_CORRUPT, "the producer's schema: " + schema.error().message());
        return std::nullopt;
    }
    return std::move(schema.value());
}

enum class Take {
    Counted, //!< taken, and counts towards --count
    Skipped, //!< filtered out
    Abort,   //!< the handler failed and reported it
};

//! Whether the producer detached `reader` (a slow reader, a bad cursor, its lease ended),
//! rather than exiting after the reader read everything: on a clean exit the producer seals
//! its rings and leaves each reader's line as it was, while a detach marks the line Detached,
//! which RingReader::Info() leaves out of its readers.
bool DetachedByProducer(const RingReader& reader)
{
    const RingInfo info = reader.Info();
    return std::none_of(info.readers.begin(), info.readers.end(),
                        [&](const ReaderInfo& r) { return r.slot == reader.slot(); });
}

//! Where a reader began, and its skipped count at the last event it delivered: what the
//! account of its ring at the end (TailOf) starts from.
struct Span {
    std::optional<uint64_t> first_seq; //!< the seq it started at, once known
    uint64_t skipped{0};
};

Span SpanOf(const RingReader& reader) { return {reader.next_seq(), reader.stats().skipped}; }

//! The events of a ring after the last one its reader delivered that are in no output yet.
struct RingTail {
    uint64_t lost{0};               //!< dropped by the producer, or never read (a detached reader)
    uint64_t skipped{0};            //!< other readers' events it passed over
    uint64_t next_seq{UNKNOWN_SEQ}; //!< the account ends before this seq
};

//! The tail of `reader`'s ring up to `end_seq` (or as far as it read, if further): losses it
//! has not reported, which are the drops it passed while skipping other readers' events, and
//! every event the ring attempted that it did not read (dropped after its last read, or
//! still in the ring when it was detached).
RingTail TailOf(const RingReader& reader, const Span& span, uint64_t end_seq)
{
    RingTail tail;
    const ReaderStats& s = reader.stats();
    tail.skipped = s.skipped - span.skipped;
    const std::optional<uint64_t> next = reader.next_seq();
    if (!next) return tail; // it read nothing and does not know where it began
    tail.next_seq = std::max(end_seq, *next);
    if (span.first_seq) {
        // Every seq from its start is delivered, skipped, reported lost, or in the tail.
        const uint64_t accounted = s.delivered + s.skipped + s.lost;
        const uint64_t attempted = tail.next_seq - *span.first_seq;
        tail.lost = attempted > accounted ? attempted - accounted : 0;
    } else {
        tail.lost = tail.next_seq - *next;
    }
    return tail;
}

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

//! Says once per stopped record that a producer thread holds back the later records of
//! `reader`'s ring (RingReader::StuckWriter()); `reported` is where it last said so.
void WarnIfStuck(const Io& io, const RingReader& reader, std::optional<uint64_t>& reported)
{
    const std::optional<StuckRecord> stuck = reader.StuckWriter();
    if (!stuck) {
        reported.reset();
        return;
    }
    if (reported == stuck->position) return;
    reported = stuck->position;
    std::fprintf(io.err,
                 "ringdump: ring '%s': a producer thread has been in the middle of the record at "
                 "position %" PRIu64 " for %.1f s; %" PRIu64
                 " bytes of events reserved after it wait and follow once it finishes\n",
                 reader.name().c_str(), stuck->position, double(stuck->stuck_ns) / 1e9,
                 stuck->bytes_waiting);
}

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
             const std::function<bool()>& idle)
{
    const auto& readers = session.readers();
    uint64_t counted = 0;
    PumpEnd end;
    std::vector<Span> spans;
    for (const auto& reader : readers) {
        spans.push_back(SpanOf(*reader));
    }
    // Per ring, once its reading ended (the producer exited, died, or detached its reader):
    // the seq its account ends at. The other rings are still read to their end.
    std::vector<std::optional<uint64_t>> ended(readers.size());
    std::vector<std::optional<uint64_t>> stuck_reported(readers.size());
    size_t unfinished = readers.size();
    bool producer_died = false;
    bool detached = false;
    const auto limit_reached = [&] { return count && counted >= count; };
    // One batch of ring i; false once reading must end.
    const auto poll = [&](size_t i, size_t& work) {
        if (ended[i]) return true;
        RingReader& reader = *readers[i];
        const uint64_t limit = std::min<uint64_t>(count ? count - counted : POLL_BATCH, POLL_BATCH);
        // Record by record rather than Poll(), so that reading stops at the record `take`
        // aborted on: none after it is consumed (and counted as delivered) unseen.
        EventView view;
        size_t n = 0;
        Result<bool> next = false;
        while (n < limit && !end.aborted) {
            next = reader.Next(view);
            if (!next || !next.value()) break;
            ++n;
            Record record = RecordOf(view);
            const uint64_t skipped = reader.stats().skipped;
            record.skipped_before = skipped - spans[i].skipped;
            spans[i].skipped = skipped;
            switch (take(i, record)) {
            case Take::Counted:
                ++counted;
                break;
            case Take::Skipped:
                break;
            case Take::Abort:
                end.aborted = true;
                break;
            }
            if (n % RELEASE_EVERY == 0) reader.Release(); // room for the producer early
        }
        reader.Release();
        work = n;
        if (n == 0 && next) WarnIfStuck(io, reader, stuck_reported[i]);
        if (!next) {
            const Error& e = next.error();
            if (e.code() == ErrorCode::Detached || e.code() == ErrorCode::Stale) {
                // The ring has ended: the producer exited or died after everything in it was
                // read, or detached this reader. What it attempted until now and this reader
                // did not deliver is lost to it.
                end.Note(e.message());
                ended[i] = reader.Info().seq;
                --unfinished;
                if (e.code() == ErrorCode::Stale) {
                    producer_died = true;
                } else if (DetachedByProducer(reader)) {
                    detached = true;
                }
                return unfinished > 0;
            }
            end.note = e.message();
            end.code = e.code() == ErrorCode::Corrupt ? EXIT_CORRUPT : EXIT_UNAVAILABLE;
            end.aborted = true;
            return false;
        }
        return !end.aborted && !limit_reached();
    };
    Backoff backoff;
    while (!Stopped(io) && !detached) {
        if (deadline && Clock::now() >= *deadline) break;
        size_t work = 0;
        bool go_on = true;
        for (size_t i = 0; i < readers.size() && go_on; ++i) {
            size_t polled = 0;
            go_on = poll(i, polled);
            work += polled;
        }
        if (!go_on) break;
        if (work == 0 && !idle()) {
            end.aborted = true;
            break;
        }
        backoff.Idle(work);
    }
    if (!end.aborted && !limit_reached()) {
        // Stopped by the user, the deadline or a detach: the events the rings attempted
        // before the stop belong to what the user saw happen. Read them (no more than a ring
        // held: the rest were dropped), as the producer may keep writing; any not read are
        // lost.
        for (size_t i = 0; i < readers.size() && !end.aborted && !limit_reached(); ++i) {
            if (ended[i]) continue;
            const uint64_t stop_seq = readers[i]->Info().seq;
            bool go_on = true;
            while (go_on && !ended[i] && readers[i]->next_seq().value_or(0) < stop_seq) {
                size_t polled = 0;
                go_on = poll(i, polled);
                if (polled == 0) break;
            }
            if (!ended[i]) ended[i] = stop_seq;
        }
    }
    for (size_t i = 0; i < readers.size(); ++i) {
        // Reading ended early (--count, an error): the account ends where the reader is.
        const uint64_t end_seq = ended[i].value_or(readers[i]->next_seq().value_or(0));
        end.tails.push_back(TailOf(*readers[i], spans[i], end_seq));
    }
    if (end.code == EXIT_OK && detached) end.code = EXIT_DETACHED;
    if (end.code == EXIT_OK && producer_died) end.code = EXIT_UNAVAILABLE;
    return end;
}

//! "net 7/0, mempool 4/1": delivered/lost per ring, from the readers' own counters and the
//! tails of their rings.
std::string Totals(Session& session, const std::vector<RingTail>& tails, uint64_t& delivered,
                   uint64_t& lost)
{
    std::vector<std::string> parts;
    const auto& readers = session.readers();
    for (size_t i = 0; i < readers.size(); ++i) {
        const ReaderStats& s = readers[i]->stats();
        const uint64_t ring_lost = s.lost + (i < tails.size() ? tails[i].lost : 0);
        delivered += s.delivered;
        lost += ring_lost;
        parts.push_back(readers[i]->name() + " " + std::to_string(s.delivered) + "/" +
                        std::to_string(ring_lost));
    }
    return Join(parts);
}

std::string HumanBytes(uint64_t bytes)
{
    const char* units[] = {"B", "KiB", "MiB", "GiB"};
    int unit = 0;
    while (unit < 3 && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++unit;
    }
    return std::to_string(bytes) + " " + units[unit];
}

//! "0 B", "900 B", "12.5 KiB", "3.0 MiB": a size that is rarely a round number.
std::string ApproxBytes(uint64_t bytes)
{
    if (bytes < 1024) return std::to_string(bytes) + " B";
    const char* units[] = {"KiB", "MiB", "GiB"};
    double value = double(bytes) / 1024;
    int unit = 0;
    while (unit < 2 && value >= 1024) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
    return text;
}

//! Seconds: "0.2s", "75s".
std::string Seconds(uint64_t ns)
{
    const double seconds = double(ns) / 1e9;
    char text[32];
    std::snprintf(text, sizeof(text), seconds < 10 ? "%.1fs" : "%.0fs", seconds);
    return text;
}

} // namespace

Result<std::vector<RingRequest>> MakeRequests(const Selection& selection, const Selection& defaults,
                                              const RingRequest& options)
{
    const Selection& chosen =
        selection.rings.empty() && selection.events.empty() ? defaults : selection;
    std::vector<RingRequest> out;
    auto request_of = [&](const std::string& ring) -> RingRequest& {
        for (RingRequest& r : out) {
            if (r.ring == ring) return r;
        }
        RingRequest r = options;
        r.ring = ring;
        r.events.clear();
        out.push_back(std::move(r));
        return out.back();
    };
    for (const std::string& ring : chosen.rings) {
        if (std::find(SUBSYSTEM_NAMES.begin(), SUBSYSTEM_NAMES.end(), ring) ==
            SUBSYSTEM_NAMES.end()) {
            return Error{ErrorCode::InvalidArgument,
                         "unknown ring '" + ring + "'; the rings are: " + Join(AllRings())};
        }
        request_of(ring);
    }
    for (const std::string& event : chosen.events) {
        const EventInfo* found = nullptr;
        if (const size_t colon = event.find(':'); colon != std::string::npos) {
            const std::string_view ring = std::string_view{event}.substr(0, colon);
            const std::string_view name = std::string_view{event}.substr(colon + 1);
            found = FindEvent(ring, name);
            if (!found && !name.empty() &&
                std::find(SUBSYSTEM_NAMES.begin(), SUBSYSTEM_NAMES.end(), ring) !=
                    SUBSYSTEM_NAMES.end()) {
                // An event newer than this ringdump's schemas: the producer's own catalogue
                // decides, and names its events if it has no such event either.
                RingRequest& r = request_of(std::string{ring});
                if (std::find(r.events.begin(), r.events.end(), name) == r.events.end()) {
                    r.events.emplace_back(name);
                }
                continue;
            }
        } else {
            for (const EventInfo& e : EVENTS) {
                if (e.name == event) found = &e;
            }
        }
        if (!found) {
            std::vector<std::string> known;
            for (const EventInfo& e : EVENTS) {
                known.push_back(std::string{e.context} + ":" + std::string{e.name});
            }
            return Error{ErrorCode::InvalidArgument,
                         "unknown event '" + event + "'; the events are: " + Join(known) +
                             " (name an event newer than this ringdump as ring:event)"};
        }
        RingRequest& r = request_of(std::string{found->context});
        if (std::find(r.events.begin(), r.events.end(), found->name) == r.events.end()) {
            r.events.emplace_back(found->name);
        }
    }
    return out;
}

// --- list -----------------------------------------------------------------------------------

namespace {

//! The producer's clock as its segment says, read through a read-only mapping of it (the
//! control socket's info() does not carry it).
Result<ClockStatus> ReadClock(const std::string& segment_name)
{
    auto consumer = Consumer::Open(segment_name);
    if (!consumer) return consumer.error();
    return (*consumer)->Clock();
}

std::string Nanoseconds(uint64_t ns)
{
    char text[32];
    if (ns < 10'000) {
        std::snprintf(text, sizeof(text), "%" PRIu64 " ns", ns);
    } else if (ns < 10'000'000) {
        std::snprintf(text, sizeof(text), "%.1f us", double(ns) / 1e3);
    } else {
        std::snprintf(text, sizeof(text), "%.1f ms", double(ns) / 1e6);
    }
    return text;
}

std::string SignedNanoseconds(int64_t ns)
{
    return (ns < 0 ? "-" : "+") + Nanoseconds(ns < 0 ? uint64_t(-(ns + 1)) + 1 : uint64_t(ns));
}

const char* ClockName(ClockId id)
{
    switch (id) {
    case ClockId::Monotonic:
        return "monotonic";
    case ClockId::MonotonicTsc:
        return "tsc";
    case ClockId::Unknown:
        break;
    }
    return "unknown";
}

const char* ClockReasonName(ClockReason reason)
{
    switch (reason) {
    case ClockReason::None:
        return "none";
    case ClockReason::Requested:
        return "requested";
    case ClockReason::Unsupported:
        return "unsupported";
    case ClockReason::NotInvariant:
        return "not_invariant";
    case ClockReason::KernelUnstable:
        return "kernel_unstable";
    case ClockReason::CalibrationFailed:
        return "calibration_failed";
    case ClockReason::ErrorBound:
        return "error_bound";
    case ClockReason::RateJump:
        return "rate_jump";
    case ClockReason::Backwards:
        return "backwards";
    }
    return "unknown";
}

//! One line: which clock stamps the events of every ring, its TSC frequency, the error bound
//! and the largest error seen, and a fallback with its reason.
std::string ClockLine(const Result<ClockStatus>& status)
{
    if (!status) return "clock: not readable (" + status.error().message() + ")\n";
    const ClockStatus& c = status.value();
    char ghz[32];
    std::snprintf(ghz, sizeof(ghz), "%.4f GHz", double(c.tsc_hz) / 1e9);
    const std::string errors = "max error " + Nanoseconds(c.max_error_ns) + " (last " +
                               SignedNanoseconds(c.last_error_ns) + "), bound " +
                               Nanoseconds(c.error_bound_ns) + ", " + std::to_string(c.reanchors) +
                               " re-anchors";
    switch (c.in_use) {
    case ClockId::MonotonicTsc:
        return "clock (every ring): TSC " + std::string{ghz} + " on CLOCK_MONOTONIC, " + errors +
               "\n";
    case ClockId::Monotonic:
        if (c.fallback_ns != 0) {
            // Record timestamps are CLOCK_MONOTONIC, which steady_clock reads on this machine.
            const uint64_t now = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              Clock::now().time_since_epoch())
                                              .count());
            const std::string ago =
                now > c.fallback_ns ? " " + Seconds(now - c.fallback_ns) + " ago" : "";
            return "clock (every ring): CLOCK_MONOTONIC, fell back from the TSC (" +
                   std::string{ghz} + ")" + ago + ": " + ClockReasonText(c.reason) + "; " + errors +
                   "\n";
        }
        return "clock (every ring): CLOCK_MONOTONIC (" + std::string{ClockReasonText(c.reason)} +
               ")\n";
    case ClockId::Unknown:
        break;
    }
    return "clock (every ring): " + std::string{ClockName(c.timeline)} +
           " (the producer does not report more)\n";
}

void AppendClockJson(std::string& out, const Result<ClockStatus>& status)
{
    if (!status) {
        out += ",\"clock\":{\"error\":";
        AppendJsonString(out, status.error().message());
        out += "}";
        return;
    }
    const ClockStatus& c = status.value();
    out += std::string{",\"clock\":{\"in_use\":\""} + ClockName(c.in_use) + "\",\"timeline\":\"" +
           ClockName(c.timeline) + "\",\"reason\":\"" + ClockReasonName(c.reason) + "\"";
    if (c.reason != ClockReason::None) {
        out += ",\"reason_text\":";
        AppendJsonString(out, ClockReasonText(c.reason));
    }
    out += ",\"tsc_hz\":" + std::to_string(c.tsc_hz) +
           ",\"error_bound_ns\":" + std::to_string(c.error_bound_ns) +
           ",\"max_error_ns\":" + std::to_string(c.max_error_ns) +
           ",\"last_error_ns\":" + std::to_string(c.last_error_ns) +
           ",\"reanchors\":" + std::to_string(c.reanchors) +
           ",\"fallback_ns\":" + std::to_string(c.fallback_ns) + "}";
}

} // namespace

int List(const ListOptions& options, const Io& io)
{
    std::unique_ptr<ControlClient> client;
    if (int code = ConnectTo(options.control, io, client); code != EXIT_OK) return code;
    auto rings = client->Rings();
    if (!rings) return Fail(io, EXIT_UNAVAILABLE, rings.error().message());
    const ProducerDescription& p = client->producer();
    const Result<ClockStatus> clock = ReadClock(p.segment_name);
    std::string out;
    char line[512];
    if (!options.json) {
        std::snprintf(line, sizeof(line),
                      "producer pid %" PRIu64 ", segment '%s', ABI %u, schema %016" PRIx64
                      ", control %s\n",
                      p.producer_pid, p.segment_name.c_str(), p.abi_version, p.schema_hash,
                      client->socket_path().c_str());
        out += line;
        out += ClockLine(clock);
        std::snprintf(line, sizeof(line),
                      "%-15s %-5s %8s %10s %6s %9s %12s %10s %10s %10s %10s %8s %10s\n", "ring",
                      "state", "reader", "unread", "idle", "capacity", "seq", "full", "too_big",
                      "reset", "timeout", "cursor", "truncated");
        out += line;
    }
    for (const RingInfo& r : *rings) {
        // The producer's catalogue, which may know events this ringdump does not.
        std::vector<std::string> events;
        std::vector<std::string> selected;
        const uint16_t first = RingFirstType(r.subsystem);
        for (const RingEvent& e : r.events) {
            events.push_back(e.name);
            const uint32_t bit = uint32_t(e.type - first);
            if (bit < EVENTS_PER_RING_MAX && (r.event_mask >> bit) & 1) {
                selected.push_back(e.name);
            }
        }
        if (options.json) {
            out += "{\"ring\":";
            AppendJsonString(out, r.name);
            out += std::string{",\"state\":"} + (r.enabled ? "\"on\"" : "\"off\"");
            out += ",\"reader_pid\":" + std::to_string(r.reader_pid);
            out += ",\"readers\":[";
            for (size_t i = 0; i < r.readers.size(); ++i) {
                const ReaderInfo& reader = r.readers[i];
                out += i ? "," : "";
                out += "{\"pid\":" + std::to_string(reader.pid) +
                       ",\"uid\":" + std::to_string(reader.uid) +
                       ",\"lossless\":" + (reader.lossless ? "true" : "false") +
                       ",\"downgraded\":" + (reader.downgraded ? "true" : "false") +
                       ",\"payload_limit\":" + std::to_string(reader.payload_limit) +
                       ",\"unread_bytes\":" + std::to_string(reader.unread_bytes) +
                       ",\"idle_ns\":" + std::to_string(reader.idle_ns) +
                       ",\"waited_ns\":" + std::to_string(reader.waited_ns) + "}";
            }
            out += "]";
            out += ",\"lossless_downgrades\":" + std::to_string(r.lossless_downgrades);
            out += ",\"readers_evicted\":" + std::to_string(r.readers_evicted);
            out += ",\"capacity\":" + std::to_string(r.capacity);
            AppendCounters(out, r);
            out += std::string{",\"lossless\":"} + (r.lossless ? "true" : "false");
            out += ",\"payload_limit\":" + std::to_string(r.payload_limit);
            AppendClockJson(out, clock);
            const auto append_names = [&](const char* key, const std::vector<std::string>& names) {
                out += std::string{",\""} + key + "\":[";
                for (size_t i = 0; i < names.size(); ++i) {
                    if (i) out += ',';
                    AppendJsonString(out, names[i]);
                }
                out += ']';
            };
            append_names("events", events);
            append_names("selected_events", selected);
            out += "}\n";
            continue;
        }
        // One reader: its pid; several: the first and how many more (each on its own line).
        const bool read = !r.readers.empty();
        std::string reader = read ? std::to_string(r.readers.front().pid) : "-";
        if (r.readers.size() > 1) reader += "+" + std::to_string(r.readers.size() - 1);
        const std::string unread = read ? ApproxBytes(r.unread_bytes) : "-";
        const std::string idle = read ? Seconds(r.reader_idle_ns) : "-";
        std::snprintf(line, sizeof(line),
                      "%-15s %-5s %8s %10s %6s %9s %12" PRIu64 " %10" PRIu64 " %10" PRIu64
                      " %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %10" PRIu64 "\n",
                      r.name.c_str(), r.enabled ? "on" : "off", reader.c_str(), unread.c_str(),
                      idle.c_str(), HumanBytes(r.capacity).c_str(), r.seq, r.dropped_full,
                      r.dropped_too_big, r.dropped_reader_reset, r.dropped_timeout,
                      r.cursor_violations, r.truncated);
        out += line;
        out += "    events: " + Join(events) + "\n";
        if (r.enabled) {
            out += "    reading: " + (selected.size() == events.size() ? "all" : Join(selected));
            if (r.lossless) out += ", lossless";
            if (r.payload_limit) out += ", payload limit " + std::to_string(r.payload_limit);
            out += "\n";
        }
        if (r.readers.size() > 1 || r.lossless_downgrades || r.readers_evicted) {
            for (const ReaderInfo& reader_info : r.readers) {
                out += "    reader pid " + std::to_string(reader_info.pid) + " (uid " +
                       std::to_string(reader_info.uid) + "): unread " +
                       ApproxBytes(reader_info.unread_bytes) + ", idle " +
                       Seconds(reader_info.idle_ns);
                if (reader_info.lossless) {
                    out += ", lossless (waited " + Seconds(reader_info.waited_ns) + ")";
                }
                if (reader_info.downgraded)
                    out += ", downgraded to dropping (lossless budget used up)";
                out += "\n";
            }
            if (r.lossless_downgrades || r.readers_evicted) {
                out += "    " + std::to_string(r.lossless_downgrades) +
                       " lossless readers downgraded, " + std::to_string(r.readers_evicted) +
                       " slow readers detached\n";
            }
        }
    }
    return WriteOut(io, out, true) ? EXIT_OK : EXIT_UNAVAILABLE;
}

// --- watch ----------------------------------------------------------------------------------

int Watch(const WatchOptions& options, const Io& io)
{
    // Peers live on the net ring: asking about one means the net ring unless told otherwise.
    const Selection defaults{options.peer ? std::vector<std::string>{"net"} : AllRings(), {}};
    auto requests = MakeRequests(options.selection, defaults,
                                 {.lossless = options.lossless,
                                  .lossless_wait_ms = options.lossless_wait_ms,
                                  .payload_limit = options.payload_limit});
    if (!requests) return Fail(io, EXIT_USAGE, requests.error().message());
    std::unique_ptr<ControlClient> client;
    if (int code = ConnectTo(options.control, io, client); code != EXIT_OK) return code;
    std::unique_ptr<Session> session;
    if (int code = AttachTo(*client, *requests, io, session); code != EXIT_OK) return code;
    // The producer's own schema: every field it writes is printed, even one newer than us.
    int schema_code = EXIT_OK;
    auto schema = ProducerSchema(*session, io, schema_code);
    if (!schema) return schema_code;

    ClockTracker clock{UnixClockOffsetNow};
    EventFormatter format{*schema, options.json ? Style::Json : Style::Text, clock.offset()};
    std::vector<std::string> rings;
    for (const auto& reader : session->readers()) {
        rings.push_back(reader->name());
    }
    std::string out;
    uint64_t corrupt = 0;
    const auto take = [&](size_t ring, const Record& record) {
        if (clock.Update()) format.SetClockOffset(clock.offset());
        if (record.lost_before) format.AppendLoss(out, rings[ring], record.lost_before, record.seq);
        auto table = format.Decode(record);
        Take taken = Take::Skipped;
        if (!table) {
            ++corrupt;
            std::fprintf(io.err, "ringdump: ring '%s': %s; skipped\n", rings[ring].c_str(),
                         table.error().message().c_str());
        } else if (!options.peer || format.PeerId(record, *table) == options.peer) {
            if (auto shown = format.AppendEvent(out, rings[ring], record, *table); shown) {
                taken = Take::Counted;
            } else {
                ++corrupt;
                std::fprintf(io.err, "ringdump: ring '%s': %s; skipped\n", rings[ring].c_str(),
                             shown.error().message().c_str());
            }
        }
        if (out.size() >= OUTPUT_CHUNK && !WriteOut(io, out, false)) return Take::Abort;
        return taken;
    };
    const PumpEnd end = Pump(*session, io, options.count, std::nullopt, take,
                             [&] { return WriteOut(io, out, true); });
    // Events lost after the last one read are a line of the output too, not only a number.
    for (size_t i = 0; i < end.tails.size(); ++i) {
        const RingTail& tail = end.tails[i];
        if (tail.lost) format.AppendLoss(out, rings[i], tail.lost, tail.next_seq);
    }
    const bool written = WriteOut(io, out, true);
    uint64_t delivered = 0, lost = 0;
    const std::string totals = Totals(*session, end.tails, delivered, lost);
    if (!end.note.empty()) std::fprintf(io.err, "ringdump: %s\n", end.note.c_str());
    std::fprintf(io.err, "ringdump: %" PRIu64 " events delivered, %" PRIu64 " lost (%s)\n",
                 delivered, lost, totals.c_str());
    if (corrupt) {
        return Fail(io, EXIT_CORRUPT,
                    std::to_string(corrupt) + " events did not verify against "
                                              "their schema and were skipped");
    }
    if (end.code != EXIT_OK) return end.code;
    if (!written || (end.aborted && end.note.empty())) {
        return Fail(io, EXIT_UNAVAILABLE, "cannot write the output");
    }
    return EXIT_OK;
}

// --- stats ----------------------------------------------------------------------------------

namespace {

struct RingSample {
    std::string name;
    bool enabled{false};
    uint64_t reader_pid{0};
    uint64_t seq{0};
    uint64_t write_pos{0};
    uint64_t delivered{0};
    uint64_t lost{0};
    uint64_t bytes{0};
    RingInfo info;
};

void AppendStatsLine(std::string& out, bool json, bool attached, double t, double dt,
                     const RingSample& now, const RingSample& before)
{
    const double events_per_s =
        double(attached ? now.delivered - before.delivered : now.seq - before.seq) / dt;
    const double bytes_per_s =
        double(attached ? now.bytes - before.bytes : now.write_pos - before.write_pos) / dt;
    const RingInfo& r = now.info;
    char line[512];
    if (json) {
        std::snprintf(line, sizeof(line), "{\"t_s\":%.3f,\"ring\":", t);
        out += line;
        AppendJsonString(out, now.name);
        std::snprintf(line, sizeof(line), ",\"events_per_s\":%.1f,\"bytes_per_s\":%.1f",
                      events_per_s, bytes_per_s);
        out += line;
        if (attached) {
            out += ",\"delivered\":" + std::to_string(now.delivered) +
                   ",\"lost\":" + std::to_string(now.lost);
        } else {
            out += std::string{",\"state\":"} + (now.enabled ? "\"on\"" : "\"off\"") +
                   ",\"reader_pid\":" + std::to_string(now.reader_pid);
        }
        AppendCounters(out, r);
        out += "}\n";
        return;
    }
    const std::string delivered = attached ? std::to_string(now.delivered) : "-";
    const std::string lost = attached ? std::to_string(now.lost) : "-";
    std::snprintf(line, sizeof(line),
                  "%8.1fs %-15s %12.1f %14.1f %12s %10s %10" PRIu64 " %10" PRIu64 " %10" PRIu64
                  " %10" PRIu64 " %8" PRIu64 " %10" PRIu64 "\n",
                  t, now.name.c_str(), events_per_s, bytes_per_s, delivered.c_str(), lost.c_str(),
                  r.dropped_full, r.dropped_too_big, r.dropped_reader_reset, r.dropped_timeout,
                  r.cursor_violations, r.truncated);
    out += line;
}

void AppendStatsHeader(std::string& out)
{
    char line[512];
    std::snprintf(line, sizeof(line),
                  "%9s %-15s %12s %14s %12s %10s %10s %10s %10s %10s %8s %10s\n", "time", "ring",
                  "events/s", "bytes/s", "delivered", "lost", "full", "too_big", "reset", "timeout",
                  "cursor", "truncated");
    out += line;
}

} // namespace

int Stats(const StatsOptions& options, const Io& io)
{
    if (!(options.interval_s > 0)) {
        return Fail(io, EXIT_USAGE, "--interval must be a positive number of seconds");
    }
    Selection selection{options.rings, {}};
    auto requests = MakeRequests(selection, {AllRings(), {}}, {});
    if (!requests) return Fail(io, EXIT_USAGE, requests.error().message());
    std::unique_ptr<ControlClient> client;
    if (int code = ConnectTo(options.control, io, client); code != EXIT_OK) return code;
    std::unique_ptr<Session> session;
    if (!options.no_attach) {
        if (int code = AttachTo(*client, *requests, io, session); code != EXIT_OK) return code;
    }
    const auto wanted = [&](const std::string& ring) {
        return std::any_of(requests->begin(), requests->end(),
                           [&](const RingRequest& r) { return r.ring == ring; });
    };
    // One sample per ring: the readers' counters when attached, the producer's otherwise.
    const auto sample = [&]() -> Result<std::vector<RingSample>> {
        std::vector<RingSample> out;
        if (session) {
            for (const auto& reader : session->readers()) {
                RingSample s;
                s.info = reader->Info();
                s.name = reader->name();
                s.delivered = reader->stats().delivered;
                s.lost = reader->stats().lost;
                s.bytes = reader->stats().bytes;
                out.push_back(std::move(s));
            }
            return out;
        }
        auto rings = client->Rings();
        if (!rings) return rings.error();
        for (const RingInfo& r : *rings) {
            if (!wanted(r.name)) continue;
            RingSample s;
            s.name = r.name;
            s.enabled = r.enabled;
            s.reader_pid = r.reader_pid;
            s.seq = r.seq;
            s.write_pos = r.write_pos;
            s.info = r;
            out.push_back(std::move(s));
        }
        return out;
    };

    auto before = sample();
    if (!before) return Fail(io, EXIT_UNAVAILABLE, before.error().message());
    std::string out;
    if (!options.json) {
        // Which clock stamps the events, as `list` says: a fallback from the TSC shows here.
        out += ClockLine(ReadClock(client->producer().segment_name));
        AppendStatsHeader(out);
    }
    if (!WriteOut(io, out, true)) return Fail(io, EXIT_UNAVAILABLE, "cannot write the output");
    const auto start = Clock::now();
    auto last = start;
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.interval_s));
    auto next = start + interval;
    uint64_t ticks = 0;
    Backoff backoff;
    std::string note;
    int code = EXIT_OK;
    // Attached: where each reader began, and where the account of its ring ends once its
    // reading ended (the producer exited, died, or detached it), as for watch.
    std::vector<Span> spans;
    std::vector<std::optional<uint64_t>> ended;
    if (session) {
        for (const auto& reader : session->readers()) {
            spans.push_back(SpanOf(*reader));
        }
        ended.resize(spans.size());
    }
    // Stats consumes the events without looking at them. Up to `batch` events of reader i;
    // false once its ring has ended or failed (`note` and `code` say how; `failed`: not by
    // the producer exiting, dying or detaching it).
    bool failed = false;
    const auto consume = [&](size_t i, size_t batch, size_t& work) {
        RingReader& reader = *session->readers()[i];
        auto polled = reader.Poll([](const EventView&) {}, batch);
        if (polled) {
            work += polled.value();
            return true;
        }
        const Error& e = polled.error();
        if (note.find(e.message()) == std::string::npos) {
            note += (note.empty() ? "" : "; ") + e.message();
        }
        if (e.code() == ErrorCode::Detached || e.code() == ErrorCode::Stale) {
            ended[i] = reader.Info().seq;
            const int why = e.code() == ErrorCode::Stale ? EXIT_UNAVAILABLE
                            : DetachedByProducer(reader) ? EXIT_DETACHED
                                                         : EXIT_OK;
            if (code == EXIT_OK) code = why;
        } else {
            ended[i] = reader.next_seq().value_or(0);
            code = e.code() == ErrorCode::Corrupt ? EXIT_CORRUPT : EXIT_UNAVAILABLE;
            failed = true;
        }
        return false;
    };
    bool counted_out = false;
    while (!Stopped(io)) {
        if (session) {
            size_t work = 0;
            bool go_on = true;
            for (size_t i = 0; i < spans.size() && go_on; ++i) {
                go_on = consume(i, POLL_BATCH, work);
            }
            if (!go_on) break;
            if (Clock::now() < next) {
                backoff.Idle(work);
                continue;
            }
        } else if (Clock::now() < next) {
            std::this_thread::sleep_for(
                std::min<Clock::duration>(next - Clock::now(), std::chrono::milliseconds(20)));
            continue;
        }
        const auto now = Clock::now();
        auto after = sample();
        if (!after) {
            note = after.error().message();
            code = EXIT_UNAVAILABLE;
            failed = true;
            break;
        }
        const double dt = std::chrono::duration<double>(now - last).count();
        const double t = std::chrono::duration<double>(now - start).count();
        for (size_t i = 0; i < after->size() && i < before->size(); ++i) {
            AppendStatsLine(out, options.json, session != nullptr, t, dt, (*after)[i],
                            (*before)[i]);
        }
        if (!WriteOut(io, out, true)) return Fail(io, EXIT_UNAVAILABLE, "cannot write the output");
        before = std::move(after);
        last = now;
        next += interval;
        if (++ticks == options.count) {
            counted_out = true;
            break;
        }
    }
    if (session && !counted_out && !failed) {
        // Ended by SIGINT/SIGTERM, or by the producer: a last report, for the time since the
        // previous one, whose losses include the events each ring attempted and this reader
        // did not read (dropped after its last read). The events attempted before a stop are
        // read first, if the rings still hold them.
        for (size_t i = 0; i < spans.size(); ++i) {
            if (ended[i]) continue;
            const RingReader& reader = *session->readers()[i];
            const uint64_t stop_seq = reader.Info().seq;
            size_t work = 1;
            while (!ended[i] && work != 0 && reader.next_seq().value_or(0) < stop_seq) {
                work = 0;
                consume(i, POLL_BATCH, work);
            }
            if (!ended[i]) ended[i] = stop_seq;
        }
        auto after = sample();
        if (after) {
            const auto now = Clock::now();
            const double dt = std::max(std::chrono::duration<double>(now - last).count(), 1e-9);
            const double t = std::chrono::duration<double>(now - start).count();
            for (size_t i = 0; i < after->size() && i < before->size(); ++i) {
                const RingTail tail = TailOf(*session->readers()[i], spans[i], *ended[i]);
                (*after)[i].lost += tail.lost;
                AppendStatsLine(out, options.json, true, t, dt, (*after)[i], (*before)[i]);
            }
            if (!WriteOut(io, out, true)) {
                return Fail(io, EXIT_UNAVAILABLE, "cannot write the output");
            }
        }
    }
    if (!note.empty()) std::fprintf(io.err, "ringdump: %s\n", note.c_str());
    return code;
}

// --- capture --------------------------------------------------------------------------------

namespace {

//! The name of one entry of the directory `dir_fd` other than "." and "..", or "" if it has
//! none (or cannot be listed; creating the files then reports why).
std::string AnyEntry(int dir_fd)
{
    const int fd = ::dup(dir_fd);
    if (fd < 0) return {};
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
        ::close(fd);
        return {};
    }
    std::string found;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name{entry->d_name};
        if (name != "." && name != "..") {
            found = name;
            break;
        }
    }
    ::closedir(dir);
    return found;
}

//! Opens (and with `create`, creates) the capture's --out directory into `dir`, refusing one
//! that others can change (OpenOutputDirectory). Without `create` (before attaching), a
//! directory that does not exist yet is fine, and one that exists is also refused if it
//! already holds the native capture, or for -capturemessages files if it is not empty: those
//! are written only into folders this capture creates. What appears in it later (only its
//! owner can add anything) is refused by the exclusive creates (CreateFileAt,
//! CreateDirectoryAt).
int OpenOut(const CaptureOptions& options, bool create, const Io& io, Fd& dir)
{
    auto opened = OpenOutputDirectory(options.out_dir, create);
    if (!opened) {
        const Error& e = opened.error();
        if (!create && e.code() == ErrorCode::NotFound) return EXIT_OK;
        return Fail(io, e.code() == ErrorCode::InvalidArgument ? EXIT_USAGE : EXIT_UNAVAILABLE,
                    "--out " + e.message());
    }
    dir = std::move(opened.value());
    if (create) return EXIT_OK;
    struct stat st;
    if (options.native && ::fstatat(dir.get(), CAPTURE_FILE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        return Fail(io, EXIT_USAGE,
                    (options.out_dir / CAPTURE_FILE_NAME).string() +
                        " already exists; choose another --out directory or move the earlier "
                        "capture away");
    }
    if (options.capture_messages) {
        if (const std::string entry = AnyEntry(dir.get()); !entry.empty()) {
            return Fail(io, EXIT_USAGE,
                        "--out " + options.out_dir.string() + " already holds '" + entry +
                            "', and --format capturemessage writes only into folders it "
                            "creates (never appending to an earlier capture's files or to "
                            "files planted there); give a new or empty directory");
        }
    }
    return EXIT_OK;
}

} // namespace

int Capture(const CaptureOptions& options, const Io& io)
{
    if (options.out_dir.empty()) return Fail(io, EXIT_USAGE, "--out DIR is required");
    if (!options.native && !options.capture_messages) {
        return Fail(io, EXIT_USAGE, "--format native or --format capturemessage is required");
    }
    if (options.capture_messages && options.payload_limit) {
        return Fail(io, EXIT_USAGE,
                    "--payload-limit cannot be used with --format capturemessage: Bitcoin "
                    "Core's message capture files hold whole payloads only");
    }
    if (options.duration_s < 0) return Fail(io, EXIT_USAGE, "--duration must not be negative");
    // Message files need only the two message events; a native capture takes everything.
    const Selection defaults = options.native
                                   ? Selection{AllRings(), {}}
                                   : Selection{{}, {"net:inbound_message", "net:outbound_message"}};
    auto requests = MakeRequests(options.selection, defaults,
                                 {.lossless = options.lossless,
                                  .lossless_wait_ms = options.lossless_wait_ms,
                                  .payload_limit = options.payload_limit});
    if (!requests) return Fail(io, EXIT_USAGE, requests.error().message());
    if (options.capture_messages) {
        const bool has_messages =
            std::any_of(requests->begin(), requests->end(), [](const auto& r) {
                return r.ring == "net" && (r.events.empty() ||
                                           std::find(r.events.begin(), r.events.end(),
                                                     "inbound_message") != r.events.end() ||
                                           std::find(r.events.begin(), r.events.end(),
                                                     "outbound_message") != r.events.end());
            });
        if (!has_messages) {
            return Fail(io, EXIT_USAGE,
                        "--format capturemessage writes net:inbound_message and "
                        "net:outbound_message events, and the selection has neither");
        }
    }
    const std::filesystem::path native_path = options.out_dir / CAPTURE_FILE_NAME;
    // An --out that exists is checked before attaching, so a refusal costs the producer
    // nothing; it is created (and checked again) only once attached.
    Fd out_dir;
    if (int code = OpenOut(options, /*create=*/false, io, out_dir); code != EXIT_OK) return code;
    std::unique_ptr<ControlClient> client;
    if (int code = ConnectTo(options.control, io, client); code != EXIT_OK) return code;
    std::unique_ptr<Session> session;
    if (int code = AttachTo(*client, *requests, io, session); code != EXIT_OK) return code;
    // The capture keeps the producer's schema, so it reads back with every field it wrote.
    int schema_code = EXIT_OK;
    auto schema = ProducerSchema(*session, io, schema_code);
    if (!schema) return schema_code;

    if (int code = OpenOut(options, /*create=*/true, io, out_dir); code != EXIT_OK) return code;
    const SegmentInfo& segment = session->consumer().info();
    std::vector<std::string> rings;
    for (const auto& reader : session->readers()) {
        rings.push_back(reader->name());
    }
    ClockTracker clock{UnixClockOffsetNow};
    std::unique_ptr<CaptureWriter> native;
    if (options.native) {
        CaptureHeader header;
        header.abi_version = segment.abi_version;
        header.schema_hash = segment.schema_hash;
        header.clock_offset_ns = clock.offset();
        header.producer_pid = segment.producer_pid;
        header.start_unix_ns = UnixNowNs();
        header.segment_name = segment.name;
        header.rings = rings;
        for (const auto& reader : session->readers()) {
            header.first_seq.push_back(reader->next_seq().value_or(UNKNOWN_SEQ));
        }
        header.events = schema->events();
        header.schema.assign(schema->bytes().begin(), schema->bytes().end());
        auto created = CaptureWriter::Create(out_dir.get(), CAPTURE_FILE_NAME, native_path, header);
        if (!created) {
            return Fail(io,
                        created.error().code() == ErrorCode::AlreadyExists ? EXIT_USAGE
                                                                           : EXIT_UNAVAILABLE,
                        created.error().message());
        }
        native = std::move(created.value());
    }
    std::optional<MessageCapture> messages;
    if (options.capture_messages) messages.emplace(out_dir.get(), options.out_dir, clock.offset());

    std::string failure;
    // Measures the clock offset again once a second (ClockTracker), and passes a stepped one
    // on to the files before the events that follow.
    const auto update_clock = [&] {
        if (!clock.Update()) return true;
        if (native) {
            if (auto ok = native->WriteClock(clock.offset()); !ok) {
                failure = ok.error().message();
                return false;
            }
        }
        if (messages) messages->SetClockOffset(clock.offset());
        return true;
    };
    // Records since the clock was last looked at: reading the time per record would cost
    // more than writing it, so it is looked at every CLOCK_CHECK_EVERY records and whenever
    // the rings are empty.
    size_t since_clock_check = 0;
    const auto take = [&](size_t ring, const Record& record) {
        if (++since_clock_check >= CLOCK_CHECK_EVERY) {
            since_clock_check = 0;
            if (!update_clock()) return Take::Abort;
        }
        if (native) {
            if (auto ok = native->Write(uint8_t(ring), record); !ok) {
                failure = ok.error().message();
                return Take::Abort;
            }
        }
        if (messages) {
            if (auto ok = messages->Add(record); !ok) {
                failure = ok.error().message();
                return Take::Abort;
            }
        }
        return Take::Counted;
    };
    std::optional<Clock::time_point> deadline;
    if (options.duration_s > 0) {
        deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.duration_s));
    }
    // While the rings are empty, what was captured goes to the files: a capture killed later
    // still holds it.
    const auto idle = [&] {
        since_clock_check = 0;
        if (!update_clock()) return false;
        if (native) {
            if (auto ok = native->Flush(); !ok) {
                failure = ok.error().message();
                return false;
            }
        }
        if (messages) {
            if (auto ok = messages->Flush(); !ok) {
                failure = ok.error().message();
                return false;
            }
        }
        return true;
    };
    const PumpEnd end = Pump(*session, io, options.count, deadline, take, idle);

    // Complete files whatever ended the capture.
    uint64_t delivered = 0, lost = 0;
    const std::string totals = Totals(*session, end.tails, delivered, lost);
    if (native) {
        // The events lost after the last one read, so the file accounts for every seq.
        for (size_t i = 0; i < end.tails.size(); ++i) {
            const RingTail& tail = end.tails[i];
            if (tail.lost == 0 && tail.skipped == 0) continue;
            if (auto ok = native->WriteGap(uint8_t(i), tail.lost, tail.skipped, tail.next_seq);
                !ok && failure.empty()) {
                failure = ok.error().message();
            }
        }
        if (auto ok = native->Finish(UnixNowNs()); !ok && failure.empty()) {
            failure = ok.error().message();
        }
        std::fprintf(io.err, "ringdump: wrote %s (%" PRIu64 " bytes)\n", native_path.c_str(),
                     native->bytes_written());
    }
    if (messages) {
        if (auto ok = messages->Close(); !ok && failure.empty()) failure = ok.error().message();
        const MessageCapture::Counts& c = messages->counts();
        std::fprintf(io.err,
                     "ringdump: wrote %" PRIu64 " received and %" PRIu64
                     " sent messages of %zu peer(s) under %s\n",
                     c.received, c.sent, messages->peers(), options.out_dir.c_str());
        if (c.truncated) {
            std::fprintf(io.err,
                         "ringdump: %" PRIu64 " messages arrived truncated (another payload "
                         "limit) and were left out of the message capture\n",
                         c.truncated);
        }
        if (c.unwritable) {
            std::fprintf(io.err,
                         "ringdump: %" PRIu64 " messages could not be written in the message "
                         "capture format (type over 12 bytes, payload over 4 GiB, or invalid)\n",
                         c.unwritable);
        }
    }
    if (!end.note.empty()) std::fprintf(io.err, "ringdump: %s\n", end.note.c_str());
    std::fprintf(io.err, "ringdump: %" PRIu64 " events delivered, %" PRIu64 " lost (%s)\n",
                 delivered, lost, totals.c_str());
    if (!failure.empty()) return Fail(io, EXIT_UNAVAILABLE, failure);
    return end.code;
}

// --- read -----------------------------------------------------------------------------------

int Read(const ReadOptions& options, const Io& io)
{
    if (options.file.empty()) return Fail(io, EXIT_USAGE, "read needs a capture FILE");
    auto reader = CaptureReader::Open(options.file);
    if (!reader) {
        const Error& e = reader.error();
        return Fail(io,
                    e.code() == ErrorCode::Corrupt           ? EXIT_CORRUPT
                    : e.code() == ErrorCode::VersionMismatch ? EXIT_MISMATCH
                                                             : EXIT_UNAVAILABLE,
                    e.message());
    }
    const CaptureHeader& header = (*reader)->header();
    // The capture's own schema: it prints the fields the producer wrote, whatever this
    // ringdump was built with.
    auto schema = EventSchema::Load_untrusted(header.schema, header.events);
    if (!schema) {
        return Fail(io, EXIT_CORRUPT, options.file.string() + ": " + schema.error().message());
    }
    EventFormatter format{*schema, options.json ? Style::Json : Style::Text,
                          header.clock_offset_ns};
    std::string out;
    uint8_t ring = 0;
    Record record;
    while (!Stopped(io)) {
        auto next = (*reader)->Next(ring, record);
        if (!next) {
            WriteOut(io, out, true);
            return Fail(io, EXIT_CORRUPT, next.error().message());
        }
        if (next.value() == CaptureItem::End) break;
        format.SetClockOffset((*reader)->clock_offset_ns());
        const std::string& name = header.rings[ring];
        if (next.value() == CaptureItem::Gap) {
            if (record.lost_before) format.AppendLoss(out, name, record.lost_before, record.seq);
            continue;
        }
        if (record.lost_before) format.AppendLoss(out, name, record.lost_before, record.seq);
        auto table = format.Decode(record);
        if (!table) {
            WriteOut(io, out, true);
            return Fail(io, EXIT_CORRUPT,
                        options.file.string() + ": ring '" + name +
                            "': " + table.error().message());
        }
        if (auto shown = format.AppendEvent(out, name, record, *table); !shown) {
            WriteOut(io, out, true);
            return Fail(io, EXIT_CORRUPT,
                        options.file.string() + ": ring '" + name +
                            "': " + shown.error().message());
        }
        if (out.size() >= OUTPUT_CHUNK && !WriteOut(io, out, false)) {
            return Fail(io, EXIT_UNAVAILABLE, "cannot write the output");
        }
    }
    if (!WriteOut(io, out, true)) return Fail(io, EXIT_UNAVAILABLE, "cannot write the output");
    if (!Stopped(io) && !(*reader)->complete()) {
        // Every event it holds was printed and checked; the user learns it is not all.
        return Fail(io, EXIT_CUT_SHORT, (*reader)->cut_short());
    }
    return EXIT_OK;
}

} // namespace tracering::ringdump
