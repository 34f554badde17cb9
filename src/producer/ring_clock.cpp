// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "producer/ring_clock.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sched.h>
#include <string>
#include <system_error>
#include <unistd.h>
#include <utility>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace tracering::detail {
namespace {

constexpr const char* AVAILABLE_CLOCKSOURCES =
    "/sys/devices/system/clocksource/clocksource0/available_clocksource";

using u128 = unsigned __int128;

//! Ticks in `ns` nanoseconds at `mult` (32.32 ns per tick).
uint64_t TicksIn(uint64_t ns, uint64_t mult) noexcept
{
    return static_cast<uint64_t>((static_cast<u128>(ns) << 32) / (mult ? mult : 1));
}

//! 32.32 nanoseconds per tick from `ns` nanoseconds over `ticks` ticks.
uint64_t MultOf(uint64_t ns, uint64_t ticks) noexcept
{
    return static_cast<uint64_t>((static_cast<u128>(ns) << 32) / (ticks ? ticks : 1));
}

uint64_t HzOf(uint64_t mult) noexcept
{
    return mult ? static_cast<uint64_t>((static_cast<u128>(1'000'000'000) << 32) / mult) : 0;
}

} // namespace

bool KernelListsTsc() noexcept
{
    std::ifstream in{AVAILABLE_CLOCKSOURCES};
    std::string source;
    while (in >> source) {
        if (source == "tsc") return true;
    }
    return false;
}

TscProbe ProbeTsc() noexcept
{
    TscProbe probe;
#if defined(__x86_64__) && defined(__linux__)
    probe.x86_64_linux = true;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx)) probe.invariant = (edx >> 8) & 1;
    probe.kernel_lists_tsc = KernelListsTsc();
#endif
    return probe;
}

std::vector<int> AllowedCpus() noexcept
{
    std::vector<int> cpus;
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    // The main thread's mask (its tid is the pid): the clock's own thread narrows its own.
    if (sched_getaffinity(::getpid(), sizeof(set), &set) != 0) return cpus;
    try {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
        }
    } catch (const std::bad_alloc&) {
        cpus.clear();
    }
#endif
    return cpus;
}

bool PinToCpu(int cpu) noexcept
{
#if defined(__linux__)
    if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    // The calling thread moves to `cpu` before this returns.
    return sched_setaffinity(0, sizeof(set), &set) == 0;
#else
    (void)cpu;
    return false;
#endif
}

ClockReason DecideClock(ClockSource requested, const TscProbe& probe) noexcept
{
    if (requested == ClockSource::Monotonic) return ClockReason::Requested;
    if (!probe.x86_64_linux) return ClockReason::Unsupported;
    if (!probe.invariant) return ClockReason::NotInvariant;
    return ClockReason::None;
}

uint64_t SampleTscAndMonotonic(uint64_t& tsc, uint64_t& ns) noexcept
{
    uint64_t best_width = ~uint64_t{0};
    for (int attempt = 0; attempt < 8; ++attempt) {
        const uint64_t before = ReadTscOrdered();
        const uint64_t clock = MonotonicNs();
        const uint64_t after = ReadTscOrdered();
        if (after >= before && after - before < best_width) {
            best_width = after - before;
            tsc = before + (after - before) / 2;
            ns = clock;
        }
        // A clock read takes well under 2000 ticks; anything close is as good as it gets.
        if (best_width < 2000) break;
    }
    if (best_width == ~uint64_t{0}) { // the counter went backwards every time: use the clock
        tsc = ReadTscOrdered();
        ns = MonotonicNs();
    }
    return best_width;
}

RingClock::RingClock(SegmentHeader* header) noexcept : m_header{header} {}

std::unique_ptr<RingClock> RingClock::Create(ClockSource requested, SegmentHeader* header)
{
    return Create(requested, requested == ClockSource::Monotonic ? TscProbe{} : ProbeTsc(), header);
}

