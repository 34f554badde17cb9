// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_RING_CLOCK_H
#define TRACERING_PRODUCER_RING_CLOCK_H

//! @file
//! The timestamp source of a producer's rings. Timestamps are CLOCK_MONOTONIC nanoseconds
//! either way; with the TSC they are interpolated from the CPU's time-stamp counter (one
//! rdtsc instead of a clock_gettime, which costs two to three times as much under a
//! `kvm-clock` kernel) and kept on CLOCK_MONOTONIC by a thread of the producer's own.

#include <tracering/abi.h>
#include <tracering/producer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace tracering::detail {

//! The TSC as RDTSC reads it: not ordered against earlier loads, so a thread that has just
//! seen another thread's timestamp in memory may still read an older TSC value (here, by
//! up to microseconds between two vCPUs under load). Successive reads on one thread do not
//! go back.
inline uint64_t ReadTsc() noexcept
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

//! The TSC read after every earlier instruction completed (LFENCE; RDTSC, as the kernel's
//! rdtsc_ordered()): a value read after seeing another thread's store is never older than
//! what that thread read before its store. About twice the cost of ReadTsc().
inline uint64_t ReadTscOrdered() noexcept
{
#if defined(__x86_64__)
    __builtin_ia32_lfence();
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

//! What decides whether the TSC can stand in for CLOCK_MONOTONIC here.
struct TscProbe {
    bool x86_64_linux{false};
    //! CPUID leaf 0x80000007, EDX bit 8: the TSC ticks at a constant rate in every P-, C-
    //! and T-state.
    bool invariant{false};
    //! The kernel lists `tsc` in /sys/devices/system/clocksource/clocksource0/
    //! available_clocksource (whatever its current clocksource is). Not needed: a kernel
    //! booted with tsc=unstable never lists it, and the clock checks every CPU's TSC itself.
    //! But once listed, the kernel dropping it (its watchdog) makes the clock fall back.
    bool kernel_lists_tsc{false};
    //! For tests: added to the TSC time measured on the last CPU of the start-up check, as
    //! a CPU whose TSC is that far off the others.
    int64_t cpu_skew_ns_for_test{0};
};

//! Asks the CPU and the kernel.
TscProbe ProbeTsc() noexcept;
//! Whether the kernel still lists `tsc` as a usable clocksource.
bool KernelListsTsc() noexcept;
//! The CPUs this process may run on (its main thread's affinity mask), in ascending order;
//! empty if the mask cannot be read.
std::vector<int> AllowedCpus() noexcept;
//! Moves the calling thread to `cpu` and keeps it there; false if it may not run there.
bool PinToCpu(int cpu) noexcept;

//! Why `requested` with `probe` must use CLOCK_MONOTONIC; ClockReason::None: use the TSC.
ClockReason DecideClock(ClockSource requested, const TscProbe& probe) noexcept;

//! A (TSC, CLOCK_MONOTONIC) pair read as close together as possible: the clock read is
//! bracketed by two TSC reads, and of a few tries the tightest bracket wins, so a thread
//! preempted mid-sample does not skew the pair by the time it was away. Returns the width
//! of that bracket in ticks (all ones if the counter went backwards every time).
uint64_t SampleTscAndMonotonic(uint64_t& tsc, uint64_t& ns) noexcept;

//! The producer's clock, shared by all its rings. Now() may be called from any number of
//! threads at once; it takes no lock, never blocks and never waits for another thread.
//!
//! In TSC mode, Now() interpolates a line (a TSC value where it starts, the time there, and
//! a rate) published in one of two slots. A re-anchor, done every REANCHOR_NS by the
//! clock's own thread (Start()), never steps the time: the new line starts where the old
//! one is at a switch point a little in the future, with a rate slewed so that it meets
//! CLOCK_MONOTONIC one period later. The result is one continuous, increasing function of
//! the TSC, so with an invariant TSC synchronised across CPUs, a re-anchor never makes
//! timestamps go back, not even between threads (NowOrdered()). Each re-anchor measures the
//! interpolation's error first; an error over CLOCK_ERROR_BOUND_NS, a change of the TSC's
//! rate or a TSC going backwards makes the clock fall back to CLOCK_MONOTONIC for good,
//! continuing from where the TSC left off. The state is published in the segment header
//! (`clock_source` and after).
//!
//! Every CPU: Now() reads the TSC of whichever CPU its caller runs on, so at start the clock
//! measures its error on each CPU the process may run on (a thread of its own moved to each
//! in turn; over TSC_SYNC_BOUND_NS: Monotonic, NotSynchronised), and its thread re-anchors
//! on the next of those CPUs each time, so every CPU's TSC keeps being checked against the
//! bound.
//!
//! Memory ordering of the slots (m_seq and Slot): the re-anchoring side (one thread at a
//! time, m_writer_mutex) stores m_seq odd (release), issues a release fence, fills the slot
//! that is not live, then stores m_seq even (release): the filled slot is live. Now()
//! acquire-loads m_seq, reads the live slot (relaxed), reads the TSC, issues an acquire
//! fence and reloads m_seq (NowOrdered() likewise). A reader retries once a re-anchor was
//! published during its read (m_seq moved on by two): the line it read holds only up to the
//! new line's switch point, and a reader delayed past that point between its two loads of
//! m_seq (preempted for over SWITCH_AHEAD_NS) would otherwise return the old line's time
//! there, which is not the new line's, and later calls could return less. The live slot is
//! rewritten only after m_seq moved on by three; a re-anchoring thread preempted in the
//! middle (m_seq odd) leaves the live slot intact, and readers keep using it.
class RingClock
{
public:
    //! Period of the re-anchors once calibrated; the first ones come sooner (from
    //! FIRST_REANCHOR_NS, doubling), to refine the rate of the short initial calibration.
    static constexpr uint64_t REANCHOR_NS = 1'000'000'000;
    static constexpr uint64_t FIRST_REANCHOR_NS = 10'000'000;
    //! How far ahead of its publication a new line starts: covers rdtsc executing out of
    //! order, and the re-anchoring thread being preempted between picking a switch point and
    //! publishing (it re-picks if it is this late).
    static constexpr uint64_t SWITCH_AHEAD_NS = 1'000'000;
    //! Largest rate correction per period, in parts per million of the rate.
    static constexpr uint64_t MAX_SLEW_PPM = 500;
    //! A rate over one period that differs from the recent rate by more than this (parts
    //! per million) is a rate jump.
    static constexpr uint64_t RATE_JUMP_PPM = 1000;
    //! A re-anchor whose best (TSC, CLOCK_MONOTONIC) bracket is wider than this was
    //! preempted in every try: it measures nothing and waits for the next period.
    static constexpr uint64_t MAX_SAMPLE_WIDTH_NS = 20'000;
    //! At a fallback, timestamps hold still until CLOCK_MONOTONIC reaches the TSC's last
    //! time, but at most this long after the fallback.
    static constexpr uint64_t MAX_HOLD_NS = 1'000'000'000;

    //! A clock for `requested`, publishing its state in `header` (null: nowhere), which
    //! must outlive it. Calibrates the TSC when it is to be used (a 2 ms busy wait).
    static std::unique_ptr<RingClock> Create(ClockSource requested, SegmentHeader* header);
    //! The same with a given probe, for tests of the decision.
    static std::unique_ptr<RingClock> Create(ClockSource requested, const TscProbe& probe,
                                             SegmentHeader* header);
    ~RingClock();
    RingClock(const RingClock&) = delete;
    RingClock& operator=(const RingClock&) = delete;

    //! Nanoseconds on the CLOCK_MONOTONIC timeline, from any thread. A function of the TSC
    //! that never decreases, re-anchors included: never less than what an earlier call on
    //! the same thread returned. Between threads, as ordered as their TSC reads: the RDTSC
    //! is not fenced (a fence doubles the cost), so a caller that orders events of several
    //! threads by memory (a ring under a lock) keeps its own maximum, or uses NowOrdered().
    uint64_t Now() const noexcept { return Read<false>(); }
    //! Now(), never less than a value any call returned before this call started (its
    //! result was seen in memory), given a synchronised invariant TSC.
    uint64_t NowOrdered() const noexcept { return Read<true>(); }

    //! Whether Now() interpolates the TSC (false: CLOCK_MONOTONIC, from the start or since a
    //! fallback).
    bool UsesTsc() const noexcept;
    //! Why it does not (ClockReason::None while it does).
    ClockReason reason() const noexcept;
    //! Measured TSC ticks per second (0 without the TSC).
    uint64_t TscHz() const noexcept;
    //! Lines (or the switch to CLOCK_MONOTONIC) published so far.
    uint64_t Published() const noexcept { return m_seq.load(std::memory_order_acquire) / 2; }

    //! Starts the thread that re-anchors the TSC interpolation (nothing to do without the
    //! TSC). Stopped by the destructor. A thread of its own rather than the control server's
    //! event loop: a producer may serve no control socket, and a slow control call must not
    //! hold back a re-anchor. It sleeps between re-anchors and stops after a fallback.
    void Start();
    //! One re-anchor now, on the calling thread (the clock's thread calls it on schedule).
    //! Returns whether the TSC is still in use.
    bool Reanchor() noexcept;
    //! The next re-anchor measures an interpolation error larger by `ns` than the real one:
    //! a TSC that went wrong, for tests of the fallback.
    void InjectErrorForTest(int64_t ns) noexcept;
    //! Moves the last (TSC, CLOCK_MONOTONIC) sample the next re-anchor compares against by
    //! `tsc_ticks` and `ns`: a TSC that went back, or a rate that jumped (a migration), for
    //! tests of those fallbacks.
    void ShiftLastSampleForTest(int64_t tsc_ticks, int64_t ns) noexcept;

private:
    struct Slot {
        //! The line starts at TSC value switch_tsc, at time switch_ns; before it, the
        //! previous line (rate prev_mult) is used, which also passes through that point.
        std::atomic<uint64_t> switch_tsc{0};
        std::atomic<uint64_t> switch_ns{0};
        //! Nanoseconds per tick in 32.32 fixed point; 0: CLOCK_MONOTONIC mode.
        std::atomic<uint64_t> mult{0};
        std::atomic<uint64_t> prev_mult{0};
    };
    struct Line {
        uint64_t switch_tsc{0};
        uint64_t switch_ns{0};
        uint64_t mult{0};
        uint64_t prev_mult{0};
    };
    //! A (TSC, CLOCK_MONOTONIC) sample kept to compute the recent rate.
    struct Sample {
        uint64_t tsc{0};
        uint64_t ns{0};
    };
    static constexpr size_t HISTORY = 16;

    template <bool ORDERED>
    uint64_t Read() const noexcept
    {
        for (;;) {
            const uint64_t seq = m_seq.load(std::memory_order_acquire);
            const Slot& slot = m_slots[(seq >> 1) & 1];
            const uint64_t mult = slot.mult.load(std::memory_order_relaxed);
            const uint64_t switch_tsc = slot.switch_tsc.load(std::memory_order_relaxed);
            const uint64_t switch_ns = slot.switch_ns.load(std::memory_order_relaxed);
            const uint64_t prev_mult = slot.prev_mult.load(std::memory_order_relaxed);
            const uint64_t tsc = mult == 0 ? 0 : ORDERED ? ReadTscOrdered() : ReadTsc();
            // Pairs with the release fence before a slot is rewritten (see the class comment).
            std::atomic_thread_fence(std::memory_order_acquire);
            if (m_seq.load(std::memory_order_relaxed) - (seq & ~uint64_t{1}) >= 2) continue;
            // mult 0: CLOCK_MONOTONIC, from where the TSC left off (switch_ns) if it was used.
            if (mult == 0) return std::max(MonotonicNs(), switch_ns);
            return Interpolate(tsc, switch_tsc, switch_ns, mult, prev_mult);
        }
    }

    RingClock(SegmentHeader* header) noexcept;

    static uint64_t Interpolate(uint64_t tsc, uint64_t switch_tsc, uint64_t switch_ns,
                                uint64_t mult, uint64_t prev_mult) noexcept
    {
        if (tsc >= switch_tsc) {
            return switch_ns + static_cast<uint64_t>(
                                   (static_cast<unsigned __int128>(tsc - switch_tsc) * mult) >> 32);
        }
        const uint64_t back = static_cast<uint64_t>(
            (static_cast<unsigned __int128>(switch_tsc - tsc) * prev_mult) >> 32);
        return back < switch_ns ? switch_ns - back : 0;
    }
    static uint64_t Interpolate(uint64_t tsc, const Line& l) noexcept
    {
        return Interpolate(tsc, l.switch_tsc, l.switch_ns, l.mult, l.prev_mult);
    }

    //! With m_writer_mutex held: makes `line` the live line.
    void Publish(const Line& line) noexcept;
    //! With m_writer_mutex held: CLOCK_MONOTONIC from now on, for good.
    void FallBack(ClockReason reason, uint64_t mono_ns) noexcept;
    //! With m_writer_mutex held: the recent rate (32.32 ns per tick) and ticks per second.
    uint64_t RecentMult() const noexcept;
    //! With m_writer_mutex held, before the clock is used: the largest |line - CLOCK_MONOTONIC|
    //! measured on each allowed CPU (on a thread of its own, so the caller's affinity stays
    //! as it is), `skew_for_test` added on the last one; nullopt if it could not measure.
    std::optional<uint64_t> ErrorAcrossCpus(int64_t skew_for_test) noexcept;
    void Run();

    std::atomic<uint64_t> m_seq{0};
    std::array<Slot, 2> m_slots{};

    SegmentHeader* const m_header; //!< may be null
    //! Serialises re-anchors (the clock's thread, and tests calling Reanchor()). Never
    //! taken by Now().
    mutable std::mutex m_writer_mutex;
    // Guarded by m_writer_mutex.
    Line m_line;
    bool m_tsc{false};
    uint64_t m_rate{0}; //!< the recent rate, 32.32 ns per tick (0: the TSC was never used)
    ClockReason m_reason{ClockReason::None};
    //! Whether the kernel listed `tsc` at start: then its dropping it is a fallback.
    bool m_kernel_listed{false};
    std::array<Sample, HISTORY> m_history{};
    size_t m_samples{0}; //!< samples taken (the last HISTORY of them are in m_history)
    uint64_t m_interval_ns{FIRST_REANCHOR_NS};
    uint64_t m_max_error_ns{0};
    uint64_t m_reanchors{0};
    int64_t m_injected_ns{0};

    // The re-anchoring thread.
    std::mutex m_thread_mutex;
    std::condition_variable m_wake;
    bool m_stop{false}; //!< guarded by m_thread_mutex
    std::thread m_thread;
};

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_RING_CLOCK_H
