// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/detail/schema_bytes.h>
#include <tracering/producer.h>
#include <tracering/schema_hash.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <unistd.h>

#include "common/check.h"
#include "common/clock.h"
#include "common/process.h"
#include "common/shm.h"
#include "producer/control_server.h"
#include "producer/ring_clock.h"
#include "producer/ring_writer.h"

namespace tracering {
namespace {

std::atomic<Producer*> g_global_producer{nullptr};

uint64_t PageSize()
{
    const long page = ::sysconf(_SC_PAGESIZE);
    return page > 0 ? uint64_t(page) : 4096;
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

} // namespace

//! How leases find their producer: cleared when the producer goes, so a lease that outlives
//! it only frees its own memory. `mutex` orders a lease's last touch of the rings before the
//! producer destroys them.
struct LeaseLink {
    std::mutex mutex;
    //! The producer's rings; all null once it is gone. Guarded by mutex.
    std::array<detail::RingWriter*, SUBSYSTEM_COUNT> rings{};
};

struct Producer::Impl {
    ProducerOptions options;
    std::shared_ptr<LeaseLink> leases{std::make_shared<LeaseLink>()};
    std::unique_ptr<detail::SharedMemory> segment;
    //! Shared by the rings (declared before them: it outlives them).
    std::unique_ptr<detail::RingClock> clock;
    std::array<std::unique_ptr<detail::RingWriter>, SUBSYSTEM_COUNT> rings;
    std::unique_ptr<detail::ControlServer> control;
    bool global{false};

    SegmentHeader* header() const { return reinterpret_cast<SegmentHeader*>(segment->data()); }
};

namespace {

//! Decides what to do about an object that already has our segment's name.
//! Returns ok if it is stale and was removed (so creation may be retried).
Result<void> ClearLeftover(const std::string& name, bool replace_stale)
{
    const std::string object = SegmentObjectName(name);
    auto existing = detail::SharedMemory::Open(object, /*writable=*/false);
    if (!existing) {
        return Error{ErrorCode::AlreadyExists, detail::SharedMemory::DisplayPath(object) +
                                                   " already exists and cannot be inspected (" +
                                                   existing.error().message() +
                                                   "); remove it or choose another name"};
    }
    const auto& shm = **existing;
    const std::string owner = detail::DescribeOwnership(object);
    const std::string whose = owner.empty() ? "" : " (" + owner + ")";
    if (shm.size() < HEADER_SIZE) {
        return Error{ErrorCode::AlreadyExists,
                     detail::SharedMemory::DisplayPath(object) + whose +
                         " already exists but holds " + std::to_string(shm.size()) +
                         " bytes, too few for a tracering segment; its owner may remove it, "
                         "or choose another name"};
    }
    const auto* header = reinterpret_cast<const SegmentHeader*>(shm.data());
    uint64_t magic;
    std::memcpy(&magic, &header->magic, sizeof(magic));
    if (magic != MAGIC) {
        return Error{ErrorCode::AlreadyExists,
                     detail::SharedMemory::DisplayPath(object) + whose +
                         " already exists and is not a tracering segment; its owner may "
                         "remove it, or choose another name"};
    }
    const uint64_t pid = header->producer_pid;
    const uint64_t start = header->producer_start_time;
    if (detail::CheckProcess(pid, start) == detail::ProcessLiveness::Alive) {
        return Error{ErrorCode::AlreadyExists,
                     "segment '" + name + "' is in use by a running producer (pid " +
                         std::to_string(pid) + "); stop it or choose another name"};
    }
    if (!replace_stale) {
        return Error{ErrorCode::Stale, "segment '" + name + "' was left by producer pid " +
                                           std::to_string(pid) + ", which is gone; remove " +
                                           detail::SharedMemory::DisplayPath(object) +
                                           " or allow replacing stale segments"};
    }
    if (!shm.RemoveName()) {
        return Error{ErrorCode::AlreadyExists,
                     detail::SharedMemory::DisplayPath(object) + whose +
                         " was left by producer pid " + std::to_string(pid) +
                         ", which is gone, and cannot be removed (" + std::strerror(errno) +
                         "); its owner may remove it"};
    }
    return {};
}

} // namespace

Producer::Producer() : m_impl{std::make_unique<Impl>()} {}

Result<std::unique_ptr<Producer>> Producer::Create(const ProducerOptions& options)
{
    if (auto ok = ValidateSegmentName(options.name); !ok) return ok.error();
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        const uint64_t cap = options.capacities[i];
        if (!IsPowerOfTwo(cap) || cap < MIN_RING_CAPACITY || cap > MAX_RING_CAPACITY) {
            return Error{ErrorCode::InvalidArgument,
                         "capacity of ring '" + std::string{SUBSYSTEM_NAMES[i]} + "' is " +
                             std::to_string(cap) +
                             " bytes; it must be a power of two from 4096 to 4294967296"};
        }
    }
    if (options.group_access != GroupAccess::None && options.group_id < -1) {
        return Error{ErrorCode::InvalidArgument,
                     "group id " + std::to_string(options.group_id) + " is not valid"};
    }

