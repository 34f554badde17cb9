// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! @file
//! ringdump capture: native capture files and -capturemessages folders (Capture()).

#include <cinttypes>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "capture_file.h"
#include "clock_tracker.h"
#include "command_support.h"
#include "commands.h"
#include "message_capture.h"
#include <sys/stat.h>

namespace tracering::ringdump {

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
    // The capture keeps the producer's schema, so it reads back with every field it wrote.
    std::unique_ptr<ControlClient> client;
    std::unique_ptr<Session> session;
    std::optional<EventSchema> schema;
    if (int code = AttachWithSchema(options.control, *requests, io, client, session, schema);
        code != EXIT_OK) {
        return code;
    }

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
        if (failure.empty()) {
            std::fprintf(io.err, "ringdump: wrote %s (%" PRIu64 " bytes)\n", native_path.c_str(),
                         native->bytes_written());
        } else {
            // Only what reached the file: events gathered after the last write that
            // succeeded are not in it, and it has no end frame.
            std::fprintf(io.err,
                         "ringdump: %s is cut short: it holds the first %" PRIu64
                         " events (%" PRIu64 " bytes); 'ringdump read' reads them\n",
                         native_path.c_str(), native->events_written(), native->bytes_written());
        }
    }
    if (messages) {
        if (auto ok = messages->Close(); !ok && failure.empty()) failure = ok.error().message();
        const MessageCapture::Counts& c = messages->counts();
        std::fprintf(io.err,
                     "ringdump: %s %" PRIu64 " received and %" PRIu64
                     " sent messages of %zu peer(s) under %s\n",
                     failure.empty() ? "wrote" : "stopped at the error below; wrote at most",
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

} // namespace tracering::ringdump
