// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! Micro benchmarks of the producer's hot path and the consumer's drain rate, each next to a
//! baseline in the same binary (an empty loop, a USDT semaphore check, memcpy, the obvious
//! FlatBufferBuilder code). TRACERING_BENCH_SMOKE=1 runs every benchmark once, as a test.
//! Compare figures from one run, as ratios; see doc/performance.md.

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <benchmark/benchmark.h>
#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/clock.h"
#include "producer/emit.h"
#include "producer/ring_clock.h"
#include "producer/ring_writer.h"

// A real USDT probe with a semaphore, exactly as Bitcoin Core's trace.h defines one, to
// compare the off cost of both mechanisms in one binary.
#define SDT_USE_VARIADIC 1
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
__extension__ unsigned short bench_off_semaphore __attribute__((section(".probes")));

namespace {

using namespace tracering;

//! Whether TRACERING_BENCH_SMOKE asks for every benchmark once, as a test.
bool SmokeRun()
{
    const char* smoke = std::getenv("TRACERING_BENCH_SMOKE");
    return smoke && std::strcmp(smoke, "0") != 0;
}

void Smoke(benchmark::internal::Benchmark* b)
{
    if (SmokeRun()) b->Iterations(1);
}

std::string BenchName(const char* what)
{
    return std::string{"b-"} + what + "-" + std::to_string(::getpid());
}

//! A producer installed for TRACERING_TRACEPOINT with one ring enabled, and a consumer
//! thread that drains it as fast as it can (a consumer keeping up).
class Traced
{
public:
    //! @param attach false: no reader of its own (the benchmark adds its readers)
    Traced(const char* what, Subsystem ring, uint64_t capacity, bool drain = true,
           bool attach = true)
        : m_ring{ring}
    {
        ProducerOptions options;
        options.name = BenchName(what);
        options.capacities[static_cast<uint16_t>(ring)] = capacity;
        // The lossless benchmarks measure what the ring sustains with nothing lost, not the
        // node's protection: with the default budget (100 ms of waits per second) a 1 -> 1
        // run whose reader falls behind for a while has its lease downgraded and drops
        // (seen as lost=). A budget no run can use up keeps every lossless wait.
        options.lossless_budget_ms = 60'000;
        auto producer = Producer::Create(options);
        if (!producer) {
            std::fprintf(stderr, "bench: %s\n", producer.error().message().c_str());
            std::abort();
        }
        m_producer = std::move(producer.value());
        if (!attach) return;
        m_lease = std::move(m_producer->Attach(ring).value());
        m_consumer = std::move(Consumer::Open(options.name).value());
        m_reader = std::move(
            m_consumer->OpenReader(SUBSYSTEM_NAMES[uint16_t(ring)], m_lease->Grant(ring)).value());
        if (drain) m_thread = std::thread{[this] { Drain(); }};
    }
    ~Traced() { Stop(); }
    void Stop()
    {
        {
            std::lock_guard lock{m_mutex};
            m_stop = true;
        }
        m_cv.notify_all();
        if (m_thread.joinable()) m_thread.join();
    }
    void Report(benchmark::State& state)
    {
        Stop();
        DrainAll(); // whatever is left
        const RingStats s = m_producer->Stats(m_ring);
        state.counters["attempted"] = double(s.seq);
        state.counters["delivered"] = double(m_delivered.load());
        state.counters["dropped"] = double(s.dropped_full + s.dropped_too_big + s.dropped_timeout);
    }
    //! Lets the consumer thread read everything written so far and waits (untimed) until it
    //! has. Between these calls the consumer thread stays off the ring, so a timed batch
    //! measures the producer alone, on lines the consumer's core read last.
    void WaitDrained()
    {
        std::unique_lock lock{m_mutex};
        m_drain_request = true;
        m_cv.notify_all();
        m_cv.wait(lock, [this] { return !m_drain_request; });
    }
    Producer& producer() { return *m_producer; }
    RingReader& reader() { return *m_reader; }

private:
    void Drain()
    {
        // Asleep (not spinning) while a batch is timed: the other core stays quiet.
        std::unique_lock lock{m_mutex};
        while (!m_stop) {
            m_cv.wait(lock, [this] { return m_drain_request || m_stop; });
            if (m_stop) break;
            DrainAll();
            m_drain_request = false;
            m_cv.notify_all();
        }
    }
    void DrainAll()
    {
        for (;;) {
            auto n = m_reader->Poll([this](const EventView&) { Delivered(); }, 1 << 16);
            if (!n || n.value() == 0) break;
        }
    }
    void Delivered()
    {
        m_delivered.store(m_delivered.load(std::memory_order_relaxed) + 1,
                          std::memory_order_release);
    }

