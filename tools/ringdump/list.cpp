// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! @file
//! ringdump list: the rings with their state, readers and counters, without attaching (List()).

#include <cinttypes>
#include <cstdio>

#include "command_support.h"
#include "commands.h"

namespace tracering::ringdump {

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

} // namespace tracering::ringdump
