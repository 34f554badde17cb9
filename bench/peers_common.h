// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! Shared by the peer comparisons of tracering_bench (lttng_bench.cpp, usdt_bench.cpp): the
//! smoke switch and the event every mechanism records, the arguments ring_bench.cpp gives
//! tracering's net:inbound_message in BM_InboundMessage_Ping and BM_Ring_ProducerConsumer.

#ifndef TRACERING_BENCH_PEERS_COMMON_H
#define TRACERING_BENCH_PEERS_COMMON_H

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace peers {

//! TRACERING_BENCH_SMOKE set (and not "0"): every benchmark runs once, as a test.
inline bool SmokeRun()
{
    const char* smoke = std::getenv("TRACERING_BENCH_SMOKE");
    return smoke && std::strcmp(smoke, "0") != 0;
}

inline void Smoke(benchmark::internal::Benchmark* b)
{
    if (SmokeRun()) b->Iterations(1);
}

//! Events per batch of the producer-cost benchmarks (as ring_bench.cpp's TimeProducer).
constexpr uint64_t BATCH = 4096;

//! Events of one full-rate run (as BM_Ring_ProducerConsumer; fewer when smoke testing).
inline uint64_t FullRateEvents() { return SmokeRun() ? 20'000 : 2'000'000; }

inline const char* const ADDR = "127.0.0.1:18444";
inline const char* const CONN_TYPE = "inbound";
inline const char* const MSG_TYPE = "ping";
inline const uint8_t PING_NONCE[8] = {1, 2, 3, 4, 5, 6, 7, 8};

} // namespace peers

#endif // TRACERING_BENCH_PEERS_COMMON_H