    // Layout: header page, ring control lines, reader lines, the schema, then page-aligned
    // data areas.
    const uint64_t page = PageSize();
    const uint64_t schema_offset = AlignUp(
        ReaderControlOffset(SUBSYSTEM_COUNT, SUBSYSTEM_COUNT, 0, MAX_READERS), SCHEMA_ALIGN);
    constexpr uint64_t schema_size = sizeof(detail::SCHEMA_BYTES);
    static_assert(schema_size <= MAX_SCHEMA_SIZE, "schemas/*.fbs outgrew MAX_SCHEMA_SIZE");
    uint64_t size = AlignUp(schema_offset + schema_size, page);
    std::array<uint64_t, SUBSYSTEM_COUNT> data_offsets{};
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        data_offsets[i] = size;
        size += AlignUp(options.capacities[i], page);
    }
    // What Consumer::FromMapping checks, true by construction: the schema lies between the
    // reader lines and the first ring's data.
    TRACERING_CHECK(schema_offset % SCHEMA_ALIGN == 0 &&
                    schema_offset + schema_size <= data_offsets[0]);

    if (options.install_global && g_global_producer.load(std::memory_order_acquire) != nullptr) {
        return Error{ErrorCode::InvalidArgument,
                     "another producer is already installed for TRACERING_TRACEPOINT in this "
                     "process; destroy it first or set install_global = false"};
    }

    const bool group = options.group_access != GroupAccess::None;
    // Writable for us while we build it; read-only for everyone (us included) once built.
    const detail::ShmAccess building{0600u, group ? options.group_id : -1};
    const uint32_t final_mode = group ? 0440u : 0400u;

    const std::string object = tracering::SegmentObjectName(options.name);
    auto segment = detail::SharedMemory::Create(object, size, building);
    if (!segment && segment.error().code() == ErrorCode::AlreadyExists) {
        if (auto cleared = ClearLeftover(options.name, options.replace_stale); !cleared) {
            return cleared.error();
        }
        segment = detail::SharedMemory::Create(object, size, building);
    }
    if (!segment) return segment.error();
    // The header, the control lines and the schema are written now; the ring data areas are
    // allocated when a ring gets its first reader (Attach), so that a node nobody traces
    // does not hold them.
    if (auto reserved = (*segment)->Reserve(0, data_offsets[0], "the segment's header");
        !reserved) {
        (*segment)->RemoveName();
        return reserved.error();
    }

    std::unique_ptr<Producer> producer{new Producer};
    Impl& impl = *producer->m_impl;
    impl.options = options;
    impl.segment = std::move(segment.value());

