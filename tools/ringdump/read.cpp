// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! @file
//! ringdump read: prints a native capture file as watch printed its events (Read()).

#include <cinttypes>
#include <cstdio>

#include "capture_file.h"
#include "command_support.h"
#include "commands.h"

namespace tracering::ringdump {

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
