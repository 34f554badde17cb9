// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_EVENT_SAMPLES_H
#define TRACERING_TESTS_EVENT_SAMPLES_H

//! One known sample of each of the 20 Bitcoin Core events: emitted through the real
//! TRACERING_TRACEPOINT macro, and checked field by field through the generated tables.
//! Shared by the in-process tests and the second-process helper.

#include <tracering/consumer.h>
#include <tracering/events.h>

#include <string>
#include <vector>

namespace tracering::test {

//! Emits every sample once, in EVENTS order, through TRACERING_TRACEPOINT.
void EmitAllSamples();

//! "" if `view` is the sample of its type with every field equal, else what differs.
std::string CheckSample(const EventView& view);

//! Event types in the order EmitAllSamples emits them.
std::vector<EventType> SampleOrder();

} // namespace tracering::test

#endif // TRACERING_TESTS_EVENT_SAMPLES_H