    // The objects are fresh and zero-filled. The identity goes first, so that even a
    // half-built header says whose it is; abi_version is published last.
    SegmentHeader* h = impl.header();
    h->magic = MAGIC;
    h->producer_pid = detail::CurrentPid();
    h->producer_start_time = detail::ProcessStartTime(h->producer_pid);
    h->header_size = HEADER_SIZE;
    h->page_size = static_cast<uint32_t>(page);
    h->segment_size = size;
    h->lease_cursors_size = LEASE_CURSORS_SIZE;
    h->max_readers = MAX_READERS;
    h->schema_hash = SCHEMA_HASH;
    h->schema_offset = schema_offset;
    h->schema_size = schema_size;
    {
        std::random_device device;
        // Bit 62 set: a position never reaches it, so zeroed (never written) space never
        // passes for a committed record.
        h->commit_key =
            ((uint64_t{device()} << 32) ^ device() ^ detail::MonotonicNs()) | (uint64_t{1} << 62);
    }
    std::memcpy(impl.segment->data() + schema_offset, detail::SCHEMA_BYTES, schema_size);
    // Decides on the TSC (calibrating it) and writes the clock's state into the header.
    impl.clock = detail::RingClock::Create(options.clock, h);
    h->clock_id =
        static_cast<uint32_t>(impl.clock->UsesTsc() ? ClockId::MonotonicTsc : ClockId::Monotonic);
    h->ring_count = SUBSYSTEM_COUNT;
    h->created_unix_ns = detail::UnixNs();
    h->clock_offset_ns = detail::MeasureUnixOffsetNs();
    std::strncpy(h->name, options.name.c_str(), SEGMENT_NAME_SIZE - 1);
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        RingDescriptor& d = h->rings[i];
        std::strncpy(d.name, SUBSYSTEM_NAMES[i].data(), RING_NAME_SIZE - 1);
        d.subsystem = static_cast<uint16_t>(i);
        d.stability = static_cast<uint16_t>(Stability::SemiStable);
        d.index = i;
        d.capacity = options.capacities[i];
        d.control_offset = RingControlOffset(i);
        d.data_offset = data_offsets[i];
        d.max_record = options.capacities[i] / MAX_RECORD_DIVISOR;
        d.readers_offset = ReaderControlOffset(SUBSYSTEM_COUNT, i, 0, MAX_READERS);
    }

    impl.global = options.install_global;
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        auto* control = reinterpret_cast<RingControl*>(impl.segment->data() + RingControlOffset(i));
        auto* lines = reinterpret_cast<ReaderControl*>(
            impl.segment->data() + ReaderControlOffset(SUBSYSTEM_COUNT, i, 0, MAX_READERS));
        impl.rings[i] = std::make_unique<detail::RingWriter>(
            static_cast<Subsystem>(i), control, lines, MAX_READERS,
            impl.segment->data() + data_offsets[i], options.capacities[i], impl.global, *impl.clock,
            uint64_t{options.slow_reader_ms} * 1'000'000, h->commit_key);
    }

    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i)
        impl.leases->rings[i] = impl.rings[i].get();

    // Publishes the whole header (pairs with the consumer's acquire load of abi_version).
    h->abi_version.store(ABI_VERSION, std::memory_order_release);
    h->producer_state.store(static_cast<uint32_t>(ProducerState::Running),
                            std::memory_order_release);
    impl.clock->Start();
    // From now on nobody opens it writable by accident, not even a process of our user: a
    // writable descriptor could truncate it under our mapping. Our own mapping stays
    // writable.
    if (auto ok = impl.segment->SetMode(final_mode); !ok) return ok.error();

    if (impl.global) {
        Producer* expected = nullptr;
        if (!g_global_producer.compare_exchange_strong(expected, producer.get(),
                                                       std::memory_order_acq_rel)) {
            impl.global = false; // the destructor must not uninstall the other one
            for (auto& ring : impl.rings)
                ring->DetachFromSwitches(); // nor turn off its tracepoints
            return Error{ErrorCode::InvalidArgument,
                         "another producer was installed for TRACERING_TRACEPOINT meanwhile; "
                         "set install_global = false for additional producers"};
        }
    }
    if (!options.control_socket.empty()) {
        // Connecting to a unix socket needs write permission on it: with group access the
        // group gets rw, or its members could not attach at all.
        const detail::ControlLimits limits{
            .call_deadline_ms = options.control_call_deadline_ms,
            .idle_ms = options.control_idle_ms,
            .max_per_uid = options.control_max_per_uid,
        };
        auto control = detail::ControlServer::Start(
            *producer, options.control_socket, group ? 0660u : 0600u, group ? options.group_id : -1,
            limits, options.control_thread_name);
        if (!control) return control.error(); // the producer's destructor cleans up
        impl.control = std::move(control.value());
    }
    return producer;
}

