// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_H
#define TRACERING_PRODUCER_H

//! @file
//! The embedder's API: create the segment, let consumers enable rings, write events.
//! Standard and tracering headers only, so every node file that traces stays cheap to build.
//!
//! Typical use in a node:
//!
//!     tracering::ProducerOptions opts;
//!     opts.name = "bitcoind-regtest";
//!     auto producer = tracering::Producer::Create(opts);
//!     if (!producer) LogPrintf("tracing disabled: %s\n", producer.error().message());
//!     ...
//!     TRACERING_TRACEPOINT(net, inbound_message, id, addr, type, msg, size, data);
//!
//! Rings are off until a consumer attaches (through the control socket, or EnableRing()).

#include <tracering/abi.h>
#include <tracering/events.h>
#include <tracering/result.h>
#include <tracering/ring_stats.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace tracering {

//! Default data bytes per ring, indexed by Subsystem. `net` holds 8 whole 4 MB block
//! messages' worth of room (a record may use capacity/8 = 4 MiB); `utxocache` is the
//! busiest during IBD.
inline constexpr std::array<uint64_t, SUBSYSTEM_COUNT> DEFAULT_RING_CAPACITIES{
    uint64_t{32} << 20, // net
    uint64_t{4} << 20,  // mempool
    uint64_t{16} << 20, // utxocache
    uint64_t{1} << 20,  // validation
    uint64_t{1} << 20,  // coin_selection
};

//! Who may map the segment besides the producer's own user.
enum class GroupAccess {
    None, //!< 0600 on both objects (the default)
    Read, //!< main object 0640, cursors 0660: group members can attach and read
};

//! Where record timestamps come from. Either way they are CLOCK_MONOTONIC nanoseconds.
enum class ClockSource {
    Auto,      //!< the TSC where the kernel itself uses it as its clock source, else Monotonic
    Monotonic, //!< clock_gettime(CLOCK_MONOTONIC) for every event (about 25 ns)
    Tsc,       //!< the TSC, calibrated against CLOCK_MONOTONIC (about 8 ns); falls back to
               //!< Monotonic where the TSC is not usable
};

struct ProducerOptions {
    //! Segment name: the objects are "tracering.<name>" and "tracering.<name>.cursors".
    //! 1-48 characters from [A-Za-z0-9._-].
    std::string name;
    //! Data bytes per ring (powers of two, 4 KiB..4 GiB), indexed by Subsystem.
    std::array<uint64_t, SUBSYSTEM_COUNT> capacities{DEFAULT_RING_CAPACITIES};
    GroupAccess group_access{GroupAccess::None};
    //! Group id given to the objects when group_access is not None; -1 keeps the user's.
    int64_t group_id{-1};
    //! Replace a segment of the same name whose producer is gone (it crashed).
    bool replace_stale{true};
    //! Route TRACERING_TRACEPOINT and the tracering::bitcoin emit functions to this producer.
    //! Only one producer per process can be installed.
    bool install_global{true};
    //! Unix socket path on which to serve the control plane (schemas/control.capnp) from a
    //! thread of the producer's own, so unprivileged consumers can find and attach rings.
    //! Mode 0600, or 0660 and the group with group access (connecting needs write
    //! permission). Empty: no control socket (rings are then enabled only through
    //! EnableRing). In bitcoind it sits beside node.sock: <network datadir>/tracering.sock.
    std::string control_socket;
    ClockSource clock{ClockSource::Auto};
};

//! What a reader asked for when a ring is enabled.
struct EnableOptions {
    //! Bit i enables event type RingFirstType(ring) + i; all events by default.
    uint64_t event_mask{~uint64_t{0}};
    //! Wait (bounded by lossless_wait_ns) for room instead of dropping. For tests and
    //! captures that must be complete; it slows the node while the reader lags. After a
    //! wait times out, events are dropped (as dropped_timeout) without waiting until the
    //! reader reads again, so a stopped reader costs the node one wait, not one per event.
    bool lossless{false};
    uint64_t lossless_wait_ns{100'000'000};
    //! Cut message payloads to this many bytes (flagging the record, keeping the size);
    //! 0 = whole payloads, and records over capacity/8 are dropped and counted.
    uint64_t payload_limit{0};
    //! The reader's pid, shown to users and to a second reader that is refused.
    uint64_t reader_pid{0};
};

namespace detail {
class RingWriter;
} // namespace detail

//! Owns a segment: creates the two shared-memory objects, writes events into its rings,
//! and unlinks the objects when destroyed.
//!
//! Thread safety: Write*/emit functions may be called from any thread concurrently (writers
//! of one ring are serialised by a process-local lock). EnableRing/DisableRing/Stats may be
//! called from any thread. The Producer must outlive every thread that may still trace.
class Producer
{
public:
    //! Creates the segment. Fails with AlreadyExists if a live producer owns the name.
    static Result<std::unique_ptr<Producer>> Create(const ProducerOptions& options);

    //! Stops every ring without discarding its records, marks the segment Exited (a reader
    //! still drains what was written, then is told the producer exited), closes the control
    //! sessions and unlinks both objects.
    ~Producer();
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;
    Producer(Producer&&) = delete;
    Producer& operator=(Producer&&) = delete;

    //! Starts (or restarts) a ring for a reader: resets the reader's cursor to the current
    //! write position, bumps the ring's generation, applies `options` and turns on the
    //! selected tracepoints. Events before this call are not the new reader's loss.
    Result<void> EnableRing(Subsystem ring, const EnableOptions& options);
    //! Turns the ring's tracepoints off and voids the reader's position (generation bump).
    void DisableRing(Subsystem ring);
    RingStats Stats(Subsystem ring) const;

    //! Writes one record of an embedder-defined type (>= EventType::UserFirst) or a raw
    //! payload of a known type, if the ring is enabled. Returns false if it was not written
    //! (ring off, or dropped and counted). Never blocks (except lossless), never throws.
    bool WriteRaw(Subsystem ring, uint16_t type, const void* payload, uint32_t size) noexcept;

    const std::string& Name() const noexcept;
    //! The control socket path, or "" when the producer serves none.
    std::string ControlSocket() const;
    //! The shared-memory object names, e.g. "tracering.node" and "tracering.node.cursors".
    std::string SegmentObjectName() const;
    std::string CursorsObjectName() const;

    //! The producer installed for TRACERING_TRACEPOINT, or nullptr.
    static Producer* Global() noexcept;

private:
    Producer();
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

//! "tracering.<name>", the main object's name for a segment name.
std::string SegmentObjectName(const std::string& name);
//! "tracering.<name>.cursors".
std::string CursorsObjectName(const std::string& name);
//! Checks a segment name; the error says which character or length is wrong.
Result<void> ValidateSegmentName(const std::string& name);

//! The ProducerOptions::group_id for an operator's group option (a tool's --group): `group` is
//! a group name, or the numeric id of a group that exists. Fails with a message naming the
//! group when there is no such group (NotFound), or when this process may not give its files
//! that group (PermissionDenied: it is not root, and the group is neither its group nor one of
//! its supplementary groups), so that a bad option is refused before anything is created.
Result<int64_t> ResolveGroup(const std::string& group);

} // namespace tracering

#endif // TRACERING_PRODUCER_H