    Subsystem m_ring;
    std::unique_ptr<Producer> m_producer;
    std::unique_ptr<Lease> m_lease;
    std::unique_ptr<Consumer> m_consumer;
    std::unique_ptr<RingReader> m_reader;
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stop{false};          //!< guarded by m_mutex
    bool m_drain_request{false}; //!< guarded by m_mutex
    std::atomic<uint64_t> m_delivered{0};
};

//! Times `batch` calls of emit(i) per iteration while a consumer thread keeps up: the ring
//! holds a whole batch, and between batches (untimed) the consumer thread reads it all. So
//! the figure is the producer's cost with room in the ring, and nothing is dropped.
//! BM_Ring_ProducerConsumer measures both sides running at once.
template <typename Emit>
void TimeProducer(benchmark::State& state, Traced& traced, uint64_t batch, Emit&& emit)
{
    uint64_t i = 0;
    double seconds = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        for (uint64_t k = 0; k < batch; ++k)
            emit(i++);
        const auto end = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(end - start).count();
        state.SetIterationTime(elapsed);
        seconds += elapsed;
        traced.WaitDrained();
    }
    state.SetItemsProcessed(int64_t(i));
    state.counters["ns_per_event"] = i ? seconds * 1e9 / double(i) : 0;
    traced.Report(state);
}

const uint8_t PING_NONCE[8] = {1, 2, 3, 4, 5, 6, 7, 8};
const uint8_t TXID[32] = {7};

// --- Off: nobody listens --------------------------------------------------------------

void BM_Baseline_EmptyLoop(benchmark::State& state)
{
    for (auto _ : state)
        benchmark::ClobberMemory();
}
BENCHMARK(BM_Baseline_EmptyLoop)->Apply(Smoke);

