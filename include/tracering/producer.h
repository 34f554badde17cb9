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
//! Rings are off until a consumer attaches (through the control socket, or Attach()).

#include <tracering/abi.h>
#include <tracering/events.h>
#include <tracering/result.h>
#include <tracering/ring_stats.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

//! Default for ProducerOptions::control_call_deadline_ms.
inline constexpr uint32_t DEFAULT_CONTROL_CALL_DEADLINE_MS = 2'000;
//! Default for ProducerOptions::control_idle_ms.
inline constexpr uint32_t DEFAULT_CONTROL_IDLE_MS = 60'000;
//! Default for ProducerOptions::control_max_per_uid.
inline constexpr uint32_t DEFAULT_CONTROL_MAX_PER_UID = 16;
//! Control connections the producer serves at once, from all users together.
inline constexpr uint32_t MAX_CONTROL_CONNECTIONS = 64;

//! Who may map the segment besides the producer's own user.
enum class GroupAccess {
    None, //!< the segment 0400 and the control socket 0600 (the default)
    Read, //!< the segment 0440 and the control socket 0660: group members can attach and read
};

//! Where record timestamps come from. Either way they are CLOCK_MONOTONIC nanoseconds.
enum class ClockSource {
    //! The TSC where it can be trusted: x86-64 Linux, a CPU that reports an invariant TSC,
    //! and a TSC within TSC_SYNC_BOUND_NS of the calibrated line on every CPU the process may
    //! run on, measured at start (whichever clocksource the kernel uses, `tsc` or
    //! `kvm-clock`, and whether it lists `tsc` at all). Else Monotonic, with the reason in the
    //! segment header (SegmentHeader::clock_reason). A TSC that strays from CLOCK_MONOTONIC
    //! later, or that a kernel which listed it drops, is abandoned for Monotonic the same way.
    Auto,
    Monotonic, //!< clock_gettime(CLOCK_MONOTONIC) for every event (25-36 ns)
    Tsc,       //!< the same as Auto
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
    //! permission). A consumer receives the segment and its lease's cursor memory as
    //! descriptors over this socket. Empty: no control socket (rings are then enabled only through
    //! Attach). In bitcoind it sits beside node.sock: <network datadir>/tracering.sock.
    std::string control_socket;
    //! The name of the control socket's thread (1-15 bytes: what Linux keeps), as tools such
    //! as top -H and gdb show it; bitcoind gives "b-tracering", after its own threads' "b-".
    std::string control_thread_name{"tracering-ctl"};
    //! A control connection that has made no call this long after it was accepted is
    //! closed, so connections that stay silent cannot hold the control socket's places.
    //! 1 ms or more.
    uint32_t control_call_deadline_ms{DEFAULT_CONTROL_CALL_DEADLINE_MS};
    //! A control connection that holds no session and has made no call for this long is
    //! closed. One holding a session (the lease) is never closed for idleness. 1 ms or more.
    uint32_t control_idle_ms{DEFAULT_CONTROL_IDLE_MS};
    //! Control connections one user (the peer's uid) may have open at once, 1 to
    //! MAX_CONTROL_CONNECTIONS, so one user cannot take every other user's places. A
    //! connection past the limit is told why (ControlClient::Connect fails with Busy) and
    //! closed.
    uint32_t control_max_per_uid{DEFAULT_CONTROL_MAX_PER_UID};
    ClockSource clock{ClockSource::Auto};
    //! How long one lease's lossless readers may make the node's writers wait: at most this
    //! many milliseconds in any second (a token bucket, refilled at this rate per second).
    //! A lease whose waits use it up is downgraded to dropping, counted and told. 0: no
    //! lossless waits at all.
    uint32_t lossless_budget_ms{100};
    //! A reader that keeps a ring full for longer than this while the ring has another
    //! reader is detached, so the others stop losing events for it. 0: never.
    uint32_t slow_reader_ms{1000};
};

//! What a reader asks for when it is added to a ring.
struct EnableOptions {
    //! Bit i enables event type RingFirstType(ring) + i; all events by default. A ring
    //! carries the events any of its readers asked for; a reader skips the others.
    uint64_t event_mask{~uint64_t{0}};
    //! Wait (bounded by lossless_wait_ns, and by the lease's lossless budget) for room
    //! instead of dropping. For tests and captures that must be complete; it slows the node
    //! while the reader lags. After a wait times out, events are dropped (as dropped_timeout)
    //! without waiting until the reader reads again, so a stopped reader costs the node one
    //! wait, not one per event; once the budget is used up, the reader drops for good.
    bool lossless{false};
    uint64_t lossless_wait_ns{uint64_t{DEFAULT_LOSSLESS_WAIT_MS} * 1'000'000};
    //! Cut message payloads to this many bytes (flagging the record, keeping the size);
    //! 0 = whole payloads, and records over capacity/8 are dropped and counted. With several
    //! readers the ring cuts to the largest limit any of them asked for (none if one asked
    //! for none), so each gets at least what it asked for.
    uint64_t payload_limit{0};
    //! The reader's pid and uid, shown to users.
    uint64_t reader_pid{0};
    uint64_t reader_uid{0};
};

