// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! ringdump: list, watch, measure and capture a tracering producer's events. This file only
//! turns argv into options; each command has a file of its own (list.cpp, watch.cpp,
//! stats.cpp, capture.cpp, read.cpp), declared in commands.h.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.h"
#include "commands.h"

namespace {

using namespace tracering::ringdump;
namespace cli = tracering::cli;

//! Writer: cli::StopOnSignals' handler (SIGINT, SIGTERM, SIGHUP). Reader: the command, which
//! then ends cleanly (Io::stop).
std::atomic<bool> g_stop{false};

constexpr const char* EXIT_CODES =
    "Exit codes:\n"
    "  0  success (also after SIGINT, SIGTERM or SIGHUP ended a command cleanly, or the\n"
    "     producer exited); a second such signal a second or more after the first kills\n"
    "  1  usage: a bad command line, an unknown ring or event, an existing capture file, an\n"
    "     --out directory that others can write or that is not yours (capturemessage: one\n"
    "     that is not empty)\n"
    "  2  cannot connect or attach (no producer at that path, permission denied, a ring\n"
    "     that already has 8 readers), cannot open or write a file or the output, or the\n"
    "     producer died without shutting down (after everything it wrote was read)\n"
    "  3  ABI or capture format version mismatch (schemas may differ)\n"
    "  4  corrupt data in a ring or in a capture file (damaged, or altered: a frame cut\n"
    "     out, added, duplicated or replayed)\n"
    "  5  the producer detached the reader (evicted as a slow reader, or an invalid\n"
    "     cursor): what was read is printed, the events since are counted as lost\n"
    "  6  read: the capture was cut short (no end record: ringdump was killed, or the disk\n"
    "     filled up); every event in it was printed, later ones are missing\n";

constexpr const char* MAIN_HELP =
    "ringdump: read the events of a tracering producer (Bitcoin Core's tracepoints)\n"
    "\n"
    "Usage: ringdump [--control PATH] <command> [options]\n"
    "\n"
    "Commands:\n"
    "  list     rings, their state, reader and counters (does not attach)\n"
    "  watch    attach and print events, one line each (--json: JSON lines)\n"
    "  stats    live events/s, bytes/s, losses and drops per ring\n"
    "  capture  write a native capture file, or Bitcoin Core's -capturemessages files\n"
    "  read     print a native capture file as watch prints events\n"
    "\n"
    "Every command but read takes --control PATH, the producer's control socket, before or\n"
    "after the command name.\n"
    "Run 'ringdump <command> --help' for its options.\n"
    "\n";

constexpr const char* LIST_HELP =
    "Usage: ringdump list --control PATH [--json]\n"
    "\n"
    "Shows every ring of the producer: on/off, the reader's pid, its backlog (unread) and\n"
    "the time since it last read (idle; a large idle with a backlog means the reader is\n"
    "stopped), capacity, events attempted (seq), drops by cause (full, too big, reader\n"
    "reset, lossless wait timeout), cursor violations, truncated payloads, and the ring's\n"
    "events; and the clock of every ring's timestamps: the TSC (its frequency, the largest\n"
    "error against CLOCK_MONOTONIC measured and the bound) or CLOCK_MONOTONIC, and why (a\n"
    "fallback from the TSC, with its reason). Does not attach; reads the clock from the\n"
    "segment, mapped read-only.\n"
    "\n"
    "  --control PATH   the producer's control socket\n"
    "  --json           one JSON object per ring\n"
    "\n";

constexpr const char* WATCH_HELP =
    "Usage: ringdump watch --control PATH [--ring R]... [--event E]... [--count N]\n"
    "                      [--lossless] [--lossless-wait MS] [--payload-limit BYTES]\n"
    "                      [--json] [--peer ID]\n"
    "\n"
    "Attaches and prints one line per event, and a line for every gap in a ring's sequence\n"
    "numbers, also for events dropped after the last one read: nothing is lost silently.\n"
    "SIGINT, SIGTERM or SIGHUP ends it after the events written before it were printed and\n"
    "the output flushed; a summary of events delivered and lost per ring goes to stderr.\n"
    "\n"
    "  --control PATH        the producer's control socket\n"
    "  --ring R              attach ring R (net, mempool, utxocache, validation,\n"
    "                        coin_selection); default: every ring\n"
    "  --event E             only these events, as ring:event or a bare event name\n"
    "                        (e.g. net:inbound_message, flush); --ring R takes all of R's\n"
    "                        events unless --event names some of them\n"
    "  --count N             stop after N events\n"
    "  --lossless            the producer waits for ringdump instead of dropping events\n"
    "                        (slows the producer; for tests and complete captures)\n"
    "  --lossless-wait MS    longest such wait per event, 0-10000 ms (default 100)\n"
    "  --payload-limit BYTES cut message payloads to BYTES (marked \"truncated\"); the\n"
    "                        ring cuts to the largest limit its readers asked for\n"
    "  --json                JSON lines: ring, event, seq, ts_ns (monotonic ns), unix_ns,\n"
    "                        then every field by its schema name; hashes in display\n"
    "                        (reversed) hex, payloads in hex, enums by name; and\n"
    "                        {\"lost\":N,\"ring\":R,\"before_seq\":S} where events are missing\n"
    "  --peer ID             only events of peer ID, those with a peer_id field (net\n"
    "                        events; attaches the net ring by default, and refuses a\n"
    "                        selection without such events)\n"
    "\n";

constexpr const char* STATS_HELP =
    "Usage: ringdump stats --control PATH [--interval S] [--ring R]... [--count K]\n"
    "                      [--no-attach] [--json]\n"
    "\n"
    "Every interval, per ring: events/s, bytes/s, events delivered and lost (gaps), and the\n"
    "producer's drops by cause. Attaches the rings and consumes their events; ended by\n"
    "SIGINT, SIGTERM, SIGHUP or the producer, a last report counts the events dropped after\n"
    "the last one read as lost too.\n"
    "\n"
    "  --control PATH   the producer's control socket\n"
    "  --interval S     seconds between reports (default 1; fractions allowed)\n"
    "  --ring R         only ring R (repeatable); default: every ring\n"
    "  --count K        stop after K reports\n"
    "  --no-attach      do not attach: watch the producer's counters of rings someone else\n"
    "                   reads (events/s from seq, bytes/s from the write position)\n"
    "  --json           one JSON object per ring and report\n"
    "\n";

constexpr const char* CAPTURE_HELP =
    "Usage: ringdump capture --control PATH --out DIR --format native|capturemessage\n"
    "                        [--lossless] [--lossless-wait MS] [--count N | --duration S]\n"
    "                        [--ring R]... [--event E]... [--payload-limit BYTES]\n"
    "\n"
    "Attaches and writes the events under DIR until N events, S seconds, SIGINT, SIGTERM or\n"
    "SIGHUP; the files are complete whatever ends it.\n"
    "\n"
    "  --format native          DIR/capture.trcap: every record with its ring, sequence\n"
    "                           number, timestamp and payload, and the schema to print it;\n"
    "                           'ringdump read' prints it as watch would. Default: every ring\n"
    "  --format capturemessage  Bitcoin Core's -capturemessages layout from the\n"
    "                           net:inbound_message and net:outbound_message events:\n"
    "                           DIR/<addr, ':' replaced by '_'>/msgs_recv.dat and\n"
    "                           msgs_sent.dat, into a new or empty DIR (never appended\n"
    "                           to existing files). Refuses --payload-limit\n"
    "                           Both formats may be given (repeat --format, or a,b).\n"
    "  --out DIR                the output directory (created 0700 if needed); it must be\n"
    "                           yours and writable by nobody else (mode & 022 == 0)\n"
    "  --lossless               the producer waits for ringdump instead of dropping\n"
    "  --lossless-wait MS       longest such wait per event, 0-10000 ms (default 100)\n"
    "  --count N                stop after N events\n"
    "  --duration S             stop after S seconds\n"
    "  --ring R, --event E      what to capture, as for watch\n"
    "  --payload-limit BYTES    cut message payloads (native only)\n"
    "\n";

constexpr const char* READ_HELP =
    "Usage: ringdump read FILE [--json]\n"
    "\n"
    "Prints a native capture file (from 'ringdump capture --format native') exactly as\n"
    "watch prints events, using the schema stored in the file. Every length and checksum\n"
    "is checked, and per ring that the sequence numbers, losses and the end record's\n"
    "totals account for every event: a damaged file, or one with a frame cut out, added,\n"
    "duplicated or replayed, is an error (exit code 4) after the events before the damage\n"
    "were printed. A capture cut short (no end record) prints every event it holds, then\n"
    "says so (exit code 6).\n"
    "\n"
    "  --json   JSON lines, as watch --json\n"
    "\n";

int Usage(std::string_view command, const std::string& message)
{
    return cli::Usage("ringdump", command, message);
}

int Help(const char* text) { return cli::Help(text, EXIT_CODES); }

bool LosslessWait(cli::Args& a, uint32_t& out)
{
    // The help text above says 0-10000 and 100.
    static_assert(tracering::MAX_LOSSLESS_WAIT_MS == 10'000 &&
                  tracering::DEFAULT_LOSSLESS_WAIT_MS == 100);
    uint64_t ms = 0;
    if (!a.U64(ms)) return false;
    if (ms > tracering::MAX_LOSSLESS_WAIT_MS) {
        return a.Fail("--lossless-wait must be 0 to 10000 ms (the producer's limit), not " +
                      std::to_string(ms));
    }
    out = uint32_t(ms);
    return true;
}

//! The options watch and capture share (WatchOptions, CaptureOptions): where to attach, what
//! to select and how to be delivered. True if the current argument was one of them.
template <typename Options>
bool AttachOption(cli::Args& a, Options& options, bool& ok)
{
    if (a.Is("--control")) {
        ok = a.SocketPath(options.control);
    } else if (a.Is("--ring")) {
        ok = a.Append(options.selection.rings);
    } else if (a.Is("--event")) {
        ok = a.Append(options.selection.events);
    } else if (a.Is("--lossless")) {
        ok = a.Switch(options.lossless);
    } else if (a.Is("--lossless-wait")) {
        ok = LosslessWait(a, options.lossless_wait_ms);
    } else if (a.Is("--payload-limit")) {
        ok = a.U64(options.payload_limit);
    } else {
        return false;
    }
    return true;
}

int RunList(cli::Args& a, const Io& io)
{
    ListOptions options;
    while (a.Next()) {
        bool ok = true;
        if (a.IsHelp()) return Help(LIST_HELP);
        if (a.Is("--control")) {
            ok = a.SocketPath(options.control);
        } else if (a.Is("--json")) {
            ok = a.Switch(options.json);
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (options.control.empty()) return a.Usage("--control PATH is required");
    return List(options, io);
}

int RunWatch(cli::Args& a, const Io& io)
{
    WatchOptions options;
    while (a.Next()) {
        bool ok = true;
        if (a.IsHelp()) return Help(WATCH_HELP);
        if (AttachOption(a, options, ok)) {
        } else if (a.Is("--count")) {
            ok = a.U64(options.count, 1);
        } else if (a.Is("--json")) {
            ok = a.Switch(options.json);
        } else if (a.Is("--peer")) {
            int64_t peer = 0;
            ok = a.I64(peer);
            if (ok) options.peer = peer;
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (options.control.empty()) return a.Usage("--control PATH is required");
    return Watch(options, io);
}

int RunStats(cli::Args& a, const Io& io)
{
    StatsOptions options;
    while (a.Next()) {
        bool ok = true;
        if (a.IsHelp()) return Help(STATS_HELP);
        if (a.Is("--control")) {
            ok = a.SocketPath(options.control);
        } else if (a.Is("--interval")) {
            ok = a.Seconds(options.interval_s, 0.001);
        } else if (a.Is("--ring")) {
            ok = a.Append(options.rings);
        } else if (a.Is("--count")) {
            ok = a.U64(options.count, 1);
        } else if (a.Is("--no-attach")) {
            ok = a.Switch(options.no_attach);
        } else if (a.Is("--json")) {
            ok = a.Switch(options.json);
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (options.control.empty()) return a.Usage("--control PATH is required");
    return Stats(options, io);
}

//! --format's value: native, capturemessage, or both ("native,capturemessage").
bool Formats(cli::Args& a, CaptureOptions& options)
{
    // Repeatable: "--format native --format capturemessage" as "native,capturemessage".
    std::vector<std::string> values;
    if (!a.Append(values)) return false;
    const std::string& value = values.back();
    for (size_t start = 0; start <= value.size();) {
        const size_t comma = std::min(value.find(',', start), value.size());
        const std::string format = value.substr(start, comma - start);
        if (format == "native") {
            options.native = true;
        } else if (format == "capturemessage" || format == "capturemessages") {
            options.capture_messages = true;
        } else {
            return a.Fail("unknown --format '" + format + "'; use native or capturemessage");
        }
        start = comma + 1;
    }
    return true;
}

int RunCapture(cli::Args& a, const Io& io)
{
    CaptureOptions options;
    while (a.Next()) {
        bool ok = true;
        if (a.IsHelp()) return Help(CAPTURE_HELP);
        if (AttachOption(a, options, ok)) {
        } else if (a.Is("--out")) {
            std::string dir;
            ok = a.NonEmpty(dir, "a directory");
            options.out_dir = dir;
        } else if (a.Is("--format")) {
            ok = Formats(a, options);
        } else if (a.Is("--count")) {
            ok = a.U64(options.count, 1); // so 0 means "no --count"
        } else if (a.Is("--duration")) {
            ok = a.Seconds(options.duration_s);
            if (ok && options.duration_s <= 0) ok = a.Fail("--duration must be positive");
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (options.control.empty()) return a.Usage("--control PATH is required");
    if (options.out_dir.empty()) return a.Usage("--out DIR is required");
    if (!options.native && !options.capture_messages) {
        return a.Usage("--format native or --format capturemessage is required");
    }
    if (options.count != 0 && options.duration_s > 0) {
        return a.Usage("give --count or --duration, not both");
    }
    if (options.capture_messages && options.payload_limit) {
        return a.Usage("--payload-limit cannot be used with --format capturemessage: "
                       "Bitcoin Core's message capture files hold whole payloads only");
    }
    return Capture(options, io);
}

int RunRead(cli::Args& a, const Io& io)
{
    ReadOptions options;
    while (a.Next()) {
        bool ok = true;
        if (a.IsHelp()) return Help(READ_HELP);
        if (a.Is("--json")) {
            ok = a.Switch(options.json);
        } else if (a.IsPositional() && options.file.empty()) {
            options.file = a.arg();
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (options.file.empty()) return a.Usage("read needs a capture FILE");
    return Read(options, io);
}

int Main(int argc, char** argv)
{
    if (argc < 2) {
        std::fputs(MAIN_HELP, stderr);
        std::fputs(EXIT_CODES, stderr);
        return EXIT_USAGE;
    }
    // Options may come before the command too ("ringdump --control PATH list"): each command
    // parses them as its own first options.
    std::vector<std::string> leading;
    int first = 1;
    while (first < argc && std::string_view{argv[first]}.rfind("--control", 0) == 0) {
        leading.emplace_back(argv[first]);
        if (std::string_view{argv[first]} == "--control" && first + 1 < argc) {
            leading.emplace_back(argv[++first]);
        }
        ++first;
    }
    if (first >= argc) return Usage("", "no command given after " + leading.front());
    const std::string command = argv[first];
    if (command == "--help" || command == "-h" || command == "help") return Help(MAIN_HELP);

    cli::StopOnSignals(g_stop);
    const Io io{.out = stdout, .err = stderr, .stop = &g_stop};
    std::vector<std::string> rest(argv + first + 1, argv + argc);
    rest.insert(rest.begin(), leading.begin(), leading.end());
    cli::Args args{"ringdump", command, std::move(rest)};
    if (command == "list") return RunList(args, io);
    if (command == "watch") return RunWatch(args, io);
    if (command == "stats") return RunStats(args, io);
    if (command == "capture") return RunCapture(args, io);
    if (command == "read") return RunRead(args, io);
    return Usage("", "unknown command '" + command + "'");
}

} // namespace

int main(int argc, char** argv) { return cli::Finish("ringdump", Main(argc, argv)); }
