// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// The probes of lttng_provider.h, built into libtracering_bench_lttng.so (linked with
// liblttng-ust); lttng_bench.cpp loads it with dlopen.

#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "lttng_provider.h"