void BM_Usdt_Off(benchmark::State& state)
{
    int64_t id = 1;
    for (auto _ : state) {
        if (bench_off_semaphore > 0) {
            STAP_PROBEV(bench, off, id, "127.0.0.1:18444", "inbound", "ping", 8, PING_NONCE);
        }
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_Usdt_Off)->Apply(Smoke);

int64_t g_evaluations = 0;
int64_t Expensive()
{
    ++g_evaluations;
    return 1;
}

void BM_Tracepoint_Off(benchmark::State& state)
{
    // A producer exists but no reader enabled the ring: the cost in a traced node.
    ProducerOptions options;
    options.name = BenchName("off");
    options.capacities.fill(1 << 16);
    auto producer = Producer::Create(options);
    g_evaluations = 0;
    for (auto _ : state) {
        TRACERING_TRACEPOINT(net, inbound_message, Expensive(), "127.0.0.1:18444", "inbound",
                             "ping", 8, PING_NONCE);
        benchmark::ClobberMemory();
    }
    state.counters["args_evaluated"] = double(g_evaluations);
}
BENCHMARK(BM_Tracepoint_Off)->Apply(Smoke);

void BM_Tracepoint_Off_WhileAnotherRingIsRead(benchmark::State& state)
{
    // The control server runs and a consumer holds the net ring through it: mempool's
    // tracepoints must still cost the off price.
    ProducerOptions options;
    options.name = BenchName("off-control");
    options.capacities.fill(1 << 16);
    options.control_socket = "/tmp/" + options.name + ".sock";
    auto producer = Producer::Create(options);
    if (!producer) {
        state.SkipWithError(producer.error().message().c_str());
        return;
    }
    auto client = ControlClient::Connect(options.control_socket);
    auto session = (*client)->Attach({{.ring = "net"}});
    if (!session) {
        state.SkipWithError(session.error().message().c_str());
        return;
    }
    g_evaluations = 0;
    for (auto _ : state) {
        TRACERING_TRACEPOINT(mempool, added, TXID, int32_t(Expensive()), 1410);
        benchmark::ClobberMemory();
    }
    state.counters["args_evaluated"] = double(g_evaluations);
}
BENCHMARK(BM_Tracepoint_Off_WhileAnotherRingIsRead)->Apply(Smoke);

// --- On: a reader keeps up ---------------------------------------------------------------

void BM_Clock_Monotonic(benchmark::State& state)
{
    for (auto _ : state)
        benchmark::DoNotOptimize(detail::MonotonicNs());
}
BENCHMARK(BM_Clock_Monotonic)->Apply(Smoke);

void BM_InboundMessage_Ping(benchmark::State& state)
{
    Traced traced{"ping", Subsystem::Net, 1 << 22};
    TimeProducer(state, traced, 4096, [](uint64_t i) {
        TRACERING_TRACEPOINT(net, inbound_message, int64_t(i), "127.0.0.1:18444", "inbound", "ping",
                             sizeof(PING_NONCE), PING_NONCE);
    });
}
BENCHMARK(BM_InboundMessage_Ping)->UseManualTime()->Apply(Smoke);

//! The ping of BM_InboundMessage_Ping through the same tracepoint switch, ring writer and
//! clock, written as a raw record instead of a FlatBuffer: the fixed fields, then the lengths,
//! then the three strings and the payload as they come. No reader could decode it (the draining
//! reader only counts records); it shows what the FlatBuffers encoding costs per event, next to
//! BM_InboundMessage_Ping in the same run.
void RawPing(int64_t peer_id, const char* addr, const char* conn_type, const char* msg_type,
             uint64_t size, const void* payload) noexcept
{
    detail::RingWriter* writer = detail::WriterFor(EventType::NetInboundMessage);
    if (!writer) return;
    struct Fixed {
        int64_t peer_id;
        uint64_t size;
        uint32_t addr_len, conn_len, type_len, payload_len;
    };
    const Fixed fixed{peer_id,
                      size,
                      detail::fb::StrLen(addr),
                      detail::fb::StrLen(conn_type),
                      detail::fb::StrLen(msg_type),
                      static_cast<uint32_t>(payload ? size : 0)};
    const uint64_t total =
        sizeof(Fixed) + fixed.addr_len + fixed.conn_len + fixed.type_len + fixed.payload_len;
    writer->Write(static_cast<uint16_t>(EventType::NetInboundMessage), total, 0,
                  [fixed, addr, conn_type, msg_type, payload](uint8_t* dst) {
                      std::memcpy(dst, &fixed, sizeof(fixed));
                      dst += sizeof(fixed);
                      detail::fb::CopySmall(dst, addr, fixed.addr_len);
                      dst += fixed.addr_len;
                      detail::fb::CopySmall(dst, conn_type, fixed.conn_len);
                      dst += fixed.conn_len;
                      detail::fb::CopySmall(dst, msg_type, fixed.type_len);
                      dst += fixed.type_len;
                      detail::fb::CopySmall(dst, payload, fixed.payload_len);
                  });
}
void BM_Baseline_RawRecordPing(benchmark::State& state)
{
    Traced traced{"raw", Subsystem::Net, 1 << 22};
    TimeProducer(state, traced, 4096, [](uint64_t i) {
        RawPing(int64_t(i), "127.0.0.1:18444", "inbound", "ping", sizeof(PING_NONCE), PING_NONCE);
    });
}
BENCHMARK(BM_Baseline_RawRecordPing)->UseManualTime()->Apply(Smoke);

void BM_MempoolAdded(benchmark::State& state)
{
    Traced traced{"added", Subsystem::Mempool, 1 << 22};
    TimeProducer(state, traced, 4096,
                 [](uint64_t i) { TRACERING_TRACEPOINT(mempool, added, TXID, int32_t(i), 1410); });
}
BENCHMARK(BM_MempoolAdded)->UseManualTime()->Apply(Smoke);

void BM_UtxocacheAdd(benchmark::State& state)
{
    Traced traced{"utxo", Subsystem::Utxocache, 1 << 22};
    TimeProducer(state, traced, 4096, [](uint64_t i) {
        TRACERING_TRACEPOINT(utxocache, add, TXID, uint32_t(i), 800000, 5000, false);
    });
}
BENCHMARK(BM_UtxocacheAdd)->UseManualTime()->Apply(Smoke);

//! What any ring of this design pays per small event before encoding anything: a TSC read,
//! one 16-byte compare-and-swap (the reservation) and a 128-byte copy into a 4 MiB area,
//! rotating like a ring. No consumer, no clock conversion, no encoding. The variants change
//! one part each, so that one run shows what each costs on the host at hand: an 8-byte
//! compare-and-swap instead (a reservation word without the sequence number), plain loads and
//! stores of the position (what a writer that owned its space alone, such as a per-thread
//! lane, would pay), and that without the TSC read either (the copy alone).
enum class FloorReserve { CompareAndSwap16, CompareAndSwap8, Plain };
template <FloorReserve RESERVE, bool READ_TSC>
void BaselineFloor(benchmark::State& state)
{
    std::vector<uint8_t> area(size_t{4} << 20);
    const size_t mask = area.size() - 1;
    uint8_t record[128];
    std::memset(record, 0x5a, sizeof(record));
    detail::Reservation word{0, 0};
    std::atomic<uint64_t> word8{0};
    uint64_t stamp = 0;
    for (auto _ : state) {
        const uint64_t tsc = READ_TSC ? detail::ReadTsc() : ++stamp;
        uint64_t pos;
        if constexpr (RESERVE == FloorReserve::CompareAndSwap16) {
            detail::Reservation cur{word.pos, word.seq};
            while (!detail::CompareExchange(&word, cur,
                                            detail::Reservation{cur.pos + 128, cur.seq + 1})) {
            }
            pos = cur.pos;
        } else if constexpr (RESERVE == FloorReserve::CompareAndSwap8) {
            pos = word8.load(std::memory_order_relaxed);
            while (!word8.compare_exchange_weak(pos, pos + 128)) {
            }
        } else {
            pos = word.pos;
            word = detail::Reservation{pos + 128, word.seq + 1};
        }
        uint8_t* at = area.data() + (pos & mask);
        std::memcpy(at, record, sizeof(record));
        std::memcpy(at + 8, &tsc, sizeof(tsc));
        benchmark::ClobberMemory();
    }
}
void BM_Baseline_ReservationFloor(benchmark::State& state)
{
    BaselineFloor<FloorReserve::CompareAndSwap16, true>(state);
}
BENCHMARK(BM_Baseline_ReservationFloor)->Apply(Smoke);
void BM_Baseline_ReservationFloor_8ByteCompareAndSwap(benchmark::State& state)
{
    BaselineFloor<FloorReserve::CompareAndSwap8, true>(state);
}
BENCHMARK(BM_Baseline_ReservationFloor_8ByteCompareAndSwap)->Apply(Smoke);
void BM_Baseline_ReservationFloor_NoCompareAndSwap(benchmark::State& state)
{
    BaselineFloor<FloorReserve::Plain, true>(state);
}
BENCHMARK(BM_Baseline_ReservationFloor_NoCompareAndSwap)->Apply(Smoke);
void BM_Baseline_ReservationFloor_CopyOnly(benchmark::State& state)
{
    BaselineFloor<FloorReserve::Plain, false>(state);
}
BENCHMARK(BM_Baseline_ReservationFloor_CopyOnly)->Apply(Smoke);

//! The obvious encoding, for comparison: a reused FlatBufferBuilder, then a copy.
void BM_Baseline_FlatBufferBuilderPing(benchmark::State& state)
{
    flatbuffers::FlatBufferBuilder fbb{256};
    std::vector<uint8_t> slot(512);
    int64_t id = 0;
    for (auto _ : state) {
        fbb.Clear();
        auto addr = fbb.CreateString("127.0.0.1:18444");
        auto type = fbb.CreateString("ping");
        auto payload = fbb.CreateVector(PING_NONCE, sizeof(PING_NONCE));
        auto msg = net::CreateInboundMessage(fbb, ++id, addr, net::ConnectionType::Inbound, type,
                                             sizeof(PING_NONCE), payload);
        fbb.Finish(msg);
        std::memcpy(slot.data(), fbb.GetBufferPointer(), fbb.GetSize());
        benchmark::DoNotOptimize(slot.data());
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_Baseline_FlatBufferBuilderPing)->Apply(Smoke);

// --- Large payloads ----------------------------------------------------------------------

//! memcpy of `size` bytes into a 32 MiB area, rotating like the net ring does, so both
//! copies meet the same caches.
void BM_Baseline_Memcpy(benchmark::State& state)
{
    const size_t size = size_t(state.range(0));
    std::vector<uint8_t> src(size, 1), dst(size_t{32} << 20);
    size_t offset = 0;
    for (auto _ : state) {
        std::memcpy(dst.data() + offset, src.data(), size);
        offset = (offset + size) % (dst.size() - size + 1);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(size));
}
BENCHMARK(BM_Baseline_Memcpy)->Arg(1 << 20)->Apply(Smoke);

void BM_InboundMessage_Payload(benchmark::State& state)
{
    const size_t size = size_t(state.range(0));
    Traced traced{"payload", Subsystem::Net, 1 << 25};
    std::vector<uint8_t> payload(size, 0x5a);
    TimeProducer(state, traced, 16, [&](uint64_t i) {
        TRACERING_TRACEPOINT(net, inbound_message, int64_t(i), "127.0.0.1:18444", "inbound",
                             "block", payload.size(), payload.data());
    });
    state.SetBytesProcessed(int64_t(state.iterations()) * 16 * int64_t(size));
}
BENCHMARK(BM_InboundMessage_Payload)->Arg(1 << 20)->UseManualTime()->Apply(Smoke);

// --- Delivery: one producer thread, one consumer thread -----------------------------------

//! The consumer's own cost: drain a ring full of ping-sized events in this thread.
void BM_Reader_Drain(benchmark::State& state)
{
    Traced traced{"drain", Subsystem::Net, 1 << 22, /*drain=*/false};
    uint64_t delivered = 0;
    double seconds = 0;
    const bool typed = state.range(0) != 0;
    for (auto _ : state) {
        for (int64_t i = 0; i < 20000; ++i) {
            TRACERING_TRACEPOINT(net, inbound_message, i, "127.0.0.1:18444", "inbound", "ping",
                                 sizeof(PING_NONCE), PING_NONCE);
        }
        const auto start = std::chrono::steady_clock::now();
        auto n = traced.reader().Poll(
            [&](const EventView& ev) {
                if (typed) {
                    auto* m = ev.as<net::InboundMessage>();
                    benchmark::DoNotOptimize(m);
                }
                ++delivered;
            },
            1 << 20);
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.SetIterationTime(elapsed);
        seconds += elapsed;
        benchmark::DoNotOptimize(n);
    }
    state.SetItemsProcessed(int64_t(delivered));
    state.counters["ns_per_event"] = delivered ? seconds * 1e9 / double(delivered) : 0;
}
BENCHMARK(BM_Reader_Drain)->ArgName("Verified")->Arg(0)->Arg(1)->UseManualTime()->Apply(Smoke);

//! Events delivered per second from a producer thread writing ping-sized inbound messages to
//! a consumer (this thread). Lossless=1 makes the producer wait for room (bounded), so the
//! figure is the sustained rate with zero loss; Lossless=0 drops when full and counts it.
void BM_Ring_ProducerConsumer(benchmark::State& state)
{
    const bool lossless = state.range(0) != 0;
    const auto readers = static_cast<size_t>(state.range(1));
    const uint64_t events = SmokeRun() ? 20'000 : 2'000'000;
    Traced traced{lossless ? "pc-lossless" : "pc-lossy", Subsystem::Net, 1 << 22,
                  /*drain=*/false, /*attach=*/false};
    EnableOptions options;
    options.lossless = lossless;
    options.lossless_wait_ns = 1'000'000'000;
    uint64_t delivered = 0, lost = 0, slowest = 0, downgraded = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto consumer = Consumer::Open(traced.producer().Name());
        std::vector<std::unique_ptr<Lease>> leases;
        std::vector<std::unique_ptr<RingReader>> rings;
        for (size_t r = 0; r < readers; ++r) {
            leases.push_back(std::move(traced.producer().Attach(Subsystem::Net, options).value()));
            rings.push_back(std::move(
                (*consumer)->OpenReader("net", leases.back()->Grant(Subsystem::Net)).value()));
        }
        std::atomic<bool> done{false};
        std::vector<uint64_t> got(readers, 0), missed(readers, 0);
        state.ResumeTiming();
        std::thread producer{[&] {
            for (uint64_t i = 0; i < events; ++i) {
                TRACERING_TRACEPOINT(net, inbound_message, int64_t(i), "127.0.0.1:18444", "inbound",
                                     "ping", sizeof(PING_NONCE), PING_NONCE);
            }
            done = true;
        }};
        auto read = [&](size_t r) {
            Backoff backoff;
            for (;;) {
                const bool finished = done.load(std::memory_order_acquire);
                auto n = rings[r]->Poll(
                    [&](const EventView& ev) {
                        missed[r] += ev.lost_before();
                        ++got[r];
                    },
                    1 << 16);
                if (!n || (finished && n.value() == 0)) break;
                backoff.Idle(n.value(), rings[r]->TakeReadFill());
            }
        };
        std::vector<std::thread> others;
        for (size_t r = 1; r < readers; ++r)
            others.emplace_back(read, r);
        read(0);
        for (auto& t : others)
            t.join();
        producer.join();
        state.PauseTiming();
        for (size_t r = 0; r < readers; ++r) {
            delivered += got[r];
            lost += missed[r];
        }
        slowest = *std::min_element(got.begin(), got.end());
        for (const auto& lease : leases)
            downgraded += lease->downgraded() ? 1 : 0;
        rings.clear();
        leases.clear();
        state.ResumeTiming();
    }
    // Items: events each reader received, summed over the readers.
    state.SetItemsProcessed(int64_t(delivered));
    state.counters["delivered"] = double(delivered);
    state.counters["slowest_reader"] = double(slowest);
    state.counters["lost"] = double(lost);
    // Leases that used up their lossless budget (none should: see Traced).
    state.counters["downgraded"] = double(downgraded);
    const RingStats s = traced.producer().Stats(Subsystem::Net);
    state.counters["dropped"] = double(s.dropped_full + s.dropped_timeout);
}
BENCHMARK(BM_Ring_ProducerConsumer)
    ->ArgNames({"Lossless", "Readers"})
    ->Args({1, 1})
    ->Args({0, 1})
    ->Args({1, 4})
    ->Args({0, 4})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

//! Several node threads writing ping-sized inbound messages into one ring at once, read by one
//! consumer (this thread). Each writer thread times its own loop: ns_per_event is the mean
//! over writers of their time per event (on the project's 2 cores, 2 and 4 writers plus the
//! reader share the cores, so it includes waiting for a core). events_per_second counts
//! what the reader received.
//! The reader of BM_Ring_Writers and BM_Ring_WriterStalls: polls `ring` until the writer
//! threads (`running` counts those not finished) are done and the ring is drained, passing
//! each event to `on_event`. A read error skips the benchmark with it.
template <typename OnEvent>
void ReadUntilWritersDone(benchmark::State& state, RingReader& ring,
                          const std::atomic<size_t>& running, OnEvent&& on_event)
{
    Backoff backoff;
    for (;;) {
        const bool finished = running.load(std::memory_order_acquire) == 0;
        auto n = ring.Poll(on_event, 1 << 16);
        if (!n) {
            state.SkipWithError(n.error().message().c_str());
            return;
        }
        if (finished && n.value() == 0) return;
        backoff.Idle(n.value(), ring.TakeReadFill());
    }
}

void BM_Ring_Writers(benchmark::State& state)
{
    const auto writers = static_cast<size_t>(state.range(0));
    const bool lossless = state.range(1) != 0;
    const uint64_t events = SmokeRun() ? 20'000 : 2'000'000;
    Traced traced{lossless ? "mw-lossless" : "mw-lossy", Subsystem::Net, 1 << 22,
                  /*drain=*/false, /*attach=*/false};
    EnableOptions options;
    options.lossless = lossless;
    options.lossless_wait_ns = 1'000'000'000;
    uint64_t delivered = 0, lost = 0;
    double writer_ns = 0, seconds = 0;
    for (auto _ : state) {
        auto consumer = Consumer::Open(traced.producer().Name());
        auto lease = std::move(traced.producer().Attach(Subsystem::Net, options).value());
        auto ring = std::move((*consumer)->OpenReader("net", lease->Grant(Subsystem::Net)).value());
        std::atomic<size_t> running{writers};
        std::atomic<bool> go{false};
        std::vector<double> busy(writers, 0);
        std::vector<std::thread> threads;
        for (size_t w = 0; w < writers; ++w) {
            threads.emplace_back([&, w] {
                while (!go.load(std::memory_order_acquire)) {
                }
                const uint64_t mine = events / writers;
                const auto start = std::chrono::steady_clock::now();
                for (uint64_t i = 0; i < mine; ++i) {
                    TRACERING_TRACEPOINT(net, inbound_message, int64_t(w), "127.0.0.1:18444",
                                         "inbound", "ping", sizeof(PING_NONCE), PING_NONCE);
                }
                busy[w] = std::chrono::duration<double, std::nano>(
                              std::chrono::steady_clock::now() - start)
                              .count() /
                          double(mine);
                running.fetch_sub(1, std::memory_order_release);
            });
        }
        uint64_t got = 0, missed = 0;
        const auto start = std::chrono::steady_clock::now();
        go.store(true, std::memory_order_release);
        ReadUntilWritersDone(state, *ring, running, [&](const EventView& ev) {
            missed += ev.lost_before();
            ++got;
        });
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (auto& t : threads)
            t.join();
        for (double ns : busy)
            writer_ns += ns / double(writers);
        delivered += got;
        lost += missed;
    }
    const double iterations = double(state.iterations());
    state.counters["writers"] = double(writers);
    state.counters["ns_per_event"] = iterations ? writer_ns / iterations : 0;
    state.counters["delivered"] = double(delivered);
    state.counters["lost"] = double(lost);
    state.counters["events_per_second"] = seconds > 0 ? double(delivered) / seconds : 0;
}
BENCHMARK(BM_Ring_Writers)
    ->ArgNames({"Writers", "Lossless"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({4, 0})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({4, 1})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

//! A test-and-test-and-set spin lock with `pause`, as a ring's writers were serialised before
//! ABI 4: the baseline of BM_Ring_WriterStalls.
class SpinLock
{
public:
    void lock() noexcept
    {
        while (m_taken.exchange(true, std::memory_order_acquire)) {
            while (m_taken.load(std::memory_order_relaxed))
                detail::CpuRelax();
        }
    }
    void unlock() noexcept { m_taken.store(false, std::memory_order_release); }

private:
    std::atomic<bool> m_taken{false};
};

//! What a writer pays when the ring's other writers are descheduled: more writer threads than
//! cores (4 writers and the reader on this machine's cores), each timing every tracepoint
//! call with the TSC. Lock=0 is the ring as it is (each writer reserves on its own); Lock=1
//! serialises the writers with SpinLock around each call, as before ABI 4, so a writer that
//! is preempted while it holds the lock keeps the others spinning until it runs again. The
//! reader drops when behind (lossy), so no writer waits for it. Counters: calls slower than
//! 10 µs and than 1 ms per million calls, the slowest call, and the mean per call.
template <bool LOCK>
void RingWriterStalls(benchmark::State& state)
{
    const auto writers = static_cast<size_t>(state.range(0));
    const uint64_t events = SmokeRun() ? 20'000 : 1'000'000;
    Traced traced{"stalls", Subsystem::Net, 1 << 22, /*drain=*/false, /*attach=*/false};
    SpinLock lock;
    uint64_t calls = 0, max_ticks = 0, total_ticks = 0, tsc_ticks = 0, tsc_ns = 0;
    std::vector<uint64_t> slow; // ticks of the calls over the smallest threshold, every run
    for (auto _ : state) {
        auto consumer = Consumer::Open(traced.producer().Name());
        auto lease = std::move(traced.producer().Attach(Subsystem::Net).value());
        auto ring = std::move((*consumer)->OpenReader("net", lease->Grant(Subsystem::Net)).value());
        std::atomic<size_t> running{writers};
        std::atomic<bool> go{false};
        struct Tally {
            uint64_t max{0}, total{0};
            std::vector<uint64_t> slow; //!< the calls over the smallest threshold
        };
        std::vector<Tally> tallies(writers);
        std::vector<std::thread> threads;
        const uint64_t tsc_start = detail::ReadTsc();
        const auto start = std::chrono::steady_clock::now();
        for (size_t w = 0; w < writers; ++w) {
            threads.emplace_back([&, w] {
                while (!go.load(std::memory_order_acquire)) {
                }
                Tally& tally = tallies[w];
                const uint64_t mine = events / writers;
                for (uint64_t i = 0; i < mine; ++i) {
                    const uint64_t before = detail::ReadTsc();
                    if constexpr (LOCK) lock.lock();
                    TRACERING_TRACEPOINT(net, inbound_message, int64_t(w), "127.0.0.1:18444",
                                         "inbound", "ping", sizeof(PING_NONCE), PING_NONCE);
                    if constexpr (LOCK) lock.unlock();
                    const uint64_t ticks = detail::ReadTsc() - before;
                    tally.total += ticks;
                    tally.max = std::max(tally.max, ticks);
                    // A call of 10 µs or more is over 10,000 ticks of any TSC of 1 GHz or
                    // more; the thresholds in ns are applied below.
                    if (ticks > 10'000) tally.slow.push_back(ticks);
                }
                running.fetch_sub(1, std::memory_order_release);
            });
        }
        go.store(true, std::memory_order_release);
        ReadUntilWritersDone(state, *ring, running, [](const EventView&) {});
        for (auto& t : threads)
            t.join();
        tsc_ticks += detail::ReadTsc() - tsc_start;
        tsc_ns += uint64_t(
            std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                .count());
        for (const Tally& t : tallies) {
            slow.insert(slow.end(), t.slow.begin(), t.slow.end());
            max_ticks = std::max(max_ticks, t.max);
            total_ticks += t.total;
            calls += events / writers;
        }
    }
    const double ns_per_tick = tsc_ticks ? double(tsc_ns) / double(tsc_ticks) : 0;
    uint64_t over_10us = 0, over_1ms = 0;
    for (uint64_t ticks : slow) {
        const double ns = double(ticks) * ns_per_tick;
        over_10us += ns > 10'000 ? 1 : 0;
        over_1ms += ns > 1'000'000 ? 1 : 0;
    }
    const double per_million = calls ? 1e6 / double(calls) : 0;
    state.counters["writers"] = double(writers);
    state.counters["ns_per_call"] = calls ? double(total_ticks) * ns_per_tick / double(calls) : 0;
    state.counters["over_10us_per_M"] = double(over_10us) * per_million;
    state.counters["over_1ms_per_M"] = double(over_1ms) * per_million;
    state.counters["max_call_us"] = double(max_ticks) * ns_per_tick / 1000;
}
void BM_Ring_WriterStalls(benchmark::State& state) { RingWriterStalls<false>(state); }
void BM_Baseline_WriterStalls_SpinLock(benchmark::State& state) { RingWriterStalls<true>(state); }
BENCHMARK(BM_Ring_WriterStalls)
    ->ArgName("Writers")
    ->Arg(4)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Baseline_WriterStalls_SpinLock)
    ->ArgName("Writers")
    ->Arg(4)
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
