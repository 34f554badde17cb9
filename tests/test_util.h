// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_TEST_UTIL_H
#define TRACERING_TESTS_TEST_UTIL_H

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <atomic>
#include <string>
#include <unistd.h>

namespace tracering::test {

//! Whether `part` occurs in `text`.
inline bool Contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

//! A segment name no other test (or concurrent test process) uses.
inline std::string UniqueName(const std::string& what)
{
    static std::atomic<int> counter{0};
    return "t-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

//! Options for a producer with small rings, so tests wrap often.
inline ProducerOptions SmallProducer(const std::string& what, uint64_t capacity = 1 << 16,
                                     bool global = false)
{
    ProducerOptions o;
    o.name = UniqueName(what);
    o.capacities.fill(capacity);
    o.install_global = global;
    // Tests that wait for slow (sanitised, loaded) readers must not run out of lossless
    // budget; the tests of the budget set their own.
    o.lossless_budget_ms = 60'000;
    return o;
}

//! An in-process reader: a lease on one ring of a producer and the reader it was granted.
//! The reader goes before the lease (members are destroyed in reverse order).
struct LeasedReader {
    std::unique_ptr<Lease> lease;
    std::unique_ptr<RingReader> reader;
    RingReader* operator->() const noexcept { return reader.get(); }
    RingReader& operator*() const noexcept { return *reader; }
};

//! Adds a reader to `ring` of `producer` and opens it through `consumer`.
inline Result<LeasedReader> AttachReader(Producer& producer, Consumer& consumer, Subsystem ring,
                                         const EnableOptions& options = {})
{
    auto lease = producer.Attach(ring, options);
    if (!lease) return lease.error();
    auto reader =
        consumer.OpenReader(SUBSYSTEM_NAMES[static_cast<uint16_t>(ring)], (*lease)->Grant(ring));
    if (!reader) return reader.error();
    return LeasedReader{std::move(lease.value()), std::move(reader.value())};
}

} // namespace tracering::test

#endif // TRACERING_TESTS_TEST_UTIL_H