//! One ring of a Producer::Attach() request.
struct LeaseRequest {
    Subsystem ring{Subsystem::Net};
    EnableOptions options;
};

class Producer;

namespace detail {
class RingWriter;
class RingClock;
//! The producer's clock (src/producer/ring_clock.h), for tests and benchmarks.
RingClock& ClockOf(const Producer& producer) noexcept;
} // namespace detail

//! A consumer's hold on some rings (see Producer::Attach). While it lives, each of its rings
//! has a reader slot whose cursor is in the lease's own memory, which nobody else can reach;
//! destroying it removes those readers. It must not outlive its Producer.
class Lease
{
public:
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    //! The reader's side of ring `ring`; `slot` is MAX_READERS if the lease does not hold it.
    ReaderGrant Grant(Subsystem ring) const noexcept;
    const std::vector<ReaderGrant>& grants() const noexcept;
    //! The descriptor of the lease's cursor memory (owned by the lease): hand it to the
    //! reader, which maps it read-write. Sealed against shrinking and growing on Linux.
    int cursors_fd() const noexcept;
    //! Whether the lease used up its lossless budget and drops instead of waiting now.
    bool downgraded() const noexcept;
    //! The ring's counters, with only this lease's reader in `readers`.
    RingStats Stats(Subsystem ring) const;

private:
    friend class Producer;
    Lease();
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

//! Owns a segment: creates its shared-memory object, writes events into its rings, hands out
//! leases, and unlinks the object when destroyed.
//!
//! Thread safety: Write*/emit functions may be called from any thread concurrently; writers
//! of one ring never wait for each other (see doc/design.md, "Writers in several threads"). Attach,
//! Lease destruction and Stats may be called from any thread. The Producer must outlive every
//! thread that may still trace, and every Lease.
class Producer
{
public:
    //! Creates the segment. Fails with AlreadyExists if a live producer owns the name.
    static Result<std::unique_ptr<Producer>> Create(const ProducerOptions& options);

    //! Stops every ring without discarding its records, marks the segment Exited (a reader
    //! still drains what was written, then is told the producer exited), closes the control
    //! sessions and unlinks the segment's name, if it is still ours.
    ~Producer();
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;
    Producer(Producer&&) = delete;
    Producer& operator=(Producer&&) = delete;

    //! Adds a reader to each requested ring (all or none): each starts at the ring's current
    //! write position, so events before this call are not its loss, and the requested
    //! tracepoints leave the off price. Errors: InvalidArgument (bad ring or option), Busy
    //! (a ring has MAX_READERS readers, naming their pids), Detached (shutting down).
    Result<std::unique_ptr<Lease>> Attach(const std::vector<LeaseRequest>& rings);
    //! Attach() for one ring.
    Result<std::unique_ptr<Lease>> Attach(Subsystem ring, const EnableOptions& options = {});
    //! The ring's counters and every reader's state.
    RingStats Stats(Subsystem ring) const;

    //! Writes one record of an embedder-defined type (>= EventType::UserFirst) or a raw
    //! payload of a known type, if the ring is enabled. Returns false if it was not written
    //! (ring off, or dropped and counted). Never blocks (except lossless), never throws.
    bool WriteRaw(Subsystem ring, uint16_t type, const void* payload, uint32_t size) noexcept;
    //! WriteRaw() without the copy: `fill(dst, context)` writes the `size` payload bytes
    //! straight into the ring. It runs on the calling thread in the middle of the record, so
    //! it must not block: while it runs, records other threads write after it are reserved
    //! but not yet visible to readers (RingReader::StuckWriter() reports a long stop).
    bool WriteInPlace(Subsystem ring, uint16_t type, uint32_t size,
                      void (*fill)(uint8_t* dst, void* context), void* context) noexcept;

    const std::string& Name() const noexcept;
    //! The control socket path, or "" when the producer serves none.
    std::string ControlSocket() const;
    //! The shared-memory object's name, e.g. "tracering.node".
    std::string SegmentObjectName() const;
    //! A new read-only descriptor of the segment (the caller owns it), for a consumer.
    Result<int> SegmentFd() const;

    //! The producer installed for TRACERING_TRACEPOINT, or nullptr.
    static Producer* Global() noexcept;

private:
    friend class Lease;
    friend detail::RingClock& detail::ClockOf(const Producer& producer) noexcept;
    Producer();
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

//! "tracering.<name>", the main object's name for a segment name.
std::string SegmentObjectName(const std::string& name);
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