std::unique_ptr<RingClock> RingClock::Create(ClockSource requested, const TscProbe& probe,
                                             SegmentHeader* header)
{
    std::unique_ptr<RingClock> clock{new RingClock{header}};
    std::lock_guard lock{clock->m_writer_mutex};
    clock->m_reason = DecideClock(requested, probe);
    if (clock->m_reason == ClockReason::None) {
        // Two tight samples a short busy window apart; the re-anchors refine the rate.
        uint64_t tsc0, ns0, tsc1, ns1;
        SampleTscAndMonotonic(tsc0, ns0);
        do {
            SampleTscAndMonotonic(tsc1, ns1);
        } while (ns1 - ns0 < 2'000'000);
        if (tsc1 <= tsc0) {
            clock->m_reason = ClockReason::CalibrationFailed;
        } else {
            const uint64_t mult = MultOf(ns1 - ns0, tsc1 - tsc0);
            clock->m_line = {.switch_tsc = tsc1, .switch_ns = ns1, .mult = mult, .prev_mult = mult};
            const std::optional<uint64_t> error =
                clock->ErrorAcrossCpus(probe.cpu_skew_ns_for_test);
            clock->m_max_error_ns = error.value_or(0);
            if (!error) {
                clock->m_reason = ClockReason::CalibrationFailed;
            } else if (*error > TSC_SYNC_BOUND_NS) {
                clock->m_reason = ClockReason::NotSynchronised;
            } else {
                clock->m_tsc = true;
                clock->m_kernel_listed = probe.kernel_lists_tsc;
                clock->m_history[0] = {tsc0, ns0};
                clock->m_history[1] = {tsc1, ns1};
                clock->m_samples = 2;
                clock->m_rate = mult;
                clock->Publish(clock->m_line);
            }
        }
    }
    if (!clock->m_tsc) clock->Publish({}); // mult 0: CLOCK_MONOTONIC
    if (header) {
        // Before the header is published (abi_version): plain relaxed stores.
        header->clock_source.store(
            static_cast<uint32_t>(clock->m_tsc ? ClockId::MonotonicTsc : ClockId::Monotonic),
            std::memory_order_relaxed);
        header->clock_reason.store(static_cast<uint32_t>(clock->m_reason),
                                   std::memory_order_relaxed);
        header->tsc_hz.store(HzOf(clock->m_rate), std::memory_order_relaxed);
        header->clock_error_bound_ns = CLOCK_ERROR_BOUND_NS;
        header->clock_max_error_ns.store(clock->m_max_error_ns, std::memory_order_relaxed);
    }
    return clock;
}

std::optional<uint64_t> RingClock::ErrorAcrossCpus(int64_t skew_for_test) noexcept
{
    const std::vector<int> cpus = AllowedCpus();
    if (cpus.empty()) return std::nullopt;
    std::optional<uint64_t> worst{0};
    const uint64_t max_width = TicksIn(MAX_SAMPLE_WIDTH_NS, m_line.mult);
    const auto measure = [&] {
        for (size_t i = 0; i < cpus.size() && worst; ++i) {
            // A CPU this thread may not run on cannot run the node's threads either.
            if (!PinToCpu(cpus[i])) continue;
            uint64_t tsc = 0, ns = 0;
            uint64_t width = ~uint64_t{0};
            // Preempted in every try: try again, a few times.
            for (int round = 0; round < 4 && width > max_width; ++round) {
                width = SampleTscAndMonotonic(tsc, ns);
            }
            if (width > max_width) {
                worst.reset();
                break;
            }
            int64_t error = int64_t(Interpolate(tsc, m_line) - ns);
            if (i + 1 == cpus.size()) error += skew_for_test;
            worst = std::max(*worst, error < 0 ? uint64_t(-error) : uint64_t(error));
        }
    };
    try {
        std::thread{measure}.join();
    } catch (const std::system_error&) {
        return std::nullopt; // no thread: not measured
    }
    return worst;
}

