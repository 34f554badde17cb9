// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_TEST_UTIL_H
#define TRACERING_TESTS_TEST_UTIL_H

#include <tracering/producer.h>

#include <atomic>
#include <string>
#include <unistd.h>

namespace tracering::test {

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
    return o;
}

} // namespace tracering::test

#endif // TRACERING_TESTS_TEST_UTIL_H
