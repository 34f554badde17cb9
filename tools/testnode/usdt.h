// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTNODE_USDT_H
#define TRACERING_TESTNODE_USDT_H

//! @file
//! TESTNODE_TRACEPOINT(context, event, ...) fires the tracering tracepoint and, in a build
//! with -DTRACERING_TESTNODE_USDT=ON, also the USDT probe of the same name and arguments,
//! defined exactly as Bitcoin Core's src/util/trace.h does it: a semaphore per probe named
//! <context>_<event>_semaphore in section .probes, and STAP_PROBEV only while a tracer
//! (bpftrace, BCC, libbpf) has raised it. So one binary can be traced both ways and the
//! two compared.
//!
//! Each probe fired needs TESTNODE_USDT_SEMAPHORE(context, event) once at file scope.

#include <tracering/tracepoint.h>

#ifdef TRACERING_TESTNODE_USDT

// Enables the variadic STAP_PROBEV, and probe notes that reference the semaphores.
#define SDT_USE_VARIADIC 1
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#define TESTNODE_USDT_SEMAPHORE(context, event)                                                    \
    unsigned short context##_##event##_semaphore __attribute__((section(".probes")))
#define TESTNODE_USDT_ACTIVE(context, event) (context##_##event##_semaphore > 0)
#define TESTNODE_USDT(context, event, ...)                                                         \
    do {                                                                                           \
        if (TESTNODE_USDT_ACTIVE(context, event)) {                                                \
            STAP_PROBEV(context, event __VA_OPT__(, ) __VA_ARGS__);                                \
        }                                                                                          \
    } while (0)

#else

#define TESTNODE_USDT_SEMAPHORE(context, event) static_assert(true)
#define TESTNODE_USDT(context, event, ...)                                                         \
    do {                                                                                           \
    } while (0)

#endif // TRACERING_TESTNODE_USDT

#define TESTNODE_TRACEPOINT(context, event, ...)                                                   \
    do {                                                                                           \
        TRACERING_TRACEPOINT(context, event, __VA_ARGS__);                                         \
        TESTNODE_USDT(context, event, __VA_ARGS__);                                                \
    } while (0)

#endif // TRACERING_TESTNODE_USDT_H
