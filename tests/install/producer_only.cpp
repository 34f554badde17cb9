// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Links tracering::producer alone, as a node would: the producer's headers and library must
// need nothing beyond the standard library (no FlatBuffers include path, no FlatBuffers link).

#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <cstdio>

int main()
{
    // No producer is installed, so the tracepoint is off and its arguments are not evaluated.
    bool evaluated = false;
    auto touch = [&] {
        evaluated = true;
        return 1;
    };
    TRACERING_TRACEPOINT(mempool, added, nullptr, touch(), 0);
    if (evaluated || tracering::Producer::Global() != nullptr) {
        std::fprintf(stderr, "install test (producer only): FAILED: inactive tracepoint ran\n");
        return 1;
    }
    std::printf("install test (producer only): ok\n");
    return 0;
}
