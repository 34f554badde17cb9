// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_PATHS_H
#define TRACERING_TESTS_PATHS_H

//! Where the programs and files the tests run lie, as absolute paths of this build.
//!
//! They are defined in tests/paths.cpp, the only test source compiled with them (its
//! COMPILE_DEFINITIONS, set in tests/CMakeLists.txt and the files it includes). Every other
//! test source then compiles to the same command line in any build folder, so a build in a
//! new folder takes them from ccache (cmake/TraceringCcache.cmake). A test that uses a path
//! its configuration does not build fails to link rather than to run.

namespace tracering::test::paths {

extern const char* const TEST_HELPER; //!< tracering_test_helper (tests/test_helper.cpp)
//! Mainnet block 413567, serialized (tests/fixtures/README.md).
extern const char* const BLOCK413567;
//! peer-observer's .proto files the extractor's conversion follows (tools/extractor/proto).
extern const char* const EXTRACTOR_PROTO;
// With TRACERING_BUILD_TOOLS:
extern const char* const TESTNODE;               //!< tracering-testnode
extern const char* const LOADGEN;                //!< tracering-loadgen
extern const char* const RINGDUMP;               //!< ringdump
extern const char* const RINGDUMP_TEST_PRODUCER; //!< tests/e2e/ringdump/producer.cpp
extern const char* const DEMO;                   //!< tracering-demo
//! The schema evolution programs (tests/evolution/), built against schema v1 and v2.
extern const char* const EVOLUTION_PRODUCER_V1;
extern const char* const EVOLUTION_PRODUCER_V2;
extern const char* const EVOLUTION_CONSUMER_V1;
extern const char* const EVOLUTION_CONSUMER_V2;

} // namespace tracering::test::paths

#endif // TRACERING_TESTS_PATHS_H