Producer::~Producer()
{
    Impl& impl = *m_impl;
    if (!impl.segment) return;
    // Stop writing but keep every ring's records and generation: a reader drains what was
    // published, then sees Exited. Resetting here would throw away what it had not read yet.
    for (auto& ring : impl.rings) {
        if (ring) ring->Seal();
    }
    // Publishes every ring's final write_pos (Seal waited for the records reserved before it
    // to be published) to a reader that acquire-loads producer_state.
    impl.header()->producer_state.store(static_cast<uint32_t>(ProducerState::Exited),
                                        std::memory_order_release);
    // Closing the sessions releases their leases; sealed rings are not reset by that.
    impl.control.reset();
    {
        // Leases the embedder still holds let go of their memory only, from now on.
        std::lock_guard lock{impl.leases->mutex};
        impl.leases->rings.fill(nullptr);
    }
    if (impl.global) {
        Producer* expected = this;
        g_global_producer.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
    }
    // Only if the name is still ours: after someone removed it, another producer may own it.
    impl.segment->RemoveName();
}

struct Lease::Impl {
    std::shared_ptr<LeaseLink> link;
    std::unique_ptr<detail::SharedMemory> cursors;
    std::unique_ptr<detail::LosslessBudget> budget;
    std::vector<ReaderGrant> grants;
};

Lease::Lease() : m_impl{std::make_unique<Impl>()} {}

Lease::~Lease()
{
    // Each ring forgets the reader before the cursor memory and the budget go away.
    std::lock_guard lock{m_impl->link->mutex};
    for (const ReaderGrant& g : m_impl->grants) {
        detail::RingWriter* ring = m_impl->link->rings[static_cast<uint16_t>(g.ring)];
        if (ring) ring->RemoveReader(g.slot, g.generation);
    }
}

ReaderGrant Lease::Grant(Subsystem ring) const noexcept
{
    for (const ReaderGrant& g : m_impl->grants) {
        if (g.ring == ring) return g;
    }
    ReaderGrant none;
    none.ring = ring;
    none.slot = MAX_READERS;
    return none;
}

const std::vector<ReaderGrant>& Lease::grants() const noexcept { return m_impl->grants; }
int Lease::cursors_fd() const noexcept { return m_impl->cursors->fd(); }
bool Lease::downgraded() const noexcept { return m_impl->budget->exhausted(); }

RingStats Lease::Stats(Subsystem ring) const
{
    const ReaderGrant g = Grant(ring);
    std::lock_guard lock{m_impl->link->mutex};
    detail::RingWriter* writer = m_impl->link->rings[static_cast<uint16_t>(ring)];
    if (writer == nullptr) return {};
    return writer->ReaderStats(g.slot, g.generation);
}

Result<std::unique_ptr<Lease>> Producer::Attach(Subsystem ring, const EnableOptions& options)
{
    return Attach(std::vector<LeaseRequest>{{ring, options}});
}