RingClock::~RingClock()
{
    {
        std::lock_guard lock{m_thread_mutex};
        m_stop = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

bool RingClock::UsesTsc() const noexcept
{
    std::lock_guard lock{m_writer_mutex};
    return m_tsc;
}

ClockReason RingClock::reason() const noexcept
{
    std::lock_guard lock{m_writer_mutex};
    return m_reason;
}

uint64_t RingClock::TscHz() const noexcept
{
    std::lock_guard lock{m_writer_mutex};
    return HzOf(m_rate);
}

void RingClock::InjectErrorForTest(int64_t ns) noexcept
{
    std::lock_guard lock{m_writer_mutex};
    m_injected_ns = ns;
}

void RingClock::ShiftLastSampleForTest(int64_t tsc_ticks, int64_t ns) noexcept
{
    std::lock_guard lock{m_writer_mutex};
    Sample& last = m_history[(m_samples - 1) % HISTORY];
    last.tsc = uint64_t(int64_t(last.tsc) + tsc_ticks);
    last.ns = uint64_t(int64_t(last.ns) + ns);
}

void RingClock::Publish(const Line& line) noexcept
{
    const uint64_t seq = m_seq.load(std::memory_order_relaxed);
    Slot& slot = m_slots[((seq >> 1) + 1) & 1];
    // Odd: the slot that is not live is being written. Release, so that a reader that loads
    // this value also sees the live slot complete.
    m_seq.store(seq + 1, std::memory_order_release);
    // Orders the odd store before the slot's stores, for readers that validate with an
    // acquire fence after reading the slot.
    std::atomic_thread_fence(std::memory_order_release);
    slot.switch_tsc.store(line.switch_tsc, std::memory_order_relaxed);
    slot.switch_ns.store(line.switch_ns, std::memory_order_relaxed);
    slot.mult.store(line.mult, std::memory_order_relaxed);
    slot.prev_mult.store(line.prev_mult, std::memory_order_relaxed);
    // Even: the slot is live (pairs with Now()'s acquire load).
    m_seq.store(seq + 2, std::memory_order_release);
    m_line = line;
}

uint64_t RingClock::RecentMult() const noexcept
{
    const Sample& newest = m_history[(m_samples - 1) % HISTORY];
    const Sample& oldest = m_history[m_samples > HISTORY ? m_samples % HISTORY : 0];
    if (newest.tsc <= oldest.tsc || newest.ns <= oldest.ns) return m_line.mult;
    return MultOf(newest.ns - oldest.ns, newest.tsc - oldest.tsc);
}

void RingClock::FallBack(ClockReason reason, uint64_t mono_ns) noexcept
{
    // Continue from where the TSC line is a little ahead of now (no reader can have read
    // past that before this is published), unless that is further than MAX_HOLD_NS away.
    const uint64_t tsc_ns = Interpolate(ReadTsc() + TicksIn(SWITCH_AHEAD_NS, m_line.mult), m_line);
    const uint64_t floor = std::min(tsc_ns, MonotonicNs() + MAX_HOLD_NS);
    Publish({.switch_tsc = 0, .switch_ns = floor, .mult = 0, .prev_mult = 0});
    m_tsc = false;
    m_reason = reason;
    if (m_header) {
        m_header->clock_reason.store(static_cast<uint32_t>(reason), std::memory_order_relaxed);
        m_header->clock_fallback_ns.store(mono_ns, std::memory_order_relaxed);
        // Publishes the reason and the time with it (tools acquire-load clock_source).
        m_header->clock_source.store(static_cast<uint32_t>(ClockId::Monotonic),
                                     std::memory_order_release);
    }
}

bool RingClock::Reanchor() noexcept
{
    std::lock_guard lock{m_writer_mutex};
    if (!m_tsc) return false;
    uint64_t tsc, mono;
    const uint64_t width = SampleTscAndMonotonic(tsc, mono);
    // A sample that cannot be trusted to within the bound's fifth says nothing either way.
    if (width != ~uint64_t{0} && width > TicksIn(MAX_SAMPLE_WIDTH_NS, m_rate)) return true;
    const Sample last = m_history[(m_samples - 1) % HISTORY];
    if (tsc < last.tsc) {
        FallBack(ClockReason::Backwards, mono);
        return false;
    }
    const int64_t error =
        int64_t(Interpolate(tsc, m_line) - mono) + std::exchange(m_injected_ns, 0);
    const uint64_t abs_error = error < 0 ? uint64_t(-error) : uint64_t(error);
    m_max_error_ns = std::max(m_max_error_ns, abs_error);
    ++m_reanchors;
    if (m_header) {
        m_header->clock_last_error_ns.store(error, std::memory_order_relaxed);
        m_header->clock_max_error_ns.store(m_max_error_ns, std::memory_order_relaxed);
        m_header->clock_reanchors.store(m_reanchors, std::memory_order_relaxed);
    }
    if (abs_error > CLOCK_ERROR_BOUND_NS) {
        FallBack(ClockReason::ErrorBound, mono);
        return false;
    }
    // The rate over the last period against the recent rate: a jump is a move to another
    // host (or a TSC that is not what the kernel said). Periods under 100 ms are too short
    // to tell a jump from the sampling jitter.
    const uint64_t recent = RecentMult();
    if (mono - last.ns >= 100'000'000 && tsc > last.tsc) {
        const uint64_t period = MultOf(mono - last.ns, tsc - last.tsc);
        const uint64_t diff = period > recent ? period - recent : recent - period;
        if (static_cast<u128>(diff) * 1'000'000 > static_cast<u128>(recent) * RATE_JUMP_PPM) {
            FallBack(ClockReason::RateJump, mono);
            return false;
        }
    }
    m_history[m_samples % HISTORY] = {tsc, mono};
    ++m_samples;
    if (m_kernel_listed && !KernelListsTsc()) {
        FallBack(ClockReason::KernelUnstable, mono);
        return false;
    }
    // The previous line must have started before the new one does (a re-anchor called
    // within SWITCH_AHEAD_NS of the last one only measures).
    if (ReadTsc() < m_line.switch_tsc) return true;

    const uint64_t rate = RecentMult();
    m_rate = rate;
    const uint64_t period = m_interval_ns;
    for (;;) {
        // The new line starts SWITCH_AHEAD_NS from now, where the old one is then, and aims
        // at CLOCK_MONOTONIC (extrapolated from this sample at the recent rate) one period
        // later.
        const uint64_t switch_tsc = ReadTsc() + TicksIn(SWITCH_AHEAD_NS, rate);
        const uint64_t switch_ns = Interpolate(switch_tsc, m_line);
        const uint64_t period_ticks = TicksIn(period, rate);
        const uint64_t target =
            mono + static_cast<uint64_t>(
                       (static_cast<u128>(switch_tsc + period_ticks - tsc) * rate) >> 32);
        uint64_t mult = target > switch_ns ? MultOf(target - switch_ns, period_ticks) : 0;
        const uint64_t slew =
            static_cast<uint64_t>(static_cast<u128>(rate) * MAX_SLEW_PPM / 1'000'000);
        mult = std::clamp(mult, rate - slew, rate + slew);
        // Published before the switch point, or picked again: a reader that still uses the
        // old line must never see a TSC value past the switch.
        if (ReadTsc() + TicksIn(SWITCH_AHEAD_NS / 2, rate) >= switch_tsc) continue;
        Publish({.switch_tsc = switch_tsc,
                 .switch_ns = switch_ns,
                 .mult = mult,
                 .prev_mult = m_line.mult});
        break;
    }
    if (m_header) m_header->tsc_hz.store(HzOf(rate), std::memory_order_relaxed);
    m_interval_ns = std::min(REANCHOR_NS, m_interval_ns * 2);
    return true;
}

void RingClock::Start()
{
    {
        std::lock_guard lock{m_writer_mutex};
        if (!m_tsc || m_thread.joinable()) return;
    }
    m_thread = std::thread{[this] { Run(); }};
}

void RingClock::Run()
{
    std::unique_lock lock{m_thread_mutex};
    for (size_t round = 0;; ++round) {
        uint64_t interval;
        {
            std::lock_guard writer{m_writer_mutex};
            interval = m_interval_ns;
        }
        if (m_wake.wait_for(lock, std::chrono::nanoseconds(interval), [&] { return m_stop; })) {
            return;
        }
        lock.unlock();
        // On the next CPU each time, so that every CPU's TSC keeps being measured (the set is
        // read again each time: it may have changed). Unpinned if that fails.
        const std::vector<int> cpus = AllowedCpus();
        if (!cpus.empty()) PinToCpu(cpus[round % cpus.size()]);
        const bool tsc = Reanchor();
        lock.lock();
        if (!tsc) return; // CLOCK_MONOTONIC for good: nothing left to do
    }
}

} // namespace tracering::detail
