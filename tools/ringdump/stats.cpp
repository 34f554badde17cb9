// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! @file
//! ringdump stats: live rates and drops per ring, attached or from the producer's counters
//! (Stats()).

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "command_support.h"
#include "commands.h"

namespace tracering::ringdump {

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
            RingSample& s = out.emplace_back();
            s.name = r.name;
            s.enabled = r.enabled;
            s.reader_pid = r.reader_pid;
            s.seq = r.seq;
            s.write_pos = r.write_pos;
            s.info = r;
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
    const auto consume = [&](size_t i, size_t batch, size_t& work, double& fill) {
        RingReader& reader = *session->readers()[i];
        auto polled = reader.Poll([](const EventView&) {}, batch);
        if (polled) {
            work += polled.value();
            fill = std::max(fill, reader.TakeReadFill());
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
            double fill = 0;
            bool go_on = true;
            for (size_t i = 0; i < spans.size() && go_on; ++i) {
                go_on = consume(i, POLL_BATCH, work, fill);
            }
            if (!go_on) break;
            backoff.Idle(work, fill);
            if (Clock::now() < next) continue;
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
        // Ended by a stop signal, or by the producer: a last report, for the time since the
        // previous one, whose losses include the events each ring attempted and this reader
        // did not read (dropped after its last read). The events attempted before a stop are
        // read first, if the rings still hold them.
        for (size_t i = 0; i < spans.size(); ++i) {
            if (ended[i]) continue;
            const RingReader& reader = *session->readers()[i];
            const uint64_t stop_seq = reader.Info().seq;
            size_t work = 1;
            double fill = 0;
            while (!ended[i] && work != 0 && reader.next_seq().value_or(0) < stop_seq) {
                work = 0;
                consume(i, POLL_BATCH, work, fill);
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

} // namespace tracering::ringdump
