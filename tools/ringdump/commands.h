// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RINGDUMP_COMMANDS_H
#define TRACERING_RINGDUMP_COMMANDS_H

//! @file
//! ringdump's commands, on the public consumer API (ControlClient, Session, RingReader).
//! main.cpp turns argv into these options; tests may call the commands directly. Each
//! returns an exit code and writes errors, prefixed "ringdump: ", to Io::err. Each is defined
//! in the file of its name (list.cpp, ...), on what command_support.h shares between them.

#include <tracering/control.h>
#include <tracering/result.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tracering::ringdump {

//! Exit codes of every command.
inline constexpr int EXIT_OK = 0;
inline constexpr int EXIT_USAGE = 1;       //!< bad command line
inline constexpr int EXIT_UNAVAILABLE = 2; //!< cannot connect, attach, open or write
inline constexpr int EXIT_MISMATCH = 3;    //!< ABI or capture format version mismatch
inline constexpr int EXIT_CORRUPT = 4;     //!< corrupt data in a ring or a capture file
//! The producer detached a reader (a slow reader evicted, an invalid cursor, the lease
//! ended): what was read is printed, and what the ring attempted since is counted as lost.
inline constexpr int EXIT_DETACHED = 5;
//! read: a capture file without its end record (killed, a full disk); every event in it
//! was printed and checked, what came after is missing.
inline constexpr int EXIT_CUT_SHORT = 6;

struct Io {
    std::FILE* out{stdout};
    std::FILE* err{stderr};
    //! Set (by cli::StopOnSignals, say) to end a running command cleanly: it flushes
    //! what it read, finishes its files and returns EXIT_OK.
    const std::atomic<bool>* stop{nullptr};
};

//! Which rings and events to attach. `--ring R` takes every event of R, unless `--event`
//! names some of R's events; events are "ring:event" or a bare event name.
struct Selection {
    std::vector<std::string> rings;
    std::vector<std::string> events;
};

//! Attach requests for a selection (`defaults` when it is empty), or InvalidArgument naming
//! the unknown ring or event and listing the known ones.
Result<std::vector<RingRequest>> MakeRequests(const Selection& selection, const Selection& defaults,
                                              const RingRequest& options);

struct ListOptions {
    std::string control;
    bool json{false};
};

struct WatchOptions {
    std::string control;
    Selection selection;
    uint64_t count{0}; //!< stop after this many events; 0: until stopped
    bool lossless{false};
    uint32_t lossless_wait_ms{DEFAULT_LOSSLESS_WAIT_MS};
    uint64_t payload_limit{0};
    bool json{false};
    std::optional<int64_t> peer; //!< only events whose peer_id is this (net events)
};

struct StatsOptions {
    std::string control;
    std::vector<std::string> rings;
    double interval_s{1.0};
    uint64_t count{0}; //!< stop after this many intervals; 0: until stopped
    bool no_attach{false};
    bool json{false};
};

struct CaptureOptions {
    std::string control;
    std::filesystem::path out_dir;
    bool native{false};
    bool capture_messages{false};
    Selection selection;
    bool lossless{false};
    uint32_t lossless_wait_ms{DEFAULT_LOSSLESS_WAIT_MS};
    uint64_t payload_limit{0};
    uint64_t count{0};    //!< stop after this many events; 0: no limit
    double duration_s{0}; //!< stop after this long; 0: no limit
};

struct ReadOptions {
    std::filesystem::path file;
    bool json{false};
};

//! Rings with their state, reader and counters, without attaching.
int List(const ListOptions& options, const Io& io);
//! Attaches and prints events, one line each, with a line for every gap.
int Watch(const WatchOptions& options, const Io& io);
//! Live rates and drops per ring, attached (consuming) or from the producer's counters.
int Stats(const StatsOptions& options, const Io& io);
//! Writes a native capture file and/or Bitcoin Core's -capturemessages files.
int Capture(const CaptureOptions& options, const Io& io);
//! Prints a native capture file exactly as watch printed its events.
int Read(const ReadOptions& options, const Io& io);

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_COMMANDS_H
