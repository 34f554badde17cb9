// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "command_support.h"

#include <tracering/events.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace tracering::ringdump {

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

std::string Join(const std::vector<std::string>& items, const char* separator)
{
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += separator;
        out += items[i];
    }
    return out;
}

std::vector<std::string> AllRings() { return {SUBSYSTEM_NAMES.begin(), SUBSYSTEM_NAMES.end()}; }


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

int AttachWithSchema(const std::string& control, const std::vector<RingRequest>& requests,
                     const Io& io, std::unique_ptr<ControlClient>& client,
                     std::unique_ptr<Session>& session, std::optional<EventSchema>& schema)
{
    if (int code = ConnectTo(control, io, client); code != EXIT_OK) return code;
    if (int code = AttachTo(*client, requests, io, session); code != EXIT_OK) return code;
    const std::span<const uint8_t> bytes = session->consumer().schema();
    auto producer_schema = EventSchema::FromProducer_untrusted({bytes.begin(), bytes.end()});
    if (!producer_schema) {
        return Fail(io, EXIT_CORRUPT,
                    "the producer's schema: " + producer_schema.error().message());
    }
    schema = std::move(producer_schema.value());
    return EXIT_OK;
}

bool DetachedByProducer(const RingReader& reader)
{
    const RingInfo info = reader.Info();
    return std::none_of(info.readers.begin(), info.readers.end(),
                        [&](const ReaderInfo& r) { return r.slot == reader.slot(); });
}

Span SpanOf(const RingReader& reader) { return {reader.next_seq(), reader.stats().skipped}; }

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

namespace {

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

} // namespace

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
        double fill = 0;
        bool go_on = true;
        for (size_t i = 0; i < readers.size() && go_on; ++i) {
            size_t polled = 0;
            go_on = poll(i, polled);
            work += polled;
            fill = std::max(fill, readers[i]->TakeReadFill());
        }
        if (!go_on) break;
        if (work == 0 && !idle()) {
            end.aborted = true;
            break;
        }
        backoff.Idle(work, fill);
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

std::string Seconds(uint64_t ns)
{
    const double seconds = double(ns) / 1e9;
    char text[32];
    std::snprintf(text, sizeof(text), seconds < 10 ? "%.1fs" : "%.0fs", seconds);
    return text;
}


Result<ClockStatus> ReadClock(const std::string& segment_name)
{
    auto consumer = Consumer::Open(segment_name);
    if (!consumer) return consumer.error();
    return (*consumer)->Clock();
}

namespace {

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
    case ClockReason::NotSynchronised:
        return "not_synchronised";
    }
    return "unknown";
}

} // namespace

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

} // namespace tracering::ringdump
