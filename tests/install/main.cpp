// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Built against an installed tracering (see CMakeLists.txt beside this file): creates a
// segment, fires one tracepoint, reads it back through the consumer API.

#include <tracering/consumer.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace {

int Fail(const std::string& what)
{
    std::fprintf(stderr, "install test: FAILED: %s\n", what.c_str());
    return 1;
}

} // namespace

int main()
{
    tracering::ProducerOptions options;
    options.name = "install-test-" + std::to_string(::getpid()) + "-" +
                   std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    options.capacities.fill(4096);

    auto producer = tracering::Producer::Create(options);
    if (!producer) return Fail("Producer::Create: " + producer.error().message());

    tracering::EnableOptions enable;
    enable.reader_pid = static_cast<uint64_t>(::getpid());
    auto lease = (*producer)->Attach(tracering::Subsystem::Mempool, enable);
    if (!lease) return Fail("Attach(mempool): " + lease.error().message());

    auto consumer = tracering::Consumer::Open(options.name);
    if (!consumer) return Fail("Consumer::Open: " + consumer.error().message());
    auto reader =
        (*consumer)->OpenReader("mempool", (*lease)->Grant(tracering::Subsystem::Mempool));
    if (!reader) return Fail("OpenReader(mempool): " + reader.error().message());

    std::array<uint8_t, 32> txid{};
    for (size_t i = 0; i < txid.size(); ++i)
        txid[i] = static_cast<uint8_t>(i);
    TRACERING_TRACEPOINT(mempool, added, txid.data(), 150, 1000);

    int events = 0;
    int32_t vsize = -1;
    int64_t fee = -1;
    auto polled = (*reader)->Poll([&](const tracering::EventView& ev) {
        ++events;
        if (const auto* added = ev.as<tracering::mempool::Added>()) {
            vsize = added->vsize();
            fee = added->fee();
        }
    });
    if (!polled) return Fail("Poll: " + polled.error().message());

    if (events != 1) return Fail("expected 1 event, got " + std::to_string(events));
    if (vsize != 150 || fee != 1000) {
        return Fail("expected mempool:added with vsize 150 and fee 1000, got vsize " +
                    std::to_string(vsize) + " fee " + std::to_string(fee));
    }
    std::printf("install test: ok\n");
    return 0;
}