Result<std::unique_ptr<Lease>> Producer::Attach(const std::vector<LeaseRequest>& rings)
{
    if (rings.empty()) {
        return Error{ErrorCode::InvalidArgument, "a lease needs at least one ring"};
    }
    for (size_t i = 0; i < rings.size(); ++i) {
        const auto index = static_cast<uint16_t>(rings[i].ring);
        if (index >= SUBSYSTEM_COUNT) {
            return Error{ErrorCode::InvalidArgument, "no ring with index " + std::to_string(index)};
        }
        for (size_t j = 0; j < i; ++j) {
            if (rings[j].ring == rings[i].ring) {
                return Error{ErrorCode::InvalidArgument, "ring '" +
                                                             std::string{SUBSYSTEM_NAMES[index]} +
                                                             "' is requested twice"};
            }
        }
        const EnableOptions& o = rings[i].options;
        if (o.lossless && o.lossless_wait_ns > uint64_t{MAX_LOSSLESS_WAIT_MS} * 1'000'000) {
            return Error{ErrorCode::InvalidArgument,
                         "lossless wait of " + std::to_string(o.lossless_wait_ns) +
                             " ns is over the " + std::to_string(MAX_LOSSLESS_WAIT_MS) +
                             " ms limit; the node must not stall that long"};
        }
    }
    auto cursors = detail::SharedMemory::CreateAnonymous(LEASE_CURSORS_SIZE, "tracering-lease");
    if (!cursors) return cursors.error();
    std::unique_ptr<Lease> lease{new Lease};
    Lease::Impl& l = *lease->m_impl;
    l.link = m_impl->leases;
    l.cursors = std::move(cursors.value());
    l.budget = std::make_unique<detail::LosslessBudget>(
        uint64_t{m_impl->options.lossless_budget_ms} * 1'000'000);
    for (const LeaseRequest& request : rings) {
        const auto index = static_cast<uint16_t>(request.ring);
        detail::RingWriter& writer = *m_impl->rings[index];
        detail::ReaderOptions o;
        o.event_mask = request.options.event_mask;
        o.lossless = request.options.lossless && m_impl->options.lossless_budget_ms != 0;
        o.lossless_wait_ns = request.options.lossless_wait_ns;
        o.payload_limit = request.options.payload_limit;
        o.pid = request.options.reader_pid;
        o.uid = request.options.reader_uid;
        // Before the ring is written to: a page the file system had no room for would kill
        // the writing node thread with SIGBUS. Done for each reader; after the first one the
        // pages are there and this returns at once.
        const RingDescriptor& d = m_impl->header()->rings[index];
        if (auto reserved = m_impl->segment->Reserve(
                d.data_offset, d.capacity, "ring '" + std::string{SUBSYSTEM_NAMES[index]} + "'");
            !reserved) {
            return reserved.error(); // ~Lease removes the readers added so far
        }
        auto* cursor = reinterpret_cast<CursorSlot*>(l.cursors->data()) + index;
        const auto added = writer.AddReader(o, cursor, l.budget.get());
        if (added.result != detail::RingWriter::AddResult::Added) {
            // ~Lease removes the readers added so far: all or none.
            if (added.result == detail::RingWriter::AddResult::Sealed) {
                return Error{ErrorCode::Detached, "the producer is shutting down"};
            }
            std::string pids;
            for (const ReaderInfo& r : writer.Stats().readers) {
                pids += (pids.empty() ? "" : ", ") + std::to_string(r.pid);
            }
            return Error{ErrorCode::Busy, "ring '" + std::string{SUBSYSTEM_NAMES[index]} +
                                              "' already has " + std::to_string(MAX_READERS) +
                                              " readers (pids " + pids +
                                              "), the most it takes; stop one of them first"};
        }
        ReaderGrant g;
        g.ring = request.ring;
        g.slot = added.slot;
        g.generation = added.generation;
        g.cursors_fd = l.cursors->fd();
        l.grants.push_back(g);
    }
    return lease;
}

RingStats Producer::Stats(Subsystem ring) const
{
    const auto index = static_cast<uint16_t>(ring);
    if (index >= SUBSYSTEM_COUNT) return {};
    return m_impl->rings[index]->Stats();
}

bool Producer::WriteRaw(Subsystem ring, uint16_t type, const void* payload, uint32_t size) noexcept
{
    const auto index = static_cast<uint16_t>(ring);
    if (index >= SUBSYSTEM_COUNT || type == 0) return false;
    detail::RingWriter& writer = *m_impl->rings[index];
    if (!writer.enabled()) return false;
    return writer.Write(type, size, 0, [&](uint8_t* dst) {
        if (size) std::memcpy(dst, payload, size);
    }) == detail::DropCause::None;
}

bool Producer::WriteInPlace(Subsystem ring, uint16_t type, uint32_t size,
                            void (*fill)(uint8_t* dst, void* context), void* context) noexcept
{
    const auto index = static_cast<uint16_t>(ring);
    if (index >= SUBSYSTEM_COUNT || type == 0 || fill == nullptr) return false;
    detail::RingWriter& writer = *m_impl->rings[index];
    if (!writer.enabled()) return false;
    return writer.Write(type, size, 0, [&](uint8_t* dst) { fill(dst, context); }) ==
           detail::DropCause::None;
}

const std::string& Producer::Name() const noexcept { return m_impl->options.name; }
std::string Producer::ControlSocket() const
{
    return m_impl->control ? m_impl->control->path() : std::string{};
}
std::string Producer::SegmentObjectName() const { return tracering::SegmentObjectName(Name()); }
Result<int> Producer::SegmentFd() const { return m_impl->segment->ReopenReadOnly(); }

detail::RingClock& detail::ClockOf(const Producer& producer) noexcept
{
    return *producer.m_impl->clock;
}

Producer* Producer::Global() noexcept { return g_global_producer.load(std::memory_order_acquire); }

} // namespace tracering
