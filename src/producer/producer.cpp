// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/producer.h>
#include <tracering/schema_hash.h>

#include <array>
#include <atomic>
#include <cstring>
#include <string>
#include <unistd.h>

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

struct Producer::Impl {
    ProducerOptions options;
    std::unique_ptr<detail::SharedMemory> segment;
    std::unique_ptr<detail::SharedMemory> cursors;
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
    if (shm.size() < HEADER_SIZE) {
        return Error{ErrorCode::AlreadyExists,
                     detail::SharedMemory::DisplayPath(object) + " already exists but holds " +
                         std::to_string(shm.size()) +
                         " bytes, too few for a tracering segment; remove it or choose "
                         "another name"};
    }
    const auto* header = reinterpret_cast<const SegmentHeader*>(shm.data());
    uint64_t magic;
    std::memcpy(&magic, &header->magic, sizeof(magic));
    if (magic != MAGIC) {
        return Error{ErrorCode::AlreadyExists,
                     detail::SharedMemory::DisplayPath(object) +
                         " already exists and is not a tracering segment; remove it or "
                         "choose another name"};
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
    detail::SharedMemory::Remove(object);
    detail::SharedMemory::Remove(CursorsObjectName(name));
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

    // Layout: header page, control lines, then page-aligned data areas.
    const uint64_t page = PageSize();
    uint64_t size = AlignUp(RingControlOffset(SUBSYSTEM_COUNT), page);
    std::array<uint64_t, SUBSYSTEM_COUNT> data_offsets{};
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        data_offsets[i] = size;
        size += AlignUp(options.capacities[i], page);
    }
    const uint64_t cursors_size = AlignUp(uint64_t{SUBSYSTEM_COUNT} * sizeof(CursorSlot), page);

    if (options.install_global && g_global_producer.load(std::memory_order_acquire) != nullptr) {
        return Error{ErrorCode::InvalidArgument,
                     "another producer is already installed for TRACERING_TRACEPOINT in this "
                     "process; destroy it first or set install_global = false"};
    }

    const bool group = options.group_access != GroupAccess::None;
    const detail::ShmAccess main_access{group ? 0640u : 0600u, group ? options.group_id : -1};
    const detail::ShmAccess cursor_access{group ? 0660u : 0600u, group ? options.group_id : -1};

    const std::string object = tracering::SegmentObjectName(options.name);
    auto segment = detail::SharedMemory::Create(object, size, main_access);
    if (!segment && segment.error().code() == ErrorCode::AlreadyExists) {
        if (auto cleared = ClearLeftover(options.name, options.replace_stale); !cleared) {
            return cleared.error();
        }
        segment = detail::SharedMemory::Create(object, size, main_access);
    }
    if (!segment) return segment.error();

    // We own the name now: any cursors object of that name is a leftover.
    const std::string cursors_object = tracering::CursorsObjectName(options.name);
    auto cursors = detail::SharedMemory::Create(cursors_object, cursors_size, cursor_access);
    if (!cursors && cursors.error().code() == ErrorCode::AlreadyExists) {
        detail::SharedMemory::Remove(cursors_object);
        cursors = detail::SharedMemory::Create(cursors_object, cursors_size, cursor_access);
    }
    if (!cursors) {
        detail::SharedMemory::Remove(object);
        return cursors.error();
    }

    std::unique_ptr<Producer> producer{new Producer};
    Impl& impl = *producer->m_impl;
    impl.options = options;
    impl.segment = std::move(segment.value());
    impl.cursors = std::move(cursors.value());

    // The objects are fresh and zero-filled. The identity goes first, so that even a
    // half-built header says whose it is; abi_version is published last.
    SegmentHeader* h = impl.header();
    h->magic = MAGIC;
    h->producer_pid = detail::CurrentPid();
    h->producer_start_time = detail::ProcessStartTime(h->producer_pid);
    h->header_size = HEADER_SIZE;
    h->page_size = static_cast<uint32_t>(page);
    h->segment_size = size;
    h->cursors_size = cursors_size;
    h->schema_hash = SCHEMA_HASH;
    uint64_t tsc_mult = 0;
    if (options.clock != ClockSource::Monotonic && detail::TscUsable()) {
        tsc_mult = detail::CalibrateTscMultiplier(/*window_ns=*/2'000'000);
    }
    h->clock_id = static_cast<uint32_t>(tsc_mult ? ClockId::MonotonicTsc : ClockId::Monotonic);
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
    }

    impl.global = options.install_global;
    for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        auto* control = reinterpret_cast<RingControl*>(impl.segment->data() + RingControlOffset(i));
        auto* cursor = reinterpret_cast<CursorSlot*>(impl.cursors->data() + i * sizeof(CursorSlot));
        impl.rings[i] = std::make_unique<detail::RingWriter>(
            static_cast<Subsystem>(i), control, cursor, impl.segment->data() + data_offsets[i],
            options.capacities[i], impl.global, tsc_mult);
    }

    // Publishes the whole header (pairs with the consumer's acquire load of abi_version).
    h->abi_version.store(ABI_VERSION, std::memory_order_release);
    h->producer_state.store(static_cast<uint32_t>(ProducerState::Running),
                            std::memory_order_release);

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
        // group gets rw, as on the cursors object, or its members could not attach at all.
        const detail::ControlLimits limits{
            .call_deadline_ms = options.control_call_deadline_ms,
            .idle_ms = options.control_idle_ms,
            .max_per_uid = options.control_max_per_uid,
        };
        auto control = detail::ControlServer::Start(
            *producer, options.control_socket, cursor_access.mode, cursor_access.group, limits);
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
    // Publishes every ring's final write_pos (the release stores in RingWriter::Write came
    // before Seal took each lock) to a reader that acquire-loads producer_state.
    impl.header()->producer_state.store(static_cast<uint32_t>(ProducerState::Exited),
                                        std::memory_order_release);
    // Closing the sessions releases their leases; sealed rings are not reset by that.
    impl.control.reset();
    if (impl.global) {
        Producer* expected = this;
        g_global_producer.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
    }
    detail::SharedMemory::Remove(impl.segment->name());
    detail::SharedMemory::Remove(impl.cursors->name());
}

Result<void> Producer::EnableRing(Subsystem ring, const EnableOptions& options)
{
    const auto index = static_cast<uint16_t>(ring);
    if (index >= SUBSYSTEM_COUNT) {
        return Error{ErrorCode::InvalidArgument, "no ring with index " + std::to_string(index)};
    }
    if (options.lossless && options.lossless_wait_ns > 10'000'000'000ULL) {
        return Error{ErrorCode::InvalidArgument,
                     "lossless wait of " + std::to_string(options.lossless_wait_ns) +
                         " ns is over the 10 s limit; the node must not stall that long"};
    }
    if (!m_impl->rings[index]->Enable(options)) {
        return Error{ErrorCode::Detached, "the producer is shutting down"};
    }
    return {};
}

void Producer::DisableRing(Subsystem ring)
{
    const auto index = static_cast<uint16_t>(ring);
    if (index < SUBSYSTEM_COUNT) m_impl->rings[index]->Disable();
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

const std::string& Producer::Name() const noexcept { return m_impl->options.name; }
std::string Producer::ControlSocket() const
{
    return m_impl->control ? m_impl->control->path() : std::string{};
}
std::string Producer::SegmentObjectName() const { return tracering::SegmentObjectName(Name()); }
std::string Producer::CursorsObjectName() const { return tracering::CursorsObjectName(Name()); }

Producer* Producer::Global() noexcept { return g_global_producer.load(std::memory_order_acquire); }

} // namespace tracering
