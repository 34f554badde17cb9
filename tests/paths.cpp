// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "paths.h"

namespace tracering::test::paths {

const char* const TEST_HELPER = TRACERING_PATH_TEST_HELPER;
const char* const BLOCK413567 = TRACERING_PATH_BLOCK413567;
const char* const EXTRACTOR_PROTO = TRACERING_PATH_EXTRACTOR_PROTO;
#ifdef TRACERING_PATH_TESTNODE
const char* const TESTNODE = TRACERING_PATH_TESTNODE;
const char* const LOADGEN = TRACERING_PATH_LOADGEN;
const char* const RINGDUMP = TRACERING_PATH_RINGDUMP;
const char* const RINGDUMP_TEST_PRODUCER = TRACERING_PATH_RINGDUMP_TEST_PRODUCER;
const char* const DEMO = TRACERING_PATH_DEMO;
const char* const EVOLUTION_PRODUCER_V1 = TRACERING_PATH_EVOLUTION_PRODUCER_V1;
const char* const EVOLUTION_PRODUCER_V2 = TRACERING_PATH_EVOLUTION_PRODUCER_V2;
const char* const EVOLUTION_CONSUMER_V1 = TRACERING_PATH_EVOLUTION_CONSUMER_V1;
const char* const EVOLUTION_CONSUMER_V2 = TRACERING_PATH_EVOLUTION_CONSUMER_V2;
#endif

} // namespace tracering::test::paths
