// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! USDT probes with the arguments of Bitcoin Core's net:inbound_message (peer id, address,
//! connection type, message type, size, payload), each behind its own semaphore as Bitcoin
//! Core's trace.h defines them, for bench/peers.sh to attach bpftrace to while the same
//! tracering_bench run measures tracering and LTTng-UST. One probe per benchmark, so
//! bpftrace's counts and printed lines say which benchmark fired them:
//!   peers:count_ping, peers:count_full   bpftrace counts (@c[probe] = count())
//!   peers:print_ping, peers:print_full   bpftrace prints peer id, message type and size
//! A benchmark whose probe has no tracer attached (semaphore 0) is skipped: it would measure
//! the off price, which BM_Usdt_Off of ring_bench.cpp measures on a probe nobody attaches to.

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <thread>

#include "peers_common.h"

#define SDT_USE_VARIADIC 1
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

__extension__ unsigned short peers_count_ping_semaphore __attribute__((section(".probes")));
__extension__ unsigned short peers_count_full_semaphore __attribute__((section(".probes")));
__extension__ unsigned short peers_print_ping_semaphore __attribute__((section(".probes")));
__extension__ unsigned short peers_print_full_semaphore __attribute__((section(".probes")));

// One probe site: the semaphore check, then the probe with inbound_message's arguments.
#define PEERS_PROBE(name, peer_id)                                                                 \
    do {                                                                                           \
        if (peers_##name##_semaphore > 0) {                                                        \
            STAP_PROBEV(peers, name, peer_id, peers::ADDR, peers::CONN_TYPE, peers::MSG_TYPE,      \
                        sizeof(peers::PING_NONCE), peers::PING_NONCE);                             \
        }                                                                                          \
    } while (0)

namespace {

using namespace peers;

bool Attached(benchmark::State& state, unsigned short semaphore, const char* probe)
{
    if (semaphore > 0) return true;
    const std::string why =
        std::string{"no tracer on USDT peers:"} + probe + " (bench/peers.sh attaches bpftrace)";
    state.SkipWithError(why.c_str());
    return false;
}

//! Batches of 4096 probe firings are timed, as ring_bench.cpp's TimeProducer times tracering's;
//! between them (untimed) bpftrace gets `pause` to read its perf buffer.
template <typename Fire>
void TimeBatches(benchmark::State& state, std::chrono::milliseconds pause, Fire&& fire)
{
    uint64_t i = 0;
    double seconds = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        for (uint64_t k = 0; k < BATCH; ++k)
            fire(int64_t(i++));
        const auto end = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(end - start).count();
        state.SetIterationTime(elapsed);
        seconds += elapsed;
        std::this_thread::sleep_for(pause);
    }
    state.SetItemsProcessed(int64_t(i));
    state.counters["ns_per_event"] = i ? seconds * 1e9 / double(i) : 0;
    state.counters["attempted"] = double(i);
}

//! Full rate: this thread fires the probe for 2,000,000 events as fast as it can. The
//! items/s are firings per second; what bpftrace delivered of them bench/peers.sh reads from
//! bpftrace's output (attempted is here).
template <typename Fire>
void FullRate(benchmark::State& state, Fire&& fire)
{
    const uint64_t events = FullRateEvents();
    uint64_t attempted = 0;
    for (auto _ : state) {
        for (uint64_t i = 0; i < events; ++i)
            fire(int64_t(i));
        attempted += events;
    }
    state.SetItemsProcessed(int64_t(attempted));
    state.counters["attempted"] = double(attempted);
}

void BM_Usdt_Bpftrace_Count_Ping(benchmark::State& state)
{
    if (!Attached(state, peers_count_ping_semaphore, "count_ping")) return;
    TimeBatches(state, std::chrono::milliseconds{1},
                [](int64_t id) { PEERS_PROBE(count_ping, id); });
}
BENCHMARK(BM_Usdt_Bpftrace_Count_Ping)->Iterations(250)->UseManualTime()->Apply(Smoke);

void BM_Usdt_Bpftrace_Print_Ping(benchmark::State& state)
{
    if (!Attached(state, peers_print_ping_semaphore, "print_ping")) return;
    // bpftrace formats each event in its own process, a few µs each: 4096 take ~10 ms.
    TimeBatches(state, std::chrono::milliseconds{30},
                [](int64_t id) { PEERS_PROBE(print_ping, id); });
}
BENCHMARK(BM_Usdt_Bpftrace_Print_Ping)->Iterations(100)->UseManualTime()->Apply(Smoke);

void BM_Usdt_Bpftrace_Count_FullRate(benchmark::State& state)
{
    if (!Attached(state, peers_count_full_semaphore, "count_full")) return;
    FullRate(state, [](int64_t id) { PEERS_PROBE(count_full, id); });
}
BENCHMARK(BM_Usdt_Bpftrace_Count_FullRate)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Apply(Smoke);

void BM_Usdt_Bpftrace_Print_FullRate(benchmark::State& state)
{
    if (!Attached(state, peers_print_full_semaphore, "print_full")) return;
    FullRate(state, [](int64_t id) { PEERS_PROBE(print_full, id); });
}
// One iteration, not three: printing 2,000,000 events takes bpftrace 10-30 s.
BENCHMARK(BM_Usdt_Bpftrace_Print_FullRate)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Apply(Smoke);

} // namespace
